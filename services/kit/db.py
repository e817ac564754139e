"""The async engine, the request-scoped session that commits at the edge, and portable column types."""

from __future__ import annotations

import logging
import types
import typing
import uuid
from collections.abc import AsyncIterator, Callable, Collection, Sequence
from dataclasses import fields
from datetime import UTC, date, datetime
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import Depends, Request
from sqlalchemy import event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import ORMExecuteState, Session
from sqlalchemy.sql.compiler import SQLCompiler

from .errors import COMMITTED_STATE, CommitOutcomeUnknown, DomainError, is_infrastructure_error

log = logging.getLogger(__name__)


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back timezone-aware, on SQLite too."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; instants are UTC-aware")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Database:
    """Owns one engine and its session factories (for transactions, and for reads); created in the
    lifespan, never at import."""

    def __init__(self, url: str, *, pool_size: int = 20) -> None:
        self.url = url
        self.is_postgres = url.startswith("postgresql")
        kwargs: dict[str, Any] = {}
        if self.is_postgres:
            # Up to `pool_size` connections, opened as needed and all kept: no overflow beyond a
            # pool kept smaller. SQLAlchemy closes an overflow connection as soon as it comes back
            # to a full pool, and under 16 concurrent look-ups a pool of 10 (with 10 overflow) was
            # opening 27 connections a second, each a PostgreSQL backend to start and its
            # statements to prepare again: more of PostgreSQL's CPU than the look-ups themselves.
            kwargs.update(pool_size=pool_size, max_overflow=0, pool_pre_ping=False)
        self.engine: AsyncEngine = create_async_engine(url, **kwargs)
        if url.startswith("sqlite"):
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
            event.listen(self.engine.sync_engine, "begin", _sqlite_begin)
        # A session class of this database's own, so the after-commit listeners below hear the
        # commits of this engine's sessions only (requests, consumers, sweeps, tools alike).
        session_class = type("DatabaseSession", (Session,), {})
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False, sync_session_class=session_class)
        self._session_class = session_class
        # Sessions of routes that only read (`ReadSessionDep`): on PostgreSQL without a transaction,
        # each statement on its own, which saves a BEGIN and a COMMIT round trip (and the commit's
        # work) per request. They refuse to write: a write there would commit without its outbox.
        read_class = type("DatabaseReadSession", (Session,), {})
        event.listen(read_class, "do_orm_execute", _refuse_writes)
        event.listen(read_class, "before_flush", _refuse_flush)
        read_engine = self.engine.execution_options(isolation_level="AUTOCOMMIT") if self.is_postgres else self.engine
        self.read_sessionmaker = async_sessionmaker(read_engine, expire_on_commit=False, sync_session_class=read_class)

    def on_commit(self, callback: Callable[[Session], None]) -> None:
        """Run `callback(session)` after every commit of a session of this database (wake the relay,
        evict a cache): a SQLAlchemy `after_commit` event, so no commit path has to remember it.
        `session.info` is the same dict the async session shows. Releasing a savepoint is no commit:
        SQLAlchemy fires `after_commit` for it too, and the callback is not run then."""

        def after_commit(session: Session) -> None:
            if not session.in_nested_transaction():
                callback(session)

        event.listen(self._session_class, "after_commit", after_commit)

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(sa.text("SELECT 1"))

    async def autovacuum_off(self) -> bool:
        """Whether this is a PostgreSQL server running without autovacuum (never so for SQLite)."""
        if not self.is_postgres:
            return False
        async with self.engine.connect() as conn:
            return bool(await conn.scalar(sa.text("SHOW autovacuum")) == "off")

    async def dispose(self) -> None:
        await self.engine.dispose()


class ReadOnlySession(RuntimeError):
    """A read session (`ReadSessionDep`) was asked to write: a bug in the route, never the caller's."""


def _refuse_writes(state: ORMExecuteState) -> None:
    if not state.is_select:
        raise ReadOnlySession(f"a read session cannot run {type(state.statement).__name__}")


def _refuse_flush(session: Session, *_: Any) -> None:
    if session.new or session.dirty or session.deleted:
        raise ReadOnlySession("a read session cannot write rows")


