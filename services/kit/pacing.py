"""The outbox's bulk lane, paced by how far its consumers are behind (issue 11).

A bulk push (a whole dibao roster, a population load) writes its events to the outbox's bulk lane
(`add_event(..., bulk=True)`). The relay publishes the interactive lane first, every round, and
tops the bulk lane up only while the consumer groups it is paced by are fewer records behind on
this outbox's topics than they may be (`ahead`, below). A single record pushed during a bulk load
therefore finds that many records ahead of it on the broker, not the whole load, while the bulk
load still goes as fast as the consumer applies it.

Why a paced lane and not a second topic or priority partitions: the topics stay the ones agencies
and integrators subscribe to (SPEC), one key's events stay on one partition in commit order, and no
consumer has to merge two streams. The price is a read of the groups' committed offsets (OffsetFetch,
about 2 ms) every `interval_s` while the bulk lane holds rows.

How far ahead: `max_lag` records, or, when the group applies faster, what it applies in
`max_wait_s` (its committed offsets' rate over the last `RATE_WINDOW_S`), whichever is more, and
never more than `AHEAD_CAP` times `max_lag`. A fixed number of records is a different wait on a
fast machine and on a slow one (100 facts were 0.15 s of the registry's work on one day and 0.5 s
on another); a wait in seconds lets the load use bigger polls, cheaper per record, where the
consumer has the CPU for them, while a single record finds about `max_wait_s` of work ahead of it
(`max_lag` records' worth where the consumer is slower than that). The lag and the rate are summed
over the partitions: with replicas of the consumer sharing them, one slow replica's partition may
hold more than its share of the wait (the cap bounds it).

The lag is this outbox's own position on each partition (`outbox_position`, from the broker's
acknowledgements) minus the group's committed offset there. A topic on which the group has never
committed an offset is one it does not read: it is left out, so a group that reads none of the
topics does not stop the lane. A broker that does not answer stops the lane until it does.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable

from aiokafka import AIOKafkaConsumer, TopicPartition

from .metrics import OUTBOX_BULK_LAG

log = logging.getLogger(__name__)

COMMITTED_TIMEOUT_S = 2.0
# Over how long a group's applying rate is measured: a few of its commits, not one.
RATE_WINDOW_S = 1.0
# The most records that may be ahead of a group, in `max_lag`s, whatever its measured rate.
AHEAD_CAP = 10


class ApplyingRate:
    """A consumer group's records applied per second, from its committed offsets sampled over the
    last `window_s`. Only partitions committed in both samples count: a partition the group commits
    for the first time (from a high offset, say) is no burst of work."""

    def __init__(self, window_s: float = RATE_WINDOW_S) -> None:
        self.window_s = window_s
        self._samples: deque[tuple[float, dict[TopicPartition, int]]] = deque()

    def note(self, at: float, committed: dict[TopicPartition, int]) -> None:
        self._samples.append((at, committed))
        # Keep the newest sample at least `window_s` old, and every one after it.
        while len(self._samples) > 2 and self._samples[1][0] <= at - self.window_s:
            self._samples.popleft()

    def per_second(self) -> float:
        """0 until the samples span half the window (too few commits to tell)."""
        if len(self._samples) < 2:
            return 0.0
        (start, before), (end, after) = self._samples[0], self._samples[-1]
        if end - start < self.window_s / 2:
            return 0.0
        applied = sum(max(0, offset - before[tp]) for tp, offset in after.items() if tp in before)
        return applied / (end - start)


class BulkPace:
    def __init__(
        self,
        bootstrap_servers: str,
        groups: list[str],
        *,
        service: str,
        max_lag: int,
        max_wait_s: float = 0.0,
        interval_s: float = 0.1,
    ) -> None:
        self.bootstrap_servers = bootstrap_servers
        self.groups = list(groups)
        self.service = service
        self.max_lag = max_lag
        self.max_wait_s = max_wait_s
        self.interval_s = interval_s
        self._readers: dict[str, AIOKafkaConsumer] = {}
        self._allowance = 0
        self._measured = float("-inf")
        self._rates: dict[str, ApplyingRate] = {group: ApplyingRate() for group in self.groups}

    async def allowance(self, positions: Callable[[], Awaitable[dict[TopicPartition, int]]]) -> int:
        """How many bulk rows may go now: each group's `ahead` less its lag, the least of them,
        measured at most every `interval_s` (from this outbox's `positions`, read only then) and
        spent down in between (`spend`)."""
        now = time.monotonic()
        if now - self._measured >= self.interval_s:
            self._measured = now
            lags = await self.lags(await positions())
            if lags is None:
                self._allowance = 0
            else:
                room = [self.ahead(group) - lag for group, lag in lags.items()]
                self._allowance = max(0, min(room, default=self.max_lag))
        return self._allowance

    def ahead(self, group: str) -> int:
        """How many records may be ahead of `group`: `max_lag`, or what it applies in `max_wait_s`
        (at most `AHEAD_CAP` times `max_lag`)."""
        applied_in_wait = int(self._rates[group].per_second() * self.max_wait_s)
        return min(max(self.max_lag, applied_in_wait), AHEAD_CAP * self.max_lag)

    def spend(self, published: int) -> None:
        self._allowance = max(0, self._allowance - published)

    async def lags(self, ours: dict[TopicPartition, int]) -> dict[str, int] | None:
        """Records each group that reads this outbox's topics has yet to commit there (`ours`: the
        outbox's position per partition), the furthest behind shown on `OUTBOX_BULK_LAG`; None when
        the broker did not answer. Each group's committed offsets are noted for its rate."""
        lags: dict[str, int] = {}
        if not ours or not self.groups:
            OUTBOX_BULK_LAG.labels(self.service).set(0)
            return lags
        try:
            async with asyncio.timeout(COMMITTED_TIMEOUT_S):
                for group in self.groups:
                    committed = await self._committed(group, ours)
                    if not committed:
                        continue  # reads none of these topics: it paces nothing
                    # Never past our own position (a broker that lost its state, offsets reset).
                    self._rates[group].note(
                        time.monotonic(),
                        {tp: min(offset, ours[tp]) for tp, offset in committed.items() if offset is not None},
                    )
                    lags[group] = sum(max(0, ours[tp] - (offset or 0)) for tp, offset in committed.items())
        except Exception as exc:  # the broker away: no bulk row goes until it answers
            log.warning("bulk lane paused: consumer offsets unknown", extra={"error": repr(exc)[:200]})
            await self.close()
            return None
        OUTBOX_BULK_LAG.labels(self.service).set(max(lags.values(), default=0))
        return lags

    async def _committed(self, group: str, ours: dict[TopicPartition, int]) -> dict[TopicPartition, int | None]:
        """The group's committed offset on each of `ours` partitions of the topics it reads (None
        where it has not committed yet)."""
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
        return {tp: offset for tp, offset in zip(partitions, committed, strict=True) if tp.topic in read_topics}

    async def close(self) -> None:
        """Stop reading offsets (the broker away, or the relay stopping) and forget the rates: the
        offsets of a broker that comes back are not comparable with those measured before."""
        self._rates = {group: ApplyingRate() for group in self.groups}
        readers, self._readers = self._readers, {}
        for reader in readers.values():
            try:
                await asyncio.wait_for(reader.stop(), 5.0)
            except Exception as exc:
                log.warning("offset reader did not stop cleanly", extra={"error": repr(exc)[:200]})
