"""The sharing migrations build on SQLite (the embedded default) exactly the tables the models declare;
PostgreSQL is covered by every integration test, whose database is migrated the same way."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

from services.kit.migrations import KIT_TABLES, upgrade
from services.sharing.tables import TABLES


def test_sqlite_migration_matches_the_models(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "sharing.db"
    upgrade("sharing", f"sqlite+aiosqlite:///{path}")
    engine = sa.create_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as connection:
            assert {"sharing_batch", "sharing_record"} <= set(sa.inspect(connection).get_table_names())
            owned = TABLES | KIT_TABLES

            # Other services' tables share SQLModel.metadata when their tests run in the same session.
            def include_object(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
                table = obj if type_ == "table" else getattr(obj, "table", None)
                return table is None or table.name in owned

            context = MigrationContext.configure(
                connection, opts={"include_object": include_object, "compare_type": True}
            )
            assert compare_metadata(context, SQLModel.metadata) == []
    finally:
        engine.dispose()
