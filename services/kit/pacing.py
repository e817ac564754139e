"""The outbox's bulk lane, paced by how far its consumers are behind (issue 11).

A bulk push (a whole dibao roster, a population load) writes its events to the outbox's bulk lane
(`add_event(..., bulk=True)`). The relay publishes the interactive lane first, every round, and
tops the bulk lane up only while the consumer groups it is paced by are less than `max_lag`
records behind on this outbox's topics. A single record pushed during a bulk load therefore finds
at most `max_lag` records ahead of it on the broker, not the whole load: it is applied within about
the time the consumer takes for `max_lag` records, while the bulk load still goes as fast as the
consumer applies it.

Why a paced lane and not a second topic or priority partitions: the topics stay the ones agencies
and integrators subscribe to (SPEC), one key's events stay on one partition in commit order, and no
consumer has to merge two streams. The price is a read of the groups' committed offsets (OffsetFetch,
about 2 ms) every `interval_s` while the bulk lane holds rows.

The lag is this outbox's own position on each partition (`outbox_position`, from the broker's
acknowledgements) minus the group's committed offset there. A topic on which the group has never
committed an offset is one it does not read: it is left out, so a group that reads none of the
topics does not stop the lane. A broker that does not answer stops the lane until it does.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from aiokafka import AIOKafkaConsumer, TopicPartition

from .metrics import OUTBOX_BULK_LAG

log = logging.getLogger(__name__)

COMMITTED_TIMEOUT_S = 2.0


class BulkPace:
    def __init__(
        self, bootstrap_servers: str, groups: list[str], *, service: str, max_lag: int, interval_s: float = 0.1
    ) -> None:
        self.bootstrap_servers = bootstrap_servers
        self.groups = list(groups)
        self.service = service
        self.max_lag = max_lag
        self.interval_s = interval_s
        self._readers: dict[str, AIOKafkaConsumer] = {}
        self._allowance = 0
        self._measured = float("-inf")

    async def allowance(self, positions: Callable[[], Awaitable[dict[TopicPartition, int]]]) -> int:
        """How many bulk rows may go now: `max_lag` less the largest group's lag, measured at most
        every `interval_s` (from this outbox's `positions`, read only then) and spent down in
        between (`spend`)."""
        now = time.monotonic()
        if now - self._measured >= self.interval_s:
            self._measured = now
            lag = await self.lag(await positions())
            self._allowance = 0 if lag is None else max(0, self.max_lag - lag)
        return self._allowance

    def spend(self, published: int) -> None:
        self._allowance = max(0, self._allowance - published)

    async def lag(self, ours: dict[TopicPartition, int]) -> int | None:
        """Records the furthest-behind group has yet to commit on this outbox's topics (`ours`: the
        outbox's position per partition; 0 with no group); None when the broker did not answer."""
        if not ours or not self.groups:
            OUTBOX_BULK_LAG.labels(self.service).set(0)
            return 0
        worst = 0
        try:
            async with asyncio.timeout(COMMITTED_TIMEOUT_S):
                for group in self.groups:
                    worst = max(worst, await self._group_lag(group, ours))
        except Exception as exc:  # the broker away: no bulk row goes until it answers
            log.warning("bulk lane paused: consumer offsets unknown", extra={"error": repr(exc)[:200]})
            await self.close()
            return None
        OUTBOX_BULK_LAG.labels(self.service).set(worst)
        return worst

    async def _group_lag(self, group: str, ours: dict[TopicPartition, int]) -> int:
        reader = self._readers.get(group)
        if reader is None:
            # Never subscribes, so it never joins the group: it only reads the group's offsets.
            reader = AIOKafkaConsumer(
                bootstrap_servers=self.bootstrap_servers, group_id=group, enable_auto_commit=False
            )
            await reader.start()
            self._readers[group] = reader
        partitions = list(ours)
        committed = await asyncio.gather(*(reader.committed(tp) for tp in partitions))
        read_topics = {tp.topic for tp, offset in zip(partitions, committed, strict=True) if offset is not None}
        return sum(
            max(0, ours[tp] - (offset or 0))
            for tp, offset in zip(partitions, committed, strict=True)
            if tp.topic in read_topics
        )

    async def close(self) -> None:
        readers, self._readers = self._readers, {}
        for reader in readers.values():
            try:
                await asyncio.wait_for(reader.stop(), 5.0)
            except Exception as exc:
                log.warning("offset reader did not stop cleanly", extra={"error": repr(exc)[:200]})
