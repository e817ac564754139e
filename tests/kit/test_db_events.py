"""After-commit work runs once per real commit, not when a savepoint is released."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from services.kit.db import Database


async def test_on_commit_runs_after_the_commit_only(tmp_path: Path) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'events.db'}")
    seen: list[str] = []
    db.on_commit(lambda session: seen.append(str(session.info.get("mark"))))
    try:
        async with db.sessionmaker() as session:
            async with session.begin():
                session.info["mark"] = "outer"
                async with session.begin_nested():
                    await session.execute(sa.text("SELECT 1"))
                assert seen == []  # the savepoint's release is no commit
            assert seen == ["outer"]
            async with session.begin():
                await session.execute(sa.text("SELECT 1"))
                await session.rollback()
        assert seen == ["outer"]  # a rollback is no commit either
    finally:
        await db.dispose()
