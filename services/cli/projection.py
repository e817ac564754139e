"""`rongchang projection rebuild <service>`: wipe a service's projection and read it again from the
topics under a new consumer group prefix, with a progress bar until it has caught up.

Run it while the service is stopped (its replicas would otherwise keep writing the tables being
wiped), with the service's own environment (its database URL and secrets). When it is done, start
the service with `<SERVICE>_KAFKA_CONSUMER_GROUP_PREFIX` set to the prefix it prints: its consumers
then go on from where the rebuild stopped."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Annotated

import sqlalchemy as sa
import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from services.kit.app import ServiceDefinition
from services.kit.db import Database
from services.kit.inbox import ConsumerRunner
from services.kit.kafka import ensure_topics, make_producer
from services.kit.settings import ServiceSettings

from .settings import fail, service_app

app = typer.Typer(help="Rebuild a service's projection from the topics.", no_args_is_help=True)


def check_rebuildable(service: str, definition: ServiceDefinition) -> None:
    rebuildable = definition.rebuildable
    if rebuildable is None:
        raise fail(f"{service} keeps no projection to rebuild")
    moved = [
        s.consumer for s in definition.subscriptions if s.consumer not in rebuildable.consumers and not s.from_latest
    ]
    if moved:  # they would apply every event again under the new prefix
        raise fail(f"{service}'s consumers {moved} are not part of its projection; a new prefix would replay them")


async def rebuild(
    definition: ServiceDefinition, settings: ServiceSettings, prefix: str, progress: Progress, within_s: float
) -> int:
    """Wipe the tables, consume the projection's topics under `prefix` until every partition is
    read to its high watermark; returns the events read."""
    assert definition.rebuildable is not None
    db = Database(settings.database_url)
    moved = settings.model_copy(update={"kafka_consumer_group_prefix": prefix})
    producer = make_producer(settings)
    runners: list[ConsumerRunner] = []
    try:
        async with db.sessionmaker() as session, session.begin():
            for table in definition.rebuildable.tables:
                await session.execute(sa.text(f"DELETE FROM {table}"))
        await producer.start()
        subscriptions = [s for s in definition.subscriptions if s.consumer in definition.rebuildable.consumers]
        await ensure_topics(settings, [t for s in subscriptions for t in s.topics])
        runners = [s.runner(definition.name, db, producer, moved) for s in subscriptions]
        for runner in runners:
            await runner.start()
        task = progress.add_task(f"{definition.name} projection", total=None)
        deadline = time.monotonic() + within_s
        while True:
            await asyncio.sleep(0.5)
            measured = [runner.progress for runner in runners]
            if all(m is not None for m in measured):
                done = sum(m[0] for m in measured if m is not None)
                total = sum(m[1] for m in measured if m is not None)
                progress.update(task, completed=done, total=total)
                if done >= total:
                    return total
            if time.monotonic() > deadline:
                raise fail(
                    f"not caught up within {within_s:.0f}s; run it again with the same --prefix to go on", code=1
                )
    finally:
        for runner in runners:
            await runner.stop()
        await producer.stop()
        await db.dispose()


@app.command("rebuild")
def rebuild_command(
    service: Annotated[str, typer.Argument(help="subsidy or sharing")],
    prefix: Annotated[
        str | None, typer.Option(help="The new consumer group prefix (default: rebuild-<date>-<random>.)")
    ] = None,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation")] = False,
    within: Annotated[float, typer.Option(help="Give up after this many seconds")] = 3600.0,
) -> None:
    """Wipe SERVICE's projection tables and read them again from the topics."""
    definition, settings = service_app(service)
    check_rebuildable(service, definition)
    assert definition.rebuildable is not None
    prefix = prefix or f"rebuild-{time.strftime('%Y%m%d')}-{uuid.uuid4().hex[:6]}."
    tables = ", ".join(definition.rebuildable.tables)
    if not yes:
        typer.confirm(f"Stop every {service} replica first. Wipe {tables} and rebuild under {prefix!r}?", abort=True)
    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), transient=False
    ) as progress:
        events = asyncio.run(rebuild(definition, settings, prefix, progress, within))
    typer.echo(f"rebuilt {service}'s projection from {events} events")
    typer.echo(f"now start {service} with {service.upper()}_KAFKA_CONSUMER_GROUP_PREFIX={prefix}")
