"""How far the subsidy service's projections have caught up with the services they project.

Every relay publishes watermarks (contracts/outbox.py): "everything I committed before `as_of` is
on the broker below these offsets". The projections' consumers record how far they have applied
each partition (`consumer_position`, written before the offset commit). A watermark is *reached*
when every partition it names, of the topics this service consumes, has been applied up to its
offset. The *horizon* of a source is the newest `as_of` of its reached watermarks; an application
submitted at `t` may be judged once every source's horizon is at or after `t` plus the clock margin:
all the writes those services acknowledged before `t` are then in the projections.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from contracts.outbox import OutboxWatermark
from services.kit.db import Database, insert_for, utcnow
from services.kit.inbox import ConsumerPosition
from services.subsidy.tables import Watermark

log = logging.getLogger(__name__)

# How often the horizon is computed while requests wait for it.
WATCH_INTERVAL_S = 0.02
# Watermarks older than this are purged (on an arrival, at most every PRUNE_EVERY_S); a newer
# reached one always exists while the sources run, and a submission older than `facts_wait_s` no
# longer waits for one.
WATERMARK_KEPT = timedelta(minutes=30)
PRUNE_EVERY_S = 60.0
FIRST_SCAN, SCANNED = 10, 500


class Consistency:
    def __init__(self, sources: Sequence[str], consumed: Mapping[str, str], margin_s: float) -> None:
        """`consumed` maps each topic this service projects to the consumer group that applies it."""
        self.sources = list(sources)
        self.consumed = dict(consumed)
        self.margin = timedelta(seconds=margin_s)
        # The horizon as the watch last computed it, and the requests waiting for it to move.
        self.latest: datetime | None = None
        self._moved = asyncio.Condition()
        self._waiting = 0
        self._someone_waits = asyncio.Event()
        self._pruned = float("-inf")

    async def wait_for(self, instant: datetime, timeout_s: float) -> bool:
        """Whether, within `timeout_s`, the horizon reaches `instant` (needs `watch` running)."""
        deadline = asyncio.get_running_loop().time() + timeout_s
        self._waiting += 1
        self._someone_waits.set()
        try:
            async with self._moved:
                while self.latest is None or self.latest < instant:
                    remaining = deadline - asyncio.get_running_loop().time()
                    if remaining <= 0:
                        return False
                    try:
                        async with asyncio.timeout(remaining):
                            await self._moved.wait()
                    except TimeoutError:
                        return False
                return True
        finally:
            self._waiting -= 1

    async def watch(self, db: Database, interval_s: float = WATCH_INTERVAL_S) -> None:
        """Background task: while requests wait, the horizon is computed once per interval for all of
        them (not by each), and they are woken when it moves."""
        while True:
            await self._someone_waits.wait()
            try:
                async with db.sessionmaker() as session:
                    horizon = await self.horizon(session)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("horizon not computed", extra={"error": repr(exc)[:200]})
                horizon = None
            async with self._moved:
                self.latest = horizon
                self._moved.notify_all()
            if self._waiting == 0:
                self._someone_waits.clear()
            await asyncio.sleep(interval_s)

    async def record(self, session: AsyncSession, watermark: OutboxWatermark) -> None:
        """Keep a source's watermark (the handler of `outbox.watermark.v1`); idempotent. Twenty
        arrive a second when nothing happens: one insert each, and the old ones purged at most
        every `PRUNE_EVERY_S`."""
        if watermark.service not in self.sources:
            return
        row = {
            "service": watermark.service,
            "as_of": watermark.as_of,
            "positions": [p.model_dump() for p in watermark.positions if p.topic in self.consumed],
        }
        await session.execute(insert_for(session, Watermark).on_conflict_do_nothing(), row)
        if time.monotonic() - self._pruned < PRUNE_EVERY_S:
            return
        await session.execute(sa.delete(Watermark).where(col(Watermark.as_of) < utcnow() - WATERMARK_KEPT))
        self._pruned = time.monotonic()

    async def horizon(self, session: AsyncSession) -> datetime | None:
        """The instant up to which every source's acknowledged writes are in the projections, less
        the clock margin; None while some source has no reached watermark."""
        applied = {
            (row.topic, row.partition): row.next_offset
            for row in (
                await session.execute(
                    select(ConsumerPosition).where(col(ConsumerPosition.consumer).in_(set(self.consumed.values())))
                )
            ).scalars()
            if self.consumed.get(row.topic) == row.consumer
        }
        horizons = []
        for source in self.sources:
            reached = await self._newest_reached(session, source, applied)
            if reached is None:
                return None
            horizons.append(reached)
        return min(horizons) - self.margin if horizons else utcnow()

    async def _newest_reached(
        self, session: AsyncSession, source: str, applied: Mapping[tuple[str, int], int]
    ) -> datetime | None:
        # The newest watermarks first, a few at a time: when the projections keep up, the newest is reached.
        before: datetime | None = None
        for size in (FIRST_SCAN, SCANNED):
            query = select(Watermark).where(Watermark.service == source)
            if before is not None:
                query = query.where(col(Watermark.as_of) < before)
            watermarks = list(
                (await session.execute(query.order_by(col(Watermark.as_of).desc()).limit(size))).scalars()
            )
            for watermark in watermarks:
                if all(applied.get((p["topic"], p["partition"]), 0) >= p["next_offset"] for p in watermark.positions):
                    return watermark.as_of
            if len(watermarks) < size:
                return None
            before = watermarks[-1].as_of
        return None
