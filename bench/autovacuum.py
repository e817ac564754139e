"""Autovacuum's defaults, played by the bench when the server runs without autovacuum.

This machine's PostgreSQL has `autovacuum = off` (the CI image's `conf.d/90-ci.conf`); a deployment
has it on, PostgreSQL's default. Without it a table that a bulk load fills never gets statistics,
and the planner reads it whole: right after a 100,000-record dibao load, the registry's facts of a
page of 500 people took a sequential scan of 57 ms, and 3.2 ms once the table was analysed
(2026-12-06). So that the figures are a deployment's, when the server's autovacuum is off the bench
does what autovacuum's defaults would do, and says so: every `autovacuum_naptime`, in each of its
databases, it vacuums a table whose dead rows (or rows inserted since its last vacuum) exceed
autovacuum's threshold plus its scale factor times the table's rows, and analyses one whose changed
rows since its last analysis exceed the analyse threshold likewise. The thresholds are read from the
server's own settings (not a table's own storage parameters). Unlike autovacuum, it is not throttled
by a cost delay, nor cancelled when another statement needs a conflicting lock; it visits the
services' and the bare app's databases, not the relay section's.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from dataclasses import dataclass, field

import asyncpg

SETTINGS = (
    "autovacuum",
    "autovacuum_naptime",
    "autovacuum_vacuum_threshold",
    "autovacuum_vacuum_scale_factor",
    "autovacuum_vacuum_insert_threshold",
    "autovacuum_vacuum_insert_scale_factor",
    "autovacuum_analyze_threshold",
    "autovacuum_analyze_scale_factor",
)
TABLES = """
SELECT format('%I.%I', s.schemaname, s.relname) AS name, greatest(c.reltuples, 0) AS rows,
       s.n_dead_tup, s.n_ins_since_vacuum, s.n_mod_since_analyze
FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid
"""


@dataclass
class AutovacuumStandIn:
    """Runs autovacuum's rounds over `dsns` while started; `done` counts what it ran, by kind."""

    dsns: list[str]
    settings: dict[str, str]
    done: Counter[str] = field(default_factory=Counter)
    task: asyncio.Task[None] | None = None

    @classmethod
    async def needed(cls, admin_dsn: str, dsns: list[str]) -> AutovacuumStandIn | None:
        """A stand-in when the server's autovacuum is off, else None (the server does the work)."""
        conn = await asyncpg.connect(admin_dsn)
        try:
            rows = await conn.fetch("SELECT name, setting FROM pg_settings WHERE name = ANY($1)", list(SETTINGS))
        finally:
            await conn.close()
        settings = {r["name"]: r["setting"] for r in rows}
        return None if settings["autovacuum"] == "on" else cls(dsns, settings)

    def start(self) -> None:
        print(
            "autovacuum is off on this server: the bench runs its rounds itself, every "
            f"{self.settings['autovacuum_naptime']} s with the server's thresholds (bench/autovacuum.py)"
        )
        self.task = asyncio.create_task(self._run(), name="autovacuum-stand-in")

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            # Never raises: the run's clean-up (services, broker, databases) comes after this.
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.task
            self.task = None

    def summary(self) -> str:
        return ", ".join(f"{count} {kind}" for kind, count in sorted(self.done.items())) or "nothing to do"

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(float(self.settings["autovacuum_naptime"]))
            for dsn in self.dsns:
                # A failed round (a table dropped meanwhile, a lock) is counted and the next goes on,
                # as autovacuum goes on: the task never ends with an error for `stop` to raise.
                try:
                    await self.round(dsn)
                except (OSError, asyncpg.PostgresError) as exc:
                    self.done[f"failed rounds ({type(exc).__name__})"] += 1

    async def round(self, dsn: str) -> None:
        """One of autovacuum's visits to a database."""
        s = {name: float(value) for name, value in self.settings.items() if name != "autovacuum"}
        conn = await asyncpg.connect(dsn)
        try:
            for table in await conn.fetch(TABLES):
                rows = float(table["rows"])
                inserts = s["autovacuum_vacuum_insert_threshold"]  # -1: no vacuum for inserts
                vacuum = table["n_dead_tup"] > (
                    s["autovacuum_vacuum_threshold"] + s["autovacuum_vacuum_scale_factor"] * rows
                ) or (
                    inserts >= 0
                    and table["n_ins_since_vacuum"] > inserts + s["autovacuum_vacuum_insert_scale_factor"] * rows
                )
                analyze = table["n_mod_since_analyze"] > (
                    s["autovacuum_analyze_threshold"] + s["autovacuum_analyze_scale_factor"] * rows
                )
                name = table["name"]  # schema and table, quoted by format('%I.%I')
                if vacuum:
                    await conn.execute(f"VACUUM {'(ANALYZE) ' if analyze else ''}{name}")
                    self.done["vacuums"] += 1
                if analyze:
                    if not vacuum:
                        await conn.execute(f"ANALYZE {name}")
                    self.done["analyses"] += 1
        finally:
            await conn.close()
