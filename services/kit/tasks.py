"""Stopping the kit's long-running tasks (relay, consumers, broker watch, background work) for sure."""

from __future__ import annotations

import asyncio
from typing import Any


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
