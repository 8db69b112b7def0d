"""Waiting on a condition, never on a sleep: every test that waits for something to happen.

A condition is a function of no arguments, plain (`lambda: gemini.in_flight > 0`) or async (a
database read); it holds when what it returns is true."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar, overload

T = TypeVar("T")


async def _value(condition: Callable[[], object]) -> object:
    value = condition()
    return await value if inspect.isawaitable(value) else value


async def _first_true(condition: Callable[[], object], timeout: float) -> tuple[bool, object]:
    deadline = time.monotonic() + timeout
    while not (value := await _value(condition)):
        if time.monotonic() > deadline:
            return False, value
        await asyncio.sleep(0.05)
    return True, value


async def within(condition: Callable[[], bool | Awaitable[bool]], *, timeout: float) -> bool:
    """True once `condition` holds, False if it still does not after `timeout` seconds."""
    held, _ = await _first_true(condition, timeout)
    return held


@overload
async def eventually(condition: Callable[[], Awaitable[T]], *, timeout: float = 30, what: str = "condition") -> T: ...
@overload
async def eventually(condition: Callable[[], T], *, timeout: float = 30, what: str = "condition") -> T: ...
async def eventually(condition: Callable[[], object], *, timeout: float = 30, what: str = "condition") -> object:
    """What `condition` returned once it held (a list of waiting pids, a response...); fails the
    test if it does not hold within `timeout` seconds."""
    held, value = await _first_true(condition, timeout)
    if not held:
        raise AssertionError(f"not within {timeout:g} s: {what}")
    return value
