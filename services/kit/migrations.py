"""Alembic plumbing shared by the services: each service keeps its own versions folder and
migrates only its own tables plus the kit's (outbox, inbox, idempotency)."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command, context
from alembic.config import Config
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine
from sqlmodel import SQLModel

from . import idempotency, inbox, outbox

KIT_TABLES = frozenset(
    {
        outbox.OutboxMessage.__tablename__,
        outbox.OutboxCluster.__tablename__,
        inbox.InboxEntry.__tablename__,
        inbox.ConsumerPosition.__tablename__,
        outbox.OutboxPosition.__tablename__,
        idempotency.IdempotencyRecord.__tablename__,
    }
)
SERVICES_DIR = Path(__file__).resolve().parent.parent


def alembic_config(service: str, url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(SERVICES_DIR / service / "migrations"))
    config.set_main_option("sqlalchemy.url", url)
    return config


# The advisory lock key of migrations in each service's own database ("rcmigrat" as an integer).
MIGRATION_LOCK = int.from_bytes(b"rcmigrat", "big") & 0x7FFFFFFFFFFFFFFF


def upgrade(service: str, url: str) -> None:
    """Migrate a service's database to head (creates SQLite parent folders)."""
    if url.startswith("sqlite") and ":///" in url:
        Path(url.split(":///", 1)[1]).parent.mkdir(parents=True, exist_ok=True)
    command.upgrade(alembic_config(service, url), "head")


