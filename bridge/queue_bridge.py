"""The reliable-queue bridge.

Ids move atomically from `jobs:queue` into this bridge's own processing list, and leave it only
after Temporal accepted their start (or they were dead-lettered). A bridge killed at any instant
leaves its ids in its processing list; it re-drives them at start-up, and any bridge re-drives
the list of a bridge whose liveness key expired.

Inside, a pipeline: one feeder takes ids in batches and checks their rows, `concurrency`
starters each keep one start in flight, one settler removes handled ids from the processing
list in batches. Redis and database round trips never hold a start slot idle, so the bridge
keeps up with what Temporal accepts. Exactly one workflow per id comes from the workflow id
(= job id) and its reuse policy, not from the bridge: an id handled twice after a crash is only
counted as a duplicate.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeVar

import redis.asyncio as redis
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from bridge.processing_lists import ProcessingLists, Raw
from clients.job_store import JobHeadline
from clients.unreachable import UNREACHABLE
from domain.priority import JobPriorities
from operations.start import StartResult, start_job_workflow

log = logging.getLogger("quel.bridge")

COUNTER_NAMES = ("started", "duplicate", "dead_lettered", "redriven")
DEFAULT_CONCURRENCY = 8
LIVENESS_SECONDS = 30
COUNTERS_LOG_SECONDS = 60.0
MAX_BACKOFF_SECONDS = 30.0
SETTLE_DELAY_SECONDS = 0.05
# Temporal answers that no retry changes: the namespace does not exist, the credentials may not
# start workflows, the request is malformed. Every id would get the same answer, so these stop the
# bridge instead of being waited out as an outage.
_REFUSED = frozenset(
    {
        RPCStatusCode.NOT_FOUND,
        RPCStatusCode.PERMISSION_DENIED,
        RPCStatusCode.UNAUTHENTICATED,
        RPCStatusCode.INVALID_ARGUMENT,
        RPCStatusCode.UNIMPLEMENTED,
    }
)
T = TypeVar("T")


@dataclass(frozen=True)
class Poison:
    """A popped value that can never become a workflow; it goes to the dead letters."""

    reason: str


@dataclass(frozen=True)
class _Taken:
    raw: Raw
    job_id: str
    headline: JobHeadline


_Handled = tuple[Raw, StartResult | Poison]


class QueueBridge:
    def __init__(
        self,
        *,
        redis_client: redis.Redis,
        temporal: Client,
        read_job: Callable[[str], Awaitable[JobHeadline | None]],
        priorities: JobPriorities,
        queue: str,
        task_queue: str,
        bridge_id: str,
        concurrency: int = DEFAULT_CONCURRENCY,
        counters_log_seconds: float = COUNTERS_LOG_SECONDS,
    ) -> None:
        """`read_job` reads the job's row: None when there is none (a dead letter), else what names the
        job (its workflow's summary) and whether a person waits for it (its priority, D13)."""
        if concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, got {concurrency}")
        self._redis = redis_client
        self._lists = ProcessingLists(redis_client, queue)
        self._temporal = temporal
        self._read_job = read_job
        self._priorities = priorities
        self._task_queue = task_queue
        self._concurrency = concurrency
        self._counters_log_seconds = counters_log_seconds
        self.bridge_id = bridge_id
        self.counters: Counter[str] = Counter(dict.fromkeys(COUNTER_NAMES, 0))
        # Ids waiting for a start slot (at most `concurrency`; None tells a starter to stop),
        # refilled once half are gone: a batch per round trip, and the starters never run dry ...
        self._ready: asyncio.Queue[_Taken | None] = asyncio.Queue()
        self._refill_room = max(1, concurrency // 2)
        self._refill_wanted = asyncio.Event()
        # ... and ids handled, waiting to leave the processing list (None: nothing more comes).
        self._handled: asyncio.Queue[_Handled | None] = asyncio.Queue()
        self._not_started: list[Raw] = []
        # Values taken into the processing list and not settled; the others there are strays.
        self._holding: Counter[Raw] = Counter()
        self._strays: Counter[Raw] = Counter()
        self._refused: RPCError | None = None

    @property
    def processing_list(self) -> str:
        return self._lists.processing_list(self.bridge_id)

    def counter_fields(self) -> dict[str, int]:
        """The counters as flat fields of a log line (or gauges of an exporter)."""
        return {name: self.counters[name] for name in COUNTER_NAMES}

    async def run(self, stop: asyncio.Event) -> None:
        """Bridges until `stop` is set: the starts in flight then finish, every other id stays
        in Redis (the ones taken but not started go back to the queue).

        A start that Temporal refuses for good (unknown namespace, credentials that may not start
        workflows) stops the bridge the same way, then raises that `RPCError`: it is a deployment
        problem, so no id is dead-lettered for it, and the process exits loudly instead of
        retrying forever as if Temporal were down."""
        if await retry_while_unreachable(self._start_up, stop) is None:
            return
        log.info(
            "bridge running",
            extra={"bridge": self.bridge_id, "queue": self._lists.queue, "concurrency": self._concurrency},
        )
        halt = asyncio.Event()  # `stop`, or a refusal from Temporal
        try:
            async with asyncio.TaskGroup() as tasks:
                tasks.create_task(_set_when_set(stop, halt))
                tasks.create_task(self._keep_alive(halt))
                settler = tasks.create_task(self._settler(halt))
                starters = [tasks.create_task(self._starter(halt)) for _ in range(self._concurrency)]
                await self._feeder(halt)
                for _ in starters:
                    self._ready.put_nowait(None)
                await asyncio.gather(*starters)
                self._handled.put_nowait(None)
                await settler
            # One try (halt is set): whatever is not returned is re-driven at the next start.
            await retry_while_unreachable(self._return_not_started, halt)
            if self._refused is not None:
                log.error(
                    "bridge stopped: Temporal refuses to start workflows",
                    extra={"status": self._refused.status.name, "error": str(self._refused)},
                )
                raise self._refused
        finally:
            log.info("bridge stopped", extra={"bridge": self.bridge_id, **self.counter_fields()})
            with contextlib.suppress(*UNREACHABLE):  # the key expires on its own anyway
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

    def _room(self) -> int:
        return self._concurrency - self._ready.qsize()

    async def _feeder(self, stop: asyncio.Event) -> None:
        """Keeps up to `concurrency` ids, their rows checked, ready for the starters."""
        while not stop.is_set():
            room = self._room()
            if room < self._refill_room:
                self._refill_wanted.clear()
                await _first_of(self._refill_wanted, stop)
                continue
            batch = await retry_while_unreachable(functools.partial(self._take, room), stop)
            if not batch:
                continue
            self._holding.update(batch)
            decided = await retry_while_unreachable(functools.partial(self._decide, batch), stop)
            if decided is None:
                return  # stopping with the database down: the batch is re-driven next start
            for raw, decision in zip(batch, decided, strict=True):
                if isinstance(decision, Poison):
                    self._handled.put_nowait((raw, decision))
                else:
                    self._ready.put_nowait(_Taken(raw, *decision))

    async def _take(self, room: int) -> list[Raw]:
        taken = await self._lists.take(self.processing_list, room)
        if taken:
            return taken
        first = await self._lists.wait_take(self.processing_list)
        if first is None:
            return []
        try:
            return [first, *await self._lists.take(self.processing_list, room - 1)]
        except UNREACHABLE:
            return [first]  # `first` is already ours: never retry the take without it

    async def _decide(self, batch: Sequence[Raw]) -> list[tuple[str, JobHeadline] | Poison]:
        """Each id with what names its job (its workflow's summary), or why it can never start."""
        decided = [_job_id(raw) for raw in batch]
        job_ids = [decision for decision in decided if isinstance(decision, str)]
        rows = dict(zip(job_ids, await asyncio.gather(*map(self._read_job, job_ids)), strict=True))
        missing = Poison("no quel_production_jobs row")
        found: list[tuple[str, JobHeadline] | Poison] = []
        for decision in decided:
            if isinstance(decision, Poison):
                found.append(decision)
            elif (headline := rows[decision]) is None:
                found.append(missing)
            else:
                found.append((decision, headline))
        return found

    async def _starter(self, halt: asyncio.Event) -> None:
        """Starts ready ids until told to stop; a refusal from Temporal halts the whole bridge."""
        while (taken := await self._ready.get()) is not None:
            if self._room() >= self._refill_room:
                self._refill_wanted.set()
            if halt.is_set():
                self._not_started.append(taken.raw)
                continue
            start = functools.partial(
                start_job_workflow,
                self._temporal,
                taken.job_id,
                task_queue=self._task_queue,
                headline=taken.headline,
                priority=self._priorities.key(interactive=taken.headline.interactive),
            )
            try:
                result = await retry_while_unreachable(start, halt)
            except RPCError as refused:
                self._refused = self._refused or refused
                self._not_started.append(taken.raw)
                halt.set()
                continue
            if result is not None:  # None: halted while Temporal is down; re-driven next start
                self.counters[result.value] += 1
                self._handled.put_nowait((taken.raw, result))

    async def _settler(self, stop: asyncio.Event) -> None:
        """Removes handled ids from the processing list, as many per round trip as are waiting."""
        finished = False
        while not finished:
            batch = []
            item = await self._handled.get()
            # Removing an id that is already started can wait a moment: others join its batch.
            await _stopped_within(stop, SETTLE_DELAY_SECONDS)
            while item is not None:
                batch.append(item)
                if self._handled.empty():
                    break
                item = self._handled.get_nowait()
            finished = item is None
            if not batch:
                continue
            dead_letters = await retry_while_unreachable(functools.partial(self._settle, batch), stop)
            if dead_letters is None:
                return  # stopping with Redis down: these ids are re-driven next start
            self._report(batch, dead_letters)

    async def _settle(self, batch: list[_Handled]) -> list[dict[str, str]]:
        entries = [_dead_letter(raw, outcome) if isinstance(outcome, Poison) else None for raw, outcome in batch]
        handled = [(raw, json.dumps(entry) if entry else None) for (raw, _), entry in zip(batch, entries, strict=True)]
        await self._lists.settle(self.processing_list, handled)
        self._holding -= Counter(raw for raw, _ in batch)
        return [entry for entry in entries if entry]

    def _report(self, batch: list[_Handled], dead_letters: list[dict[str, str]]) -> None:
        started = {result.value: [_text(raw) for raw, outcome in batch if outcome is result] for result in StartResult}
        if any(started.values()):
            log.info("job ids handled", extra=started)
        self.counters["dead_lettered"] += len(dead_letters)
        for entry in dead_letters:
            log.warning("job id dead-lettered", extra=entry)

    async def _return_not_started(self) -> int:
        """Ids taken but not started when the bridge stopped go back to the queue, the oldest
        last so it is popped first."""
        returned = 0
        while self._not_started:
            raw = self._not_started[-1]
            returned += await self._lists.return_to_queue(self.processing_list, raw)
            self._not_started.pop()
            self._holding -= Counter([raw])
        return returned

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
            except UNREACHABLE as error:
                log.warning("bridge cannot renew its liveness", extra={"error": str(error)})
            if loop.time() - last_counters >= self._counters_log_seconds:
                log.info("bridge counters", extra={"bridge": self.bridge_id, **self.counter_fields()})
                last_counters = loop.time()

    async def _announce_alive(self) -> None:
        await self._redis.set(self._lists.liveness_key(self.bridge_id), "1", ex=LIVENESS_SECONDS)

    async def _return_strays(self) -> None:
        """A take whose reply was lost leaves an id in this bridge's list that it does not hold.
        One seen so at two ticks in a row (an id in transit is held within milliseconds) goes
        back to the queue, so it waits for no restart."""
        strays = Counter(await self._redis.lrange(self.processing_list, 0, -1)) - self._holding
        for raw, count in (strays & self._strays).items():
            for _ in range(count):
                if await self._lists.return_to_queue(self.processing_list, raw):
                    self.counters["redriven"] += 1
                    log.warning("re-drove an id this bridge did not hold", extra={"job_id": _text(raw)})
        self._strays = strays


async def retry_while_unreachable(call: Callable[[], Awaitable[T]], stop: asyncio.Event) -> T | None:
    """Retries while Redis, PostgreSQL or Temporal are unreachable; None once stopping. A refusal
    of Temporal's that no retry changes is raised."""
    delay = 0.5
    while True:
        try:
            return await call()
        except UNREACHABLE as error:
            if isinstance(error, RPCError) and error.status in _REFUSED:
                raise
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


async def _set_when_set(source: asyncio.Event, target: asyncio.Event) -> None:
    await _first_of(source, target)
    target.set()


async def _first_of(*events: asyncio.Event) -> None:
    waiters = [asyncio.ensure_future(event.wait()) for event in events]
    try:
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()


async def _stopped_within(stop: asyncio.Event, seconds: float) -> bool:
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except TimeoutError:
        return False
    return True


def _text(value: Raw) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else value
