"""What the bridge tests look at: ids left in Redis and workflow runs in Temporal."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable

import redis.asyncio as redis
from temporalio.client import Client

from bridge.queue_bridge import QueueBridge
from tests.support.waiting import within


async def processing_lists(client: redis.Redis, queue: str = "jobs:queue") -> dict[str, list[str]]:
    """Every non-empty processing list (Redis deletes empty lists) and what it holds."""
    lists = {}
    async for key in client.scan_iter(match=f"{queue}:processing:*"):
        lists[_text(key)] = [_text(value) for value in await client.lrange(key, 0, -1)]
    return lists


async def queued(client: redis.Redis, queue: str = "jobs:queue") -> list[str]:
    return [_text(value) for value in await client.lrange(queue, 0, -1)]


async def ids_in_redis(client: redis.Redis, queue: str = "jobs:queue") -> list[str]:
    """Ids still waiting or held by a bridge: those a crash must not lose."""
    held = [job_id for values in (await processing_lists(client, queue)).values() for job_id in values]
    return await queued(client, queue) + held


async def drained(client: redis.Redis, queue: str = "jobs:queue", *, timeout: float = 10) -> None:
    """Waits until no id is waiting or held: a bridge settles handled ids a moment after their start."""

    async def empty() -> bool:
        return not await ids_in_redis(client, queue)

    if not await within(empty, timeout=timeout):
        assert await ids_in_redis(client, queue) == []


async def workflow_runs(client: Client, task_queue: str, *, at_least: int = 0, timeout: float = 10) -> Counter[str]:
    """How many runs each workflow id has on the task queue, closed runs included. The list lags
    the starts a little, so this waits (at most `timeout`) until it shows `at_least` runs."""
    deadline = time.monotonic() + timeout
    while True:
        runs: Counter[str] = Counter()
        async for execution in client.list_workflows(query=f"TaskQueue = '{task_queue}'", page_size=1000):
            runs[execution.id] += 1
        if runs.total() >= at_least or time.monotonic() > deadline:
            return runs
        await asyncio.sleep(0.1)


async def runs_of(client: Client, workflow_id: str) -> int:
    return sum([1 async for _ in client.list_workflows(query=f"WorkflowId = '{workflow_id}'")])


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def counted(bridge: QueueBridge, name: str, at_least: int) -> Callable[[], Awaitable[bool]]:
    async def reached() -> bool:
        return bridge.counters[name] >= at_least

    return reached