def _sqlite_pragmas(dbapi_connection: Any, _: Any) -> None:
    # SQLAlchemy's documented recipe: the driver emits no BEGIN of its own (it would start the
    # transaction late, so a first SAVEPOINT would open it and its RELEASE commit it) ...
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _sqlite_begin(connection: Any) -> None:
    # ... and every transaction takes the write lock at once: SQLite ignores FOR UPDATE, so this is
    # what keeps read-then-write rules (versions, open registrations) serial on the embedded default.
    connection.exec_driver_sql("BEGIN IMMEDIATE")


BEFORE_COMMIT_HOOKS = "before_commit_hooks"
AFTER_COMMIT_CALLBACKS = "after_commit_callbacks"


def after_commit(session: AsyncSession | Session, callback: Callable[[], None]) -> None:
    """Run `callback()` once the caller's transaction commits, and never if it rolls back: for
    effects outside the database that must not count what did not happen (a metric, say)."""
    session.info.setdefault(AFTER_COMMIT_CALLBACKS, []).append(callback)


@event.listens_for(Session, "after_commit")
def _run_after_commit(session: Session) -> None:
    if session.in_nested_transaction():
        return
    for callback in session.info.pop(AFTER_COMMIT_CALLBACKS, ()):
        try:
            callback()
        except Exception:
            log.exception("after-commit callback failed")


@event.listens_for(Session, "after_soft_rollback")
def _drop_after_commit(session: Session, previous_transaction: Any) -> None:
    if not previous_transaction.nested:
        session.info.pop(AFTER_COMMIT_CALLBACKS, None)


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """The request owns the transaction: commit on success, roll back on error.

    Everything but the COMMIT itself is sent first (pending rows, outbox rows, the idempotency
    marker), so a failure there is a known rollback; a connection lost during the COMMIT leaves the
    outcome unknown, and the caller is told so (`commit-outcome-unknown`) rather than that nothing
    changed."""
    db: Database = request.app.state.db
    state = request.scope.setdefault("state", {})
    refusal: DomainError | None = None
    async with db.sessionmaker() as session:
        try:
            try:
                yield session
            except DomainError as exc:
                if not exc.commits:
                    raise
                refusal = exc
            await session.flush()
            for hook in state.get(BEFORE_COMMIT_HOOKS, ()):
                await hook(session)
            await session.run_sync(flush_before_commit)
        except BaseException:
            await _rollback_quietly(session)
            raise
        try:
            await session.commit()
        except BaseException as exc:
            await _rollback_quietly(session)
            if isinstance(exc, Exception) and is_infrastructure_error(exc):
                raise CommitOutcomeUnknown(
                    "The database connection failed while the change was being committed, so it may or may not "
                    "have been saved. Retry with the same Idempotency-Key to learn the outcome, or read the resource."
                ) from exc
            raise
    state[COMMITTED_STATE] = True
    if refusal is not None:
        raise refusal


_before_commit_writers: list[Callable[[Any], None]] = []


def before_commit_writer(writer: Callable[[Any], None]) -> Callable[[Any], None]:
    """Registers a sync `writer(session)` that `get_session` runs just before COMMIT (the outbox's
    multi-row insert); it also runs from SQLAlchemy's before_commit event for other transactions."""
    _before_commit_writers.append(writer)
    return writer


def flush_before_commit(session: Any) -> None:
    for writer in _before_commit_writers:
        writer(session)


async def _rollback_quietly(session: AsyncSession) -> None:
    # With the connection gone the rollback fails too; the original error is the one to report.
    try:
        await session.rollback()
    except Exception as exc:
        log.warning("rollback failed", extra={"error": repr(exc)[:200]})


# scope="function": the commit happens before the response is sent, so a failed commit is
# reported to the caller instead of after a 2xx has gone out.
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]


async def get_read_session(request: Request) -> AsyncIterator[AsyncSession]:
    """The session of a route that only reads: no transaction on PostgreSQL (see `Database`),
    nothing to commit; any statement but a SELECT through it (a `text()` one too, whatever it says)
    raises `ReadOnlySession`. Each statement sees what was committed when it began, as in the kit's
    transactions (READ COMMITTED, PostgreSQL's default), so a read of one statement shows one moment
    either way. A route that writes, or that must write an audit entry with what it reads, takes
    `SessionDep`."""
    db: Database = request.app.state.db
    async with db.read_sessionmaker() as session:
        yield session


ReadSessionDep = Annotated[AsyncSession, Depends(get_read_session, scope="function")]


