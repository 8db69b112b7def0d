"""Queueing a job id exactly as the legacy producer does, for `quel enqueue`, `quel dev --demo` and the API."""

from __future__ import annotations

import redis.asyncio as redis


async def push_like_the_producer(client: redis.Redis, queue: str, job_id: str) -> int:
    """`LPUSH` on the producer's list; returns the list's length after the push (the Go `queuePosition`)."""
    return int(await client.lpush(queue, job_id))
