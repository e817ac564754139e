"""Each service's migrations build on SQLite (the embedded default) exactly the tables its models
declare, the kit's included; PostgreSQL is covered by every integration test, whose database is
migrated the same way."""

from __future__ import annotations

import asyncio
import sys
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
from tests.support import ROOT, PostgresDatabases, query

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


@pytest.mark.integration
async def test_replicas_migrating_one_postgres_database_at_once_all_succeed(databases: PostgresDatabases) -> None:
    """Four replicas' init containers start together (four processes: alembic's context is one per
    process): the advisory lock lines them up, so none fails on a table another has just created,
    and the database ends at head once."""
    url = await databases.create("migrate-race")
    code = f"from services.kit.migrations import upgrade; upgrade('subsidy', {url!r})"
    runs = [
        await asyncio.create_subprocess_exec(
            sys.executable, "-c", code, cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
        )
        for _ in range(4)
    ]
    outputs = [(await asyncio.wait_for(run.communicate(), 120))[0].decode() for run in runs]
    assert [run.returncode for run in runs] == [0, 0, 0, 0], outputs
    versions = await query(url, "SELECT version_num FROM alembic_version")
    assert len(versions) == 1
