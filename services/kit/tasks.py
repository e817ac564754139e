"""Stopping the kit's long-running tasks (relay, consumers, broker watch, background work) for sure,
and the one loop every retention purge runs in."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

log = logging.getLogger(__name__)
PURGE_INTERVAL_S = 3600.0


async def purge_periodically(
    what: str, purge: Callable[[], Awaitable[int]], *, batch: int, interval_s: float = PURGE_INTERVAL_S
) -> None:
    """Background task: every `interval_s`, busy or idle, call `purge` (one bounded batch in one
    transaction, returning how many it removed) until a call removes fewer than `batch`. A failed
    round is logged and tried again next time."""
    while True:
        try:
            purged = batch
            while purged >= batch:
                purged = await purge()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning(f"{what} purge failed; tried again later", extra={"error": repr(exc)[:200]})
        await asyncio.sleep(interval_s)


async def cancel_and_wait(task: asyncio.Task[Any] | None, *, every_s: float = 1.0) -> None:
    """Cancel `task` and wait until it has ended, cancelling it again while it runs on: a task can
    swallow a cancellation (Python 3.11's `asyncio.wait_for`, or a library's, loses one when the
    awaited future completes at the same moment), and a shutdown that awaits it once then waits
    forever. Whatever the task ended with is dropped: it is being stopped."""
    if task is None:
        return
    while not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=every_s)
    if not task.cancelled():
        task.exception()  # retrieved, so asyncio does not log "exception was never retrieved"
