"""The reliable-queue bridge.

An id moves atomically from `jobs:queue` into this bridge's own processing list (BLMOVE),
and leaves that list only after Temporal accepted the start (or the id was dead-lettered).
A bridge killed at any instant leaves its ids in its processing list; it re-drives them at
start-up, and any bridge re-drives the list of a bridge whose liveness key expired.

Several lanes run in one bridge, each with its own BLMOVE and one start in flight, so the
bridge keeps up with what Temporal accepts. Exactly one workflow per id comes from the
workflow id (= job id) and its reuse policy, not from the bridge: an id handled twice after
a crash is only counted as a duplicate.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeVar, cast

import asyncpg
import redis.asyncio as redis
from temporalio.client import Client
from temporalio.service import RPCError

from bridge.job_starter import StartResult, start_job_workflow

log = logging.getLogger("quel.bridge")

DEAD_LETTERS = "jobs:dead"
COUNTER_NAMES = ("started", "duplicate", "dead_lettered", "redriven")
DEFAULT_CONCURRENCY = 8
LIVENESS_SECONDS = 30
COUNTERS_LOG_SECONDS = 60.0
MAX_BACKOFF_SECONDS = 30.0
# A lane blocks this long on an empty queue before it looks at the stop event again.
POP_TIMEOUT_SECONDS = 1
_UNREACHABLE = (OSError, redis.RedisError, RPCError, asyncpg.PostgresError, asyncpg.InterfaceError)
T = TypeVar("T")


@dataclass(frozen=True)
class Poison:
    """A popped value that can never become a workflow; it goes to the dead letters."""

    reason: str


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
        concurrency: int = DEFAULT_CONCURRENCY,
        counters_log_seconds: float = COUNTERS_LOG_SECONDS,
    ) -> None:
        if concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, got {concurrency}")
        self._redis = redis_client
        self._temporal = temporal
        self._job_exists = job_exists
        self._queue = queue
        self._task_queue = task_queue
        self._concurrency = concurrency
        self._counters_log_seconds = counters_log_seconds
        self.bridge_id = bridge_id
        self.counters: Counter[str] = Counter(dict.fromkeys(COUNTER_NAMES, 0))

    @property
    def processing_list(self) -> str:
        return f"{self._processing_prefix}{self.bridge_id}"

    @property
    def _processing_prefix(self) -> str:
        return f"{self._queue}:processing:"

    def _liveness_key(self, bridge_id: str) -> str:
        return f"{self._queue}:bridge:{bridge_id}:alive"

    def counter_fields(self) -> dict[str, int]:
        """The counters as flat fields of a log line (or gauges of an exporter)."""
        return {name: self.counters[name] for name in COUNTER_NAMES}

    async def run(self, stop: asyncio.Event) -> None:
        """Bridges until `stop` is set; the starts in flight then finish, the rest stays in Redis."""
        if await self._with_backoff(self._start_up, stop) is None:
            return
        log.info(
            "bridge running",
            extra={"bridge": self.bridge_id, "queue": self._queue, "concurrency": self._concurrency},
        )
        try:
            async with asyncio.TaskGroup() as lanes:
                lanes.create_task(self._keep_alive(stop))
                for _ in range(self._concurrency):
                    lanes.create_task(self._lane(stop))
        finally:
            log.info("bridge stopped", extra={"bridge": self.bridge_id, **self.counter_fields()})
            try:
                await self._redis.delete(self._liveness_key(self.bridge_id))
            except _UNREACHABLE:
                pass  # the key expires on its own
        # A clean stop leaves nothing behind; a killed bridge leaves its list for the next start.

    async def _start_up(self) -> int:
        await self._announce_alive()
        return await self._redrive(self.processing_list)

    async def _redrive(self, processing_list: str) -> int:
        """Returns the ids of a processing list to the consuming end of the queue, oldest last
        moved so it is popped first; each move is atomic, so two bridges racing lose nothing."""
        moved = 0
        while await self._redis.lmove(processing_list, self._queue, "LEFT", "RIGHT") is not None:
            moved += 1
        if moved:
            self.counters["redriven"] += moved
            log.warning("re-drove ids of an unfinished bridge run", extra={"list": processing_list, "ids": moved})
        return moved

    async def _keep_alive(self, stop: asyncio.Event) -> None:
        """Renews the liveness key, adopts dead bridges' lists and logs the counters, apart from
        the lanes so a lane waiting on Temporal never lets the key expire."""
        loop = asyncio.get_running_loop()
        last_counters = loop.time()
        while not await _stopped_within(stop, LIVENESS_SECONDS / 3):
            try:
                await self._announce_alive()
                await self._adopt_orphans()
            except _UNREACHABLE as error:
                log.warning("bridge cannot renew its liveness", extra={"error": str(error)})
            if loop.time() - last_counters >= self._counters_log_seconds:
                log.info("bridge counters", extra={"bridge": self.bridge_id, **self.counter_fields()})
                last_counters = loop.time()

    async def _adopt_orphans(self) -> None:
        async for key in self._redis.scan_iter(match=f"{self._processing_prefix}*", count=1000):
            name = _text(key)
            owner = name.removeprefix(self._processing_prefix)
            if owner != self.bridge_id and not await self._redis.exists(self._liveness_key(owner)):
                await self._redrive(name)

    async def _announce_alive(self) -> None:
        await self._redis.set(self._liveness_key(self.bridge_id), "1", ex=LIVENESS_SECONDS)

    async def _lane(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            raw = await self._with_backoff(
                lambda: self._redis.blmove(
                    self._queue, self.processing_list, POP_TIMEOUT_SECONDS, "RIGHT", "LEFT"
                ),
                stop,
            )
            if raw is not None:
                await self._handle(raw, stop)

    async def _handle(self, raw: bytes | str, stop: asyncio.Event) -> None:
        """Starts (or dead-letters) one popped value; returning early leaves it in the
        processing list, which the next start of this bridge re-drives."""
        outcome = await self._with_backoff(lambda: self._decide(raw), stop)
        if outcome is None:
            return
        if isinstance(outcome, Poison):
            reason = outcome.reason
            await self._with_backoff(lambda: self._dead_letter(raw, reason), stop)
            return
        log.info("job id handled", extra={"job_id": _text(raw), "result": outcome.value})
        if await self._with_backoff(lambda: self._forget(raw), stop) is not None:
            self.counters[outcome.value] += 1

    async def _decide(self, raw: bytes | str) -> StartResult | Poison:
        try:
            # The canonical form, so `{...}`, upper case or no hyphens cannot make a second run.
            job_id = str(uuid.UUID(_text(raw).strip()))
        except ValueError:
            return Poison("not a UUID")
        if not await self._job_exists(job_id):
            return Poison("no quel_production_jobs row")
        return await start_job_workflow(self._temporal, job_id, task_queue=self._task_queue)

    async def _forget(self, raw: bytes | str) -> int:
        # The exact popped value (bytes may not be valid UTF-8) is what must leave the list.
        return await self._redis.lrem(self.processing_list, 1, cast(str, raw))

    async def _dead_letter(self, raw: bytes | str, reason: str) -> None:
        entry = {"job_id": _text(raw), "reason": reason, "at": datetime.now(UTC).isoformat()}
        # One transaction: a crash never leaves the id both dead-lettered and still to re-drive.
        async with self._redis.pipeline(transaction=True) as transaction:
            transaction.lpush(DEAD_LETTERS, json.dumps(entry))
            transaction.lrem(self.processing_list, 1, cast(str, raw))
            await transaction.execute()
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
            if await _stopped_within(stop, delay):
                return None
            delay = min(delay * 2, MAX_BACKOFF_SECONDS)


async def _stopped_within(stop: asyncio.Event, seconds: float) -> bool:
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except TimeoutError:
        return False
    return True


def _text(value: bytes | str) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else value
