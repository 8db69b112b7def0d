"""The legacy Redis cancel flag `job:<job_id>:cancelled` (DOMAIN.md 2.2, DECISIONS D8)."""

from __future__ import annotations

import redis.asyncio as redis
from redis.exceptions import RedisError

FLAG_TTL_SECONDS = 3600


def flag_key(job_id: str) -> str:
    return f"job:{job_id}:cancelled"


class CancelFlags:
    def __init__(self, client: redis.Redis) -> None:
        self._redis = client

    async def is_set(self, job_id: str) -> bool:
        """Redis errors propagate: the caller's activity retries rather than guessing."""
        value = await self._redis.get(flag_key(job_id))
        return value in (b"true", "true")

    async def is_set_if_readable(self, job_id: str) -> bool | None:
        """None when Redis cannot answer (down, timed out, the key of another type)."""
        try:
            return await self.is_set(job_id)
        except RedisError:
            return None

    async def set(self, job_id: str) -> None:
        await self._redis.set(flag_key(job_id), "true", ex=FLAG_TTL_SECONDS)
