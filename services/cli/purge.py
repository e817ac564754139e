"""`rongchang outbox purge <service>` and `rongchang inbox purge <service>`: delete sent outbox rows
and processed inbox entries older than a retention, in bounded batches. Each service does the same
by itself (the relay every minute, the inbox every hour, `*_OUTBOX_RETENTION_S` and
`*_INBOX_RETENTION_S`, 7 days by default); the commands are for a backlog, or a shorter retention
once. Run with the service's own environment (its database URL)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Annotated

import typer

from services.kit.db import Database
from services.kit.inbox import purge_processed
from services.kit.outbox import purge_sent

from .settings import service_app

outbox_app = typer.Typer(help="The transactional outbox of a service.", no_args_is_help=True)
inbox_app = typer.Typer(help="The idempotent inbox of a service.", no_args_is_help=True)

ServiceArgument = Annotated[str, typer.Argument(help="registry, subsidy or sharing")]
OlderThan = Annotated[float | None, typer.Option(help="Retention in days (default: the service's own setting)")]


async def _purge_all(url: str, purge: Callable[[Database, timedelta], Awaitable[int]], retention: timedelta) -> int:
    db = Database(url)
    try:
        total = 0
        while purged := await purge(db, retention):
            total += purged
        return total
    finally:
        await db.dispose()


@outbox_app.command("purge")
def purge_outbox(service: ServiceArgument, older_than_days: OlderThan = None) -> None:
    """Delete outbox rows sent longer ago than the retention (unsent rows are never touched)."""
    _, settings = service_app(service)
    days = older_than_days if older_than_days is not None else settings.outbox_retention_s / 86400
    purged = asyncio.run(_purge_all(settings.database_url, purge_sent, timedelta(days=days)))
    typer.echo(f"{service}: {purged} sent outbox rows older than {days:g} days deleted")


@inbox_app.command("purge")
def purge_inbox(service: ServiceArgument, older_than_days: OlderThan = None) -> None:
    """Delete inbox entries processed longer ago than the retention that their group has committed past."""
    _, settings = service_app(service)
    days = older_than_days if older_than_days is not None else settings.inbox_retention_s / 86400
    purged = asyncio.run(_purge_all(settings.database_url, purge_processed, timedelta(days=days)))
    typer.echo(f"{service}: {purged} processed inbox entries older than {days:g} days deleted")
