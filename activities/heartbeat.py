"""Heartbeats for long activities, so a worker that dies mid-call is noticed in seconds
(the heartbeat timeout) instead of after the whole start-to-close timeout."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable

from temporalio import activity


@contextlib.asynccontextmanager
async def repeating(action: Callable[[], object], every: float) -> AsyncIterator[None]:
    """Calls `action` at once and then every `every` seconds until the block exits."""

    async def loop() -> None:
        while True:
            action()
            await asyncio.sleep(every)

    task = asyncio.create_task(loop())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def heartbeating(every: float) -> contextlib.AbstractAsyncContextManager[None]:
    return repeating(activity.heartbeat, every)
