"""Each service's migrations build on SQLite (the embedded default) exactly the tables its models
declare, the kit's included; PostgreSQL is covered by every integration test, whose database is
migrated the same way."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

from services.kit.migrations import KIT_TABLES, upgrade
from services.registry.tables import TABLES as REGISTRY_TABLES
from services.sharing.tables import TABLES as SHARING_TABLES
from services.subsidy.tables import TABLES as SUBSIDY_TABLES

OWNED = {"registry": REGISTRY_TABLES, "sharing": SHARING_TABLES, "subsidy": SUBSIDY_TABLES}


@pytest.mark.parametrize("service", sorted(OWNED))
def test_sqlite_migration_matches_the_models(tmp_path: Path, service: str) -> None:
    path = tmp_path / "nested" / f"{service}.db"
    upgrade(service, f"sqlite+aiosqlite:///{path}")
    engine = sa.create_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as connection:
            owned = set(OWNED[service]) | KIT_TABLES
            assert owned <= set(sa.inspect(connection).get_table_names())

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
