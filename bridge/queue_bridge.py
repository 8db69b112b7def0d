"""The reliable-queue bridge.

Ids move atomically from `jobs:queue` into this bridge's own processing list, and leave it only
after Temporal accepted their start (or they were dead-lettered). A bridge killed at any instant
leaves its ids in its processing list; it re-drives them at start-up, and any bridge re-drives
the list of a bridge whose liveness key expired.

The bridge takes ids in batches and starts each batch concurrently, at most `concurrency` starts
in flight, so it keeps up with what Temporal accepts while its own Redis, database and log work
stays a few round trips per batch. Exactly one workflow per id comes from the workflow id
(= job id) and its reuse policy, not from the bridge: an id handled twice after a crash is only
counted as a duplicate.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeVar, cast

import asyncpg
import redis.asyncio as redis
from temporalio.client import Client
from temporalio.service import RPCError

from bridge.job_starter import StartResult, start_job_workflow
from bridge.processing_lists import ProcessingLists, Raw

log = logging.getLogger("quel.bridge")

DEAD_LETTERS = "jobs:dead"
COUNTER_NAMES = ("started", "duplicate", "dead_lettered", "redriven")
DEFAULT_CONCURRENCY = 8
LOOPS = 2
LIVENESS_SECONDS = 30
COUNTERS_LOG_SECONDS = 60.0
MAX_BACKOFF_SECONDS = 30.0
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
        self._lists = ProcessingLists(redis_client, queue)
        self._temporal = temporal
        self._job_exists = job_exists
        self._task_queue = task_queue
        self._concurrency = concurrency
        self._counters_log_seconds = counters_log_seconds
        self.bridge_id = bridge_id
        self.counters: Counter[str] = Counter(dict.fromkeys(COUNTER_NAMES, 0))
        self._holding: Counter[Raw] = Counter()
        """Values taken into the processing list and not yet settled: the rest there are strays."""
        self._strays: Counter[Raw] = Counter()

    @property
    def processing_list(self) -> str:
        return self._lists.processing_list(self.bridge_id)

    def counter_fields(self) -> dict[str, int]:
        """The counters as flat fields of a log line (or gauges of an exporter)."""
        return {name: self.counters[name] for name in COUNTER_NAMES}

    async def run(self, stop: asyncio.Event) -> None:
        """Bridges until `stop` is set; the starts in flight then finish, the rest stays in Redis."""
        if await self._with_backoff(self._start_up, stop) is None:
            return
        log.info(
            "bridge running",
            extra={"bridge": self.bridge_id, "queue": self._lists.queue, "concurrency": self._concurrency},
        )
        try:
            async with asyncio.TaskGroup() as tasks:
                tasks.create_task(self._keep_alive(stop))
                # Two batch loops: while one takes, checks and settles its ids, the other's
                # starts keep Temporal busy.
                for _ in range(LOOPS):
                        tasks.create_task(self._bridge(stop, self._concurrency // LOOPS))
        finally:
            log.info("bridge stopped", extra={"bridge": self.bridge_id, **self.counter_fields()})
            with contextlib.suppress(*_UNREACHABLE):  # the key expires on its own anyway
                await self._redis.delete(self._lists.liveness_key(self.bridge_id))

    async def _start_up(self) -> int:
        await self._announce_alive()
        return await self._redrive(self.processing_list)

    async def _redrive(self, processing_list: str) -> int:
        moved = await self._lists.redrive(processing_list)
        if moved:
            self.counters["redriven"] += moved
            log.warning("re-drove ids of an unfinished bridge run", extra={"list": processing_list, "ids": moved})
        return moved

    async def _keep_alive(self, stop: asyncio.Event) -> None:
        """Renews the liveness key, recovers ids no live bridge will finish and logs the counters,
        apart from the starts so a start waiting on Temporal never lets the key expire."""
        loop = asyncio.get_running_loop()
        last_counters = loop.time()
        tick = min(LIVENESS_SECONDS / 3, self._counters_log_seconds)
        while not await _stopped_within(stop, tick):
            try:
                await self._announce_alive()
                for owner in await self._lists.dead_owners(self.bridge_id):
                    await self._redrive(self._lists.processing_list(owner))
                await self._return_strays()
            except _UNREACHABLE as error:
                log.warning("bridge cannot renew its liveness", extra={"error": str(error)})
            if loop.time() - last_counters >= self._counters_log_seconds:
                log.info("bridge counters", extra={"bridge": self.bridge_id, **self.counter_fields()})
                last_counters = loop.time()

    async def _announce_alive(self) -> None:
        await self._redis.set(self._lists.liveness_key(self.bridge_id), "1", ex=LIVENESS_SECONDS)

    async def _return_strays(self) -> None:
        """A take whose reply was lost leaves an id in this bridge's list that no batch holds.
        One seen so at two ticks in a row (an id in transit is held within milliseconds) goes
        back to the queue, so it waits for no restart."""
        strays = Counter(await self._redis.lrange(self.processing_list, 0, -1)) - self._holding
        for raw, count in (strays & self._strays).items():
            for _ in range(count):
                if await self._lists.return_to_queue(self.processing_list, raw):
                    self.counters["redriven"] += 1
                    log.warning("re-drove an id no batch held", extra={"job_id": _text(raw)})
        self._strays = strays

    async def _bridge(self, stop: asyncio.Event, batch_size: int) -> None:
        while not stop.is_set():
            batch = await self._with_backoff(lambda: self._take(batch_size), stop)
            if batch:
                self._holding.update(batch)
                await self._handle(batch, stop)

    async def _take(self, batch_size: int) -> list[Raw]:
        taken = await self._lists.take(self.processing_list, batch_size)
        if taken:
            return taken
        first = await self._lists.wait_take(self.processing_list)
        if first is None:
            return []
        try:
            return [first, *await self._lists.take(self.processing_list, batch_size - 1)]
        except _UNREACHABLE:
            return [first]  # `first` is already ours: never retry the take without it

    async def _handle(self, batch: list[Raw], stop: asyncio.Event) -> None:
        """Starts (or dead-letters) a batch; an id not settled when stopping stays in the
        processing list, which the next start of this bridge re-drives."""
        decided = await self._with_backoff(lambda: self._decide(batch), stop)
        if decided is None:
            return
        outcomes = await asyncio.gather(*(self._start(decision, stop) for decision in decided))
        settled = [(raw, outcome) for raw, outcome in zip(batch, outcomes, strict=True) if outcome is not None]
        self._count_starts(settled)
        dead = [_dead_letter(raw, outcome) for raw, outcome in settled if isinstance(outcome, Poison)]
        if await self._with_backoff(lambda: self._settle([raw for raw, _ in settled], dead), stop) is None:
            return
        self._holding -= Counter(raw for raw, _ in settled)
        self.counters["dead_lettered"] += len(dead)
        for entry in dead:
            log.warning("job id dead-lettered", extra=entry)

    def _count_starts(self, settled: list[tuple[Raw, StartResult | Poison]]) -> None:
        by_result = {
            result.value: [_text(raw) for raw, outcome in settled if outcome is result] for result in StartResult
        }
        for name, job_ids in by_result.items():
            self.counters[name] += len(job_ids)
        if any(by_result.values()):
            log.info("job ids handled", extra=by_result)

    async def _decide(self, batch: Sequence[Raw]) -> list[str | Poison]:
        decided = [_job_id(raw) for raw in batch]
        job_ids = [decision for decision in decided if isinstance(decision, str)]
        exists = dict(zip(job_ids, await asyncio.gather(*map(self._job_exists, job_ids)), strict=True))
        missing = Poison("no quel_production_jobs row")
        return [decision if isinstance(decision, Poison) or exists[decision] else missing for decision in decided]

    async def _start(self, decision: str | Poison, stop: asyncio.Event) -> StartResult | Poison | None:
        if isinstance(decision, Poison):
            return decision
        return await self._with_backoff(
            lambda: start_job_workflow(self._temporal, decision, task_queue=self._task_queue), stop
        )

    async def _settle(self, handled: list[Raw], dead_letters: list[dict[str, str]]) -> int:
        # One transaction: a crash never leaves an id both dead-lettered and still to re-drive.
        async with self._redis.pipeline(transaction=True) as transaction:
            for entry in dead_letters:
                transaction.lpush(DEAD_LETTERS, json.dumps(entry))
            for raw in handled:
                # The exact popped value is what must leave the list.
                transaction.lrem(self.processing_list, 1, cast(str, raw))
            await transaction.execute()
        return len(handled)

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


def _job_id(raw: Raw) -> str | Poison:
    try:
        # The canonical form, so `{...}`, upper case or no hyphens cannot make a second run.
        return str(uuid.UUID(_text(raw).strip()))
    except ValueError:
        return Poison("not a UUID")


def _dead_letter(raw: Raw, poison: Poison) -> dict[str, str]:
    return {"job_id": _text(raw), "reason": poison.reason, "at": datetime.now(UTC).isoformat()}


async def _stopped_within(stop: asyncio.Event, seconds: float) -> bool:
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except TimeoutError:
        return False
    return True


def _text(value: Raw) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else value
