"""Kafka clients built from settings, topic creation (the embedded broker has no auto-create), and
the watch that notices a broker which came back empty."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError, for_code

from contracts.topics import dead_letter

from .settings import ServiceSettings
from .tasks import cancel_and_wait

log = logging.getLogger(__name__)


def make_producer(settings: ServiceSettings) -> AIOKafkaProducer:
    return AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        enable_idempotence=settings.kafka_enable_idempotence,
        acks="all",
        linger_ms=2,
        request_timeout_ms=10000,
        # The relay hands over whole record batches per partition (see OutboxRelay._publish): room
        # for a claim's rows in few of them, under the 1 MiB a Kafka broker takes by default.
        max_batch_size=512 * 1024,
    )


async def ensure_topics(settings: ServiceSettings, topics: Iterable[str]) -> None:
    """Create each topic and its dead-letter topic when missing."""
    wanted = sorted({name for topic in topics for name in (topic, dead_letter(topic))})
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [t for t in wanted if t not in existing]
        if missing:
            try:
                response = await admin.create_topics(
                    [NewTopic(t, settings.kafka_topic_partitions, settings.kafka_replication_factor) for t in missing]
                )
            except TopicAlreadyExistsError:
                return  # another service created it first
            # The broker answers per topic, and aiokafka does not raise for it: a replication factor
            # above the cluster's brokers, say, would otherwise leave the topics missing in silence.
            refused = refused_topics(response.topic_errors)
            if refused:
                raise KafkaError(
                    f"the broker refused to create topics (partitions {settings.kafka_topic_partitions}, "
                    f"replication factor {settings.kafka_replication_factor}): " + "; ".join(refused)
                )
    finally:
        await admin.close()


def refused_topics(topic_errors: Iterable[tuple[Any, ...]]) -> list[str]:
    """`topic: ErrorName` for each topic of a CreateTopics answer that is neither created nor there."""
    return [
        f"{error[0]}: {for_code(error[1]).__name__}"
        for error in topic_errors
        if error[1] not in (0, TopicAlreadyExistsError.errno)
    ]


async def broker_reachable(bootstrap_servers: str, timeout: float = 1.0) -> bool:
    """True when any of the bootstrap brokers accepts a connection."""
    for address in bootstrap_servers.split(","):
        host, _, port = address.strip().rpartition(":")
        try:
            _, writer = await asyncio.wait_for(asyncio.open_connection(host, int(port)), timeout)
        except (OSError, TimeoutError, ValueError):
            continue
        writer.close()
        await writer.wait_closed()
        return True
    return False


class BrokerWatch:
    """Follows the broker cluster's id. A broker that lost its state (the embedded tansu keeps
    everything in memory, and `make run` starts it with a new cluster id each time) answers with
    another id: each listener is then called once, in order, so the outbox re-publishes what the
    new broker lacks and the consumers read their topics again from the beginning.

    `cluster_id` is None until the broker has answered once; `epoch` counts the changes seen."""

    def __init__(self, bootstrap_servers: str, *, interval_s: float = 1.0) -> None:
        self.bootstrap_servers = bootstrap_servers
        self.interval_s = interval_s
        self.cluster_id: str | None = None
        self.epoch = 0
        self._listeners: list[Callable[[str], Awaitable[None]]] = []
        self._admin: AIOKafkaAdminClient | None = None
        self._task: asyncio.Task[None] | None = None
        self._changed = asyncio.Event()
        self._checking = asyncio.Lock()  # the watch's own round and the relay's confirmation

    def on_new_cluster(self, listener: Callable[[str], Awaitable[None]]) -> None:
        self._listeners.append(listener)

    async def start(self) -> None:
        await self.check()
        self._task = asyncio.create_task(self._run(), name="broker-watch")

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        self._task = None
        await self._close_admin()

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            try:
                await self.check()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("broker watch round failed")

    async def check(self) -> str | None:
        """Ask the broker for its cluster id; call the listeners when it changed. None while the
        broker does not answer."""
        async with self._checking:
            return await self._check()

    async def _check(self) -> str | None:
        try:
            if self._admin is None:
                self._admin = AIOKafkaAdminClient(
                    bootstrap_servers=self.bootstrap_servers, request_timeout_ms=3000, metadata_max_age_ms=1000
                )
                await self._admin.start()
            cluster = await asyncio.wait_for(self._admin.describe_cluster(), 5.0)
        except Exception as exc:
            log.debug("broker not answering", extra={"error": repr(exc)[:200]})
            await self._close_admin()
            return None
        cluster_id = str(cluster.get("cluster_id") or "")
        if cluster_id and cluster_id != self.cluster_id:
            previous, self.cluster_id = self.cluster_id, cluster_id
            if previous is not None:
                self.epoch += 1
                log.warning("the broker came back as another cluster", extra={"previous": previous, "now": cluster_id})
            for listener in self._listeners:
                await listener(cluster_id)
        return self.cluster_id

    async def _close_admin(self) -> None:
        if self._admin is not None:
            admin, self._admin = self._admin, None
            with contextlib.suppress(Exception):
                await admin.close()
