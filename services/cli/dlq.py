"""`rongchang dlq list|show|replay`: the dead-letter topics (`<topic>.dlq`) of every service.

A consumer dead-letters an event it cannot apply (undecodable, invalid, or failing after its
retries) with `dlq_*` headers naming the original topic, partition and offset, the consumer group,
the attempts and the error. `replay` puts the event back on its original topic with its key and
its own headers (the `dlq_*` ones dropped, `dlq_replayed_from` added): every consumer of the topic
sees it again, and each one's inbox skips it where it was applied before."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from typing import Annotated

import typer
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.structs import TopicPartition
from rich.console import Console
from rich.table import Table

from contracts.topics import dead_letter

from .settings import CliSettings, fail

app = typer.Typer(help="Dead-lettered events: list, show, replay onto their original topic.", no_args_is_help=True)
DLQ_SUFFIX = dead_letter("")  # ".dlq"
REPLAYED_FROM = "dlq_replayed_from"


@dataclass(frozen=True)
class DeadLetter:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    headers: dict[str, str]
    own_headers: list[tuple[str, bytes]]

    @property
    def ref(self) -> str:
        """How the other commands name it: `<dlq topic>:<partition>:<offset>`."""
        return f"{self.topic}:{self.partition}:{self.offset}"

    @property
    def service(self) -> str:
        """The service whose consumer gave up on it (the group is `<prefix><service>.<consumer>`)."""
        parts = self.headers.get("dlq_consumer", "").split(".")
        return parts[-2] if len(parts) >= 2 else ""

    @property
    def original(self) -> str:
        return self.headers.get("dlq_original_topic", self.topic.removesuffix(".dlq"))

    def event(self) -> dict[str, object]:
        try:
            found = json.loads(self.value)
        except ValueError:
            return {}
        return found if isinstance(found, dict) else {}


async def read_dead_letters(bootstrap: str, topics: list[str] | None = None) -> list[DeadLetter]:
    """Every record of the dead-letter topics (`topics`, or every `<topic>.dlq` on the broker: any
    service's, including topics added later), read from the start to the high watermark of each
    partition (as its fetches report it: tansu answers ListOffsets short)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
    finally:
        await admin.close()
    wanted = sorted(t for t in existing if t.endswith(DLQ_SUFFIX) and (topics is None or t in topics))
    if not wanted:
        return []
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, fetch_max_wait_ms=100)
    await consumer.start()
    found: list[DeadLetter] = []
    try:
        partitions = [TopicPartition(t, p) for t in wanted for p in sorted(consumer.partitions_for_topic(t) or set())]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=300, max_records=1000)
            for tp, records in batch.items():
                for r in records:
                    own = [(k, v) for k, v in (r.headers or ()) if not k.startswith("dlq_")]
                    headers = {k: v.decode("utf-8", "replace") for k, v in (r.headers or ())}
                    found.append(DeadLetter(tp.topic, tp.partition, r.offset, r.key, r.value or b"", headers, own))
            if await _read_to_the_end(consumer, partitions):
                break
    finally:
        await consumer.stop()
    return sorted(found, key=lambda d: (d.topic, d.partition, d.offset))


async def _read_to_the_end(consumer: AIOKafkaConsumer, partitions: list[TopicPartition]) -> bool:
    for tp in partitions:
        end = consumer.highwater(tp)
        if end is None or await consumer.position(tp) < end:
            return False
    return True


def _select(letters: list[DeadLetter], topic: str | None, service: str | None) -> list[DeadLetter]:
    return [d for d in letters if (topic is None or d.original == topic) and (service is None or d.service == service)]


TopicOption = Annotated[str | None, typer.Option(help="Only events dead-lettered from this topic")]
ServiceOption = Annotated[str | None, typer.Option(help="Only events this service's consumers gave up on")]


@app.command("list")
def list_letters(topic: TopicOption = None, service: ServiceOption = None) -> None:
    """List dead-lettered events, oldest first per topic."""
    letters = _select(asyncio.run(read_dead_letters(CliSettings().kafka_bootstrap_servers)), topic, service)
    table = Table("ref", "original (topic:partition:offset)", "consumer", "attempts", "event id", "type", "error")
    for d in letters:
        h, event = d.headers, d.event()
        table.add_row(
            d.ref,
            f"{d.original}:{h.get('dlq_original_partition', '?')}:{h.get('dlq_original_offset', '?')}",
            h.get("dlq_consumer", ""),
            h.get("dlq_attempts", ""),
            str(event.get("id", "")),
            str(event.get("type", "")),
            h.get("dlq_error", "")[:80],
        )
    Console(width=220).print(table)
    typer.echo(f"{len(letters)} dead-lettered event(s)", err=True)


def _find(letters: list[DeadLetter], ref: str) -> DeadLetter:
    for d in letters:
        if d.ref == ref:
            return d
    raise fail(f"no dead-lettered event {ref!r} (refs look like registry.person.v1.dlq:0:12; see `rongchang dlq list`)")


@app.command()
def show(ref: Annotated[str, typer.Argument(help="<dlq topic>:<partition>:<offset>, as `list` shows")]) -> None:
    """One dead-lettered event: its headers (the error in full) and its payload."""
    topic = ref.rsplit(":", 2)[0]
    letter = _find(asyncio.run(read_dead_letters(CliSettings().kafka_bootstrap_servers, [topic])), ref)
    typer.echo(
        json.dumps(
            {"ref": letter.ref, "key": (letter.key or b"").decode("utf-8", "replace"), "headers": letter.headers},
            indent=2,
            ensure_ascii=False,
        )
    )
    try:
        typer.echo(json.dumps(json.loads(letter.value), indent=2, ensure_ascii=False))
    except ValueError:
        typer.echo(repr(letter.value[:2000]))


async def replay_letters(bootstrap: str, letters: list[DeadLetter]) -> int:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for d in letters:
            headers = [*d.own_headers, (REPLAYED_FROM, d.ref.encode())]
            await producer.send_and_wait(d.original, d.value, key=d.key, headers=headers)
    finally:
        await producer.stop()
    return len(letters)


@app.command()
def replay(
    refs: Annotated[list[str] | None, typer.Argument(help="Events to replay, as `list` names them")] = None,
    all_: Annotated[
        bool, typer.Option("--all", help="Every dead-lettered event (narrowed by --topic/--service)")
    ] = False,
    topic: TopicOption = None,
    service: ServiceOption = None,
) -> None:
    """Put dead-lettered events back on their original topics, once the cause is fixed."""
    if bool(refs) == all_:
        raise fail("name the events to replay, or pass --all (not both)")
    bootstrap = CliSettings().kafka_bootstrap_servers
    letters = asyncio.run(read_dead_letters(bootstrap))
    chosen = _select(letters, topic, service) if all_ else [_find(letters, ref) for ref in refs or []]
    sent = asyncio.run(replay_letters(bootstrap, chosen))
    typer.echo(f"replayed {sent} event(s) onto their original topics")
