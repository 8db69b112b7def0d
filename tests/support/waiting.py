"""Waiting on a condition, never on a sleep: every test that waits for something to happen."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable


async def within(condition: Callable[[], Awaitable[bool]], *, timeout: float) -> bool:
    """True once `condition` holds, False if it still does not after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not await condition():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.05)
    return True


async def eventually(condition: Callable[[], Awaitable[bool]], *, timeout: float = 30, what: str = "condition") -> None:
    if not await within(condition, timeout=timeout):
        raise AssertionError(f"not within {timeout:g} s: {what}")
