"""The reliable-queue bridge.

An id moves atomically from `jobs:queue` into this bridge's own processing list (BLMOVE),
and leaves that list only after Temporal accepted the start (or the id was dead-lettered).
A bridge killed at any instant leaves its ids in its processing list; it re-drives them at
start-up, and any bridge re-drives the list of a bridge whose liveness key expired.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TypeVar, cast

import asyncpg
import redis.asyncio as redis
from temporalio.client import Client
from temporalio.service import RPCError

from bridge.job_starter import StartResult, start_job_workflow

log = logging.getLogger("quel.bridge")

DEAD_LETTERS = "jobs:dead"
LIVENESS_SECONDS = 30
MAX_BACKOFF_SECONDS = 30.0
_UNREACHABLE = (OSError, redis.RedisError, RPCError, asyncpg.PostgresError, asyncpg.InterfaceError)
T = TypeVar("T")


class QueueBridge:
    def __init__(
        self,
        *,
        redis_client: redis.Redis,
        temporal: Client,
        job_exists: Callable[[str], Awaitable[bool]],
        queue: str,
        task_queue: str,
        bridge_id: str,
    ) -> None:
        self._redis = redis_client
        self._temporal = temporal
        self._job_exists = job_exists
        self._queue = queue
        self._task_queue = task_queue
        self.bridge_id = bridge_id
        self.counters: Counter[str] = Counter()

    @property
    def processing_list(self) -> str:
        return f"{self._queue}:processing:{self.bridge_id}"

    def _liveness_key(self, bridge_id: str) -> str:
        return f"{self._queue}:bridge:{bridge_id}:alive"

    async def run(self, stop: asyncio.Event) -> None:
        await self._announce_alive()
        await self.redrive()
        last_announce = asyncio.get_running_loop().time()
        while not stop.is_set():
            now = asyncio.get_running_loop().time()
            if now - last_announce > LIVENESS_SECONDS / 3:
                await self._announce_alive()
                await self._adopt_orphans()
                last_announce = now
            raw = await self._with_backoff(
                lambda: self._redis.blmove(self._queue, self.processing_list, 1, "RIGHT", "LEFT"), stop
            )
            if raw is not None:
                await self._handle(raw, stop)
        with contextlib.suppress(*_UNREACHABLE):  # the key expires on its own anyway
            await self._redis.delete(self._liveness_key(self.bridge_id))

    async def redrive(self) -> None:
        """Handles ids a previous run of this bridge took but did not finish, oldest first."""
        for raw in reversed(await self._redis.lrange(self.processing_list, 0, -1)):
            self.counters["redriven"] += 1
            await self._handle(raw, asyncio.Event())

    async def _adopt_orphans(self) -> None:
        """Returns the ids of dead bridges to the head of the queue (they are the oldest)."""
        async for key in self._redis.scan_iter(match=f"{self._queue}:processing:*"):
            name = _text(key)
            owner = name.rsplit(":", 1)[-1]
            if owner == self.bridge_id or await self._redis.exists(self._liveness_key(owner)):
                continue
            while await self._redis.lmove(name, self._queue, "RIGHT", "RIGHT") is not None:
                self.counters["redriven"] += 1
            log.warning("re-drove ids of a dead bridge", extra={"bridge": owner})

    async def _announce_alive(self) -> None:
        await self._redis.set(self._liveness_key(self.bridge_id), "1", ex=LIVENESS_SECONDS)

    async def _handle(self, raw: bytes | str, stop: asyncio.Event) -> None:
        job_id = _text(raw).strip()
        outcome = await self._with_backoff(lambda: self._classify_and_start(job_id), stop)
        if outcome is None:
            return  # stopping: the id stays in the processing list and is re-driven next start
        if outcome.startswith("dead:"):
            await self._dead_letter(raw, outcome.removeprefix("dead:"))
        else:
            self.counters[outcome] += 1
            log.info("job id handled", extra={"job_id": job_id, "result": outcome})
        # The exact popped value (bytes may not be valid UTF-8) is what must leave the list.
        await self._redis.lrem(self.processing_list, 1, cast(str, raw))

    async def _classify_and_start(self, job_id: str) -> str:
        try:
            uuid.UUID(job_id)
        except ValueError:
            return "dead:not a UUID"
        if not await self._job_exists(job_id):
            return "dead:no quel_production_jobs row"
        result: StartResult = await start_job_workflow(self._temporal, job_id, task_queue=self._task_queue)
        return result.value

    async def _dead_letter(self, raw: bytes | str, reason: str) -> None:
        entry = {
            "job_id": _text(raw),
            "reason": reason,
            "at": datetime.now(UTC).isoformat(),
        }
        await self._redis.lpush(DEAD_LETTERS, json.dumps(entry))
        self.counters["dead_lettered"] += 1
        log.warning("job id dead-lettered", extra=entry)

    async def _with_backoff(self, call: Callable[[], Awaitable[T]], stop: asyncio.Event) -> T | None:
        """Retries while Redis, PostgreSQL or Temporal are unreachable; None once stopping."""
        delay = 0.5
        while True:
            try:
                return await call()
            except _UNREACHABLE as error:
                log.warning("bridge waiting for a dependency", extra={"error": str(error), "retry_in": delay})
            try:
                await asyncio.wait_for(stop.wait(), timeout=delay)
                return None
            except TimeoutError:
                delay = min(delay * 2, MAX_BACKOFF_SECONDS)


def _text(value: bytes | str) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else value