def local_settings(**values: str) -> tuple[sa.ColumnElement[Any], ...]:
    """PostgreSQL settings for the rest of the transaction (`SET LOCAL`), as the columns of a select:
    several in one statement, or alongside what a statement reads anyway (the outbox relay's round)."""
    return tuple(sa.func.set_config(name, value, True) for name, value in values.items())


_SERIAL_PLANS = sa.select(*local_settings(max_parallel_workers_per_gather="0"))


async def serial_plans(session: AsyncSession) -> None:
    """For the rest of the transaction (PostgreSQL; nothing elsewhere), no parallel workers: for a
    background count (a gauge refreshed on a timer), which must not take every core from the
    requests. The registry's indicator gauges at 1,000,000 persons scanned the persons several
    times with two workers each: 1.4-2.2 s of CPU within about a second, both cores of the bench
    machine, and the look-ups of that second waited (bench section 10). Serial, it takes one core."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(_SERIAL_PLANS)


# No sequential scan where an index can serve, and no JIT: with sequential scans disabled, a table
# no index can serve still costs 10^10 (PostgreSQL up to 17), far above `jit_above_cost`.
LOOKUP_SETTINGS = {"enable_seqscan": "off", "jit": "off"}
_LOOKUP_PLANS = sa.select(*local_settings(**LOOKUP_SETTINGS))


async def lookup_plans(session: AsyncSession) -> None:
    """For the rest of the transaction (PostgreSQL; nothing elsewhere), plans that read by key
    (`LOOKUP_SETTINGS`), whatever the tables' statistics say.

    For a consumer's events, whose statements read and write by key, and whose tables grow fastest
    exactly when their statistics are oldest: a bulk load into a fresh projection. From a prepared
    statement's sixth execution PostgreSQL may switch to a generic plan, made once for all values,
    and keeps it until the table is analysed. Made while a projection's table was nearly empty,
    that plan read the table whole for every batch: in a 40,000-record load, about 1,000
    sequential scans of each of the subsidy's and sharing's person and category tables, tens of
    millions of rows, until the first analysis at the end. A generic plan made under these
    settings is the index's, and it stays with the connection after the transaction: a read by
    key elsewhere on that connection (a request's) reuses it, which for a read by key is what it
    would choose anyway. (The outbox relay's `steady_plans` go further, without bitmap scans and
    sorts: its claims must be ordered index scans.)"""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(_LOOKUP_PLANS)


def among(session: AsyncSession, column: Any, values: Collection[Any]) -> sa.ColumnElement[bool]:
    """`column IN values`; on PostgreSQL as `column = ANY($1)` with the values in one array
    parameter. An IN list is compiled into a bind parameter per value on every execution: for a
    page of 500 people's registrations, employments and trainings that was more CPU than the
    queries. For uuid keys: on a text column with statistics (the facts' `subject_ref`) PostgreSQL
    estimates an array parameter value by value at every execution, and the registry's fact
    batches were slower with it (2026-12-05); those keep the IN list."""
    if session.get_bind().dialect.name == "postgresql":
        return column == sa.any_(sa.literal(list(values), type_=postgresql.ARRAY(column.type)))
    return column.in_(values)


class _JsonRows(sa.sql.functions.GenericFunction[Any]):
    """The aggregate of `rows_as_json`, compiled for each dialect below."""

    type = sa.JSON()
    name = "json_rows"
    inherit_cache = True


@compiles(_JsonRows, "postgresql")
def _json_rows_postgresql(element: _JsonRows, compiler: SQLCompiler, **kw: Any) -> str:
    # No row: NULL (read as []), which the driver hands over without a JSON decode.
    return f"json_agg(json_build_array({compiler.process(element.clauses, **kw)}))"


@compiles(_JsonRows, "sqlite")
def _json_rows_sqlite(element: _JsonRows, compiler: SQLCompiler, **kw: Any) -> str:
    # A JSON column is text on SQLite: json() nests it as JSON instead of as a string.
    values = [
        f"json({compiler.process(c, **kw)})" if _is_json(c.type) else compiler.process(c, **kw) for c in element.clauses
    ]
    return f"json_group_array(json_array({', '.join(values)}))"


def _is_json(column_type: sa.types.TypeEngine[Any]) -> bool:
    return isinstance(getattr(column_type, "impl_instance", column_type), sa.JSON)


def rows_as_json(columns: Sequence[sa.ColumnElement[Any]], where: sa.ColumnElement[bool]) -> sa.ScalarSelect[Any]:
    """A scalar subquery: the rows of `columns` that match `where`, as one JSON array of arrays (for
    none NULL or `[]`, by dialect; in no particular order). Correlated to an outer query through
    `where`, it reads a row's dependent rows in the same statement: a person's page with their
    registrations, trainings and facts is one statement and one round trip instead of one per
    table, which in a look-up cost more CPU than the look-up itself. `json_rows_reader` turns the
    arrays back into typed rows."""
    return sa.select(_JsonRows(*columns)).where(where).scalar_subquery()


def json_rows_reader(view: type[Any]) -> Callable[[list[list[Any]] | None], list[Any]]:
    """Makes the `view` (a dataclass whose fields are `rows_as_json`'s columns, in order) of each
    array: JSON has strings where the columns had uuids, dates and instants (and SQLite its own
    text forms of them), read back here by the fields' types. A field of another type than those,
    `str`, `int`, `dict` and `list` is refused when the reader is made: JSON would bring a bool back
    as 0 or 1 from SQLite, a Decimal as a float."""
    hints = typing.get_type_hints(view)
    converters = [_from_json(hints[f.name]) for f in fields(view)]

    def read(rows: list[list[Any]] | None) -> list[Any]:
        if not rows:
            return []
        return [view(*(convert(value) for convert, value in zip(converters, row, strict=True))) for row in rows]

    return read


def _from_json(annotation: Any) -> Callable[[Any], Any]:
    optional = typing.get_origin(annotation) in (typing.Union, types.UnionType)
    kinds = [a for a in typing.get_args(annotation) if a is not type(None)] if optional else [annotation]
    kind = (typing.get_origin(kinds[0]) or kinds[0]) if len(kinds) == 1 else None
    if kind in (str, int, dict, list):
        return lambda value: value
    readers: dict[Any, Callable[[Any], Any]] = {
        uuid.UUID: uuid.UUID,
        date: date.fromisoformat,
        datetime: _instant_from_json,
    }
    convert = readers.get(kind)
    if convert is None:
        raise TypeError(f"no JSON reader for a field of type {annotation}")
    return lambda value: None if value is None else convert(value)


def _instant_from_json(value: str) -> datetime:
    """An instant as PostgreSQL's JSON writes a timestamptz (ISO with its offset) or as SQLite keeps
    a `UTCDateTime` (ISO with a space, UTC, no offset): UTC-aware, as `UTCDateTime` reads it."""
    instant = datetime.fromisoformat(value)
    return instant.replace(tzinfo=UTC) if instant.tzinfo is None else instant.astimezone(UTC)


def insert_for(session: AsyncSession, table: Any) -> Any:
    """An INSERT with the dialect's ON CONFLICT clauses (PostgreSQL or SQLite) for the session's database."""
    target = getattr(table, "__table__", table)
    return postgresql.insert(target) if session.get_bind().dialect.name == "postgresql" else sqlite.insert(target)


async def upsert(
    session: AsyncSession,
    table: type[Any],
    rows: list[dict[str, Any]],
    *,
    key: Sequence[str],
    update: Sequence[str] | None = None,
    keep_existing: bool = False,
) -> None:
    """Insert `rows` into `table`, or overwrite the `update` columns (default: every column but the
    key) of the row with the same `key` (its primary key or a unique index); with `keep_existing`,
    leave such a row as it is. One statement for all the rows on PostgreSQL and SQLite, in key order, so two
    transactions upserting overlapping rows lock them in the same order (no deadlock). Within
    `rows` the last one of a key wins."""
    if not rows:
        return
    by_key = {tuple(row[name] for name in key): row for row in rows}
    last = [by_key[k] for k in sorted(by_key)]
    columns = [] if keep_existing else list(update or [name for name in last[0] if name not in key])
    insert = insert_for(session, table)
    statement = (
        insert.on_conflict_do_update(index_elements=list(key), set_={name: insert.excluded[name] for name in columns})
        if columns
        else insert.on_conflict_do_nothing(index_elements=list(key))
    )
    # One statement compiled once (and cached), the rows as its parameter sets: the driver executes
    # the one prepared statement for every row (asyncpg pipelines them). A `.values(rows)` statement
    # is compiled afresh for every call, which cost more CPU than the database's work.
    await session.execute(statement, last)