def run_env(service_tables: Iterable[str], *, include_kit_tables: bool = True) -> None:
    """Body of every service's `migrations/env.py`."""
    tables = (KIT_TABLES if include_kit_tables else frozenset()) | set(service_tables)

    def include_name(name: str | None, type_: str, _: Any) -> bool:
        return type_ != "table" or name in tables

    # include_name filters what is reflected from the database, include_object what the models hold.
    def include_object(_: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
        return type_ != "table" or name in tables

    url = context.config.get_main_option("sqlalchemy.url")
    assert url is not None

    def run(connection: Connection) -> None:
        context.configure(
            connection=connection,
            target_metadata=SQLModel.metadata,
            include_name=include_name,
            include_object=include_object,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            if connection.dialect.name == "postgresql":
                # Replicas starting together migrate one after another: the first takes the lock
                # and migrates, the others wait for its commit and find the database at head.
                connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
            context.run_migrations()

    async def run_async() -> None:
        engine = create_async_engine(url)
        async with engine.connect() as connection:
            await connection.run_sync(run)
            await connection.commit()
        await engine.dispose()

    if context.is_offline_mode():
        context.configure(
            url=url,
            target_metadata=SQLModel.metadata,
            include_name=include_name,
            include_object=include_object,
            literal_binds=True,
        )
        with context.begin_transaction():
            context.run_migrations()
    else:
        asyncio.run(run_async())


def autogenerate(service: str, message: str) -> None:
    """Write a new revision for a service by diffing its tables against a scratch SQLite database."""
    import tempfile

    with tempfile.TemporaryDirectory() as scratch:
        url = f"sqlite+aiosqlite:///{scratch}/scratch.db"
        upgrade(service, url)
        command.revision(alembic_config(service, url), message=message, autogenerate=True)


USAGE = """usage:
  python -m services.kit.migrations upgrade <service> <database-url>
  python -m services.kit.migrations revision <service> <message>"""

if __name__ == "__main__":
    match sys.argv[1:]:
        case ["upgrade", service, url]:
            upgrade(service, url)
        case ["revision", service, message]:
            autogenerate(service, message)
        case _:
            sys.exit(USAGE)


def kit_reliability_upgrade(service: str) -> None:
    """Kit schema step shared by the services' migrations (issue 5): the inbox keyed by consumer
    group and holding each event's digest, the idempotency marker stamped at commit, and the broker
    clusters an outbox has published to."""
    import sqlalchemy as sa
    from alembic import op
    from sqlmodel.sql.sqltypes import AutoString

    from .db import UTCDateTime

    with op.batch_alter_table("inbox_entry") as batch:
        batch.add_column(sa.Column("payload_sha256", AutoString(), nullable=True))
    # Entries were keyed by the consumer's short name; the group with the default (empty) prefix is
    # `<service>.<consumer>`.
    op.execute(
        sa.text("UPDATE inbox_entry SET consumer = :prefix || consumer WHERE consumer NOT LIKE :dotted").bindparams(
            prefix=f"{service}.", dotted="%.%"
        )
    )
    with op.batch_alter_table("idempotency_record") as batch:
        batch.add_column(sa.Column("committed_at", UTCDateTime(timezone=True), nullable=True))
    op.create_table(
        "outbox_cluster",
        sa.Column("cluster_id", AutoString(), nullable=False),
        sa.Column("adopted_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("resent", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("cluster_id"),
    )


def kit_reliability_downgrade() -> None:
    from alembic import op

    op.drop_table("outbox_cluster")
    with op.batch_alter_table("idempotency_record") as batch:
        batch.drop_column("committed_at")
    with op.batch_alter_table("inbox_entry") as batch:
        batch.drop_column("payload_sha256")


def kit_progress_upgrade() -> None:
    """Kit schema step shared by the services' migrations (issue 7): how far an outbox has published
    (per partition, for its watermarks) and how far each consumer group has applied."""
    import sqlalchemy as sa
    from alembic import op
    from sqlmodel.sql.sqltypes import AutoString

    from .db import UTCDateTime

    op.create_table(
        "outbox_position",
        sa.Column("topic", AutoString(), nullable=False),
        sa.Column("partition", sa.Integer(), nullable=False),
        sa.Column("next_offset", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("topic", "partition"),
    )
    if op.get_bind().dialect.name == "postgresql":
        # Outbox rows take `created_at` from the database's clock, as the relay's watermarks do.
        op.alter_column("outbox_message", "created_at", server_default=sa.text("now()"))
    op.create_table(
        "consumer_position",
        sa.Column("consumer", AutoString(), nullable=False),
        sa.Column("topic", AutoString(), nullable=False),
        sa.Column("partition", sa.Integer(), nullable=False),
        sa.Column("next_offset", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("consumer", "topic", "partition"),
    )


def kit_progress_downgrade() -> None:
    from alembic import op

    op.drop_table("consumer_position")
    op.drop_table("outbox_position")
    if op.get_bind().dialect.name == "postgresql":
        op.alter_column("outbox_message", "created_at", server_default=None)


def kit_trace_context_upgrade() -> None:
    """Kit schema step shared by the services' migrations (issue 10): the W3C `traceparent` of the
    request or event that wrote an outbox row, sent with it as a Kafka header."""
    import sqlalchemy as sa
    from alembic import op
    from sqlmodel.sql.sqltypes import AutoString

    op.add_column("outbox_message", sa.Column("traceparent", AutoString(), nullable=True))


def kit_trace_context_downgrade() -> None:
    from alembic import op

    with op.batch_alter_table("outbox_message") as batch:
        batch.drop_column("traceparent")


def kit_relay_indexes_upgrade() -> None:
    """Kit schema step shared by the services' migrations (issue 11): the relay reads partial
    indexes as small as its backlog (unsent ids, each key's unsent rows, the rows waiting for a
    retry) instead of a whole-table index on `key`, and the purge one of sent rows only. On a large
    outbox, create them CONCURRENTLY by hand before upgrading: the statements below skip an index
    that exists."""
    import sqlalchemy as sa
    from alembic import op

    unsent = sa.text("sent_at IS NULL")
    for name, columns, where in (
        ("ix_outbox_message_unsent_id", ["id"], unsent),
        ("ix_outbox_message_unsent_key", ["key", "id"], unsent),
        ("ix_outbox_message_retry", ["key"], sa.text("sent_at IS NULL AND next_attempt_at IS NOT NULL")),
        ("ix_outbox_message_sent", ["sent_at"], sa.text("sent_at IS NOT NULL")),
    ):
        op.create_index(name, "outbox_message", columns, postgresql_where=where, sqlite_where=where, if_not_exists=True)
    op.drop_index("ix_outbox_message_key", table_name="outbox_message")
    op.drop_index("ix_outbox_message_unsent", table_name="outbox_message")


def kit_relay_indexes_downgrade() -> None:
    from alembic import op

    op.create_index("ix_outbox_message_key", "outbox_message", ["key"])
    op.create_index("ix_outbox_message_unsent", "outbox_message", ["sent_at", "id"])
    for name in (
        "ix_outbox_message_sent",
        "ix_outbox_message_retry",
        "ix_outbox_message_unsent_key",
        "ix_outbox_message_unsent_id",
    ):
        op.drop_index(name, table_name="outbox_message")


def kit_bulk_lane_upgrade() -> None:
    """Kit schema step shared by the services' migrations (issue 11): the outbox's bulk lane. The
    column's constant default makes adding it a catalogue change on PostgreSQL; the claim's index
    on unsent ids becomes one on unsent (lane, id). On a large outbox, create the new index
    CONCURRENTLY by hand before upgrading: the statement below skips an index that exists."""
    import sqlalchemy as sa
    from alembic import op

    with op.batch_alter_table("outbox_message") as batch:
        batch.add_column(sa.Column("bulk", sa.Boolean(), nullable=False, server_default=sa.false()))
    unsent = sa.text("sent_at IS NULL")
    op.create_index(
        "ix_outbox_message_unsent_lane",
        "outbox_message",
        ["bulk", "id"],
        postgresql_where=unsent,
        sqlite_where=unsent,
        if_not_exists=True,
    )
    op.drop_index("ix_outbox_message_unsent_id", table_name="outbox_message")


def kit_bulk_lane_downgrade() -> None:
    import sqlalchemy as sa
    from alembic import op

    unsent = sa.text("sent_at IS NULL")
    op.create_index(
        "ix_outbox_message_unsent_id", "outbox_message", ["id"], postgresql_where=unsent, sqlite_where=unsent
    )
    op.drop_index("ix_outbox_message_unsent_lane", table_name="outbox_message")
    with op.batch_alter_table("outbox_message") as batch:
        batch.drop_column("bulk")
