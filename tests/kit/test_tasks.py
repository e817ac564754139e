"""A task that swallows a cancellation is still stopped: the shutdown cancels it again."""

from __future__ import annotations

import asyncio

from services.kit.tasks import cancel_and_wait


async def test_a_task_that_swallows_a_cancellation_is_cancelled_again() -> None:
    swallowed = 0
    running = asyncio.Event()

    async def stubborn() -> None:
        nonlocal swallowed
        while True:
            try:
                running.set()
                await asyncio.sleep(10)
            except asyncio.CancelledError:
                if swallowed == 0:  # what a lost cancellation looks like to the one who sent it
                    swallowed += 1
                    continue
                raise

    task = asyncio.create_task(stubborn())
    await running.wait()
    await asyncio.wait_for(cancel_and_wait(task, every_s=0.05), 5)
    assert task.cancelled() and swallowed == 1


async def test_a_task_that_failed_or_is_gone_stops_quietly() -> None:
    async def fails() -> None:
        raise RuntimeError("broke before the shutdown")

    task = asyncio.create_task(fails())
    await asyncio.sleep(0)
    await cancel_and_wait(task)
    await cancel_and_wait(None)
    assert task.done() and isinstance(task.exception(), RuntimeError)
