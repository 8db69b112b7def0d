"""Bridge throughput beside the raw rate of `client.start_workflow`, in one run.

    .venv/bin/python -m bench.bridge_throughput [--ids 250] [--rounds 8] [--concurrency 1 8]

Starts its own Temporal dev server, PostgreSQL (embedded, or the server of DATABASE_URL in a
fresh database it drops afterwards) and Redis (embedded, or REDIS_URL with queue names of its
own). For each concurrency and round it times two things on fresh job ids with rows:

- raw: `concurrency` tasks calling `start_job_workflow` (the bridge's `client.start_workflow`
  call with the same options) back to back;
- bridge: from one `LPUSH` of every id to the moment the bridge counted them all started.

Short rounds, raw and bridge alternating which goes first, so load from elsewhere on the machine
falls on both alike. Nobody polls the task queue: only the start is measured. The ratio is the
bridge's rate over the raw rate, over all rounds. Figures: bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import redis.asyncio as redis
from temporalio.client import Client

from bench.common import local_stack
from bridge.queue_bridge import DEFAULT_CONCURRENCY, QueueBridge
from clients.job_store import JobStore
from clients.postgres import create_pool
from domain.priority import JobPriorities
from operations.start import StartResult, start_job_workflow
from quel.logging_setup import configure_logging
from tests.bridge.job_rows import insert_pending_jobs, new_job_ids


@dataclass(frozen=True)
class Stack:
    temporal: Client
    pool: asyncpg.Pool
    redis: redis.Redis


@dataclass(frozen=True)
class Timing:
    ids: int
    seconds: float
    cpu_seconds: float
    """CPU of this Python process (bridge or raw starts, Temporal client included)."""

    @property
    def rate(self) -> float:
        return self.ids / self.seconds

    @property
    def cpu_milliseconds_per_id(self) -> float:
        return 1000 * self.cpu_seconds / self.ids


@dataclass(frozen=True)
class Round:
    raw: Timing
    bridge: Timing

    @property
    def ratio(self) -> float:
        return self.bridge.rate / self.raw.rate


@dataclass(frozen=True)
class Summary:
    concurrency: int
    rounds: list[Round]

    @property
    def raw(self) -> Timing:
        return _sum(one.raw for one in self.rounds)

    @property
    def bridge(self) -> Timing:
        return _sum(one.bridge for one in self.rounds)

    @property
    def ratio(self) -> float:
        return self.bridge.rate / self.raw.rate


def _sum(timings: Iterable[Timing]) -> Timing:
    every = list(timings)
    return Timing(
        ids=sum(t.ids for t in every),
        seconds=sum(t.seconds for t in every),
        cpu_seconds=sum(t.cpu_seconds for t in every),
    )


@asynccontextmanager
async def connected_stack(folder: Path) -> AsyncIterator[Stack]:
    """The benchmarks' servers (`bench.common.local_stack`) and the clients the bridge uses."""
    async with local_stack(folder) as servers, AsyncExitStack() as stack:
        pool = await create_pool(servers.database_url, max_size=20)
        stack.push_async_callback(pool.close)
        client = redis.Redis.from_url(servers.redis_url)
        stack.push_async_callback(client.aclose)
        yield Stack(temporal=servers.client, pool=pool, redis=client)


def _clock() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


def _since(began: tuple[float, float], ids: int) -> Timing:
    wall, cpu = began
    return Timing(ids, time.perf_counter() - wall, time.process_time() - cpu)


async def raw_starts(stack: Stack, job_ids: list[str], *, task_queue: str, concurrency: int) -> Timing:
    pending = iter(job_ids)

    async def lane() -> None:
        for job_id in pending:  # one iterator shared by the lanes: each id is started once
            result = await start_job_workflow(stack.temporal, job_id, task_queue=task_queue, headline=None)
            assert result is StartResult.STARTED, job_id

    began = _clock()
    await asyncio.gather(*(lane() for _ in range(concurrency)))
    return _since(began, len(job_ids))


async def bridge_starts(stack: Stack, bridge: QueueBridge, job_ids: list[str], *, queue: str) -> Timing:
    target = bridge.counters["started"] + len(job_ids)
    began = _clock()
    await stack.redis.lpush(queue, *job_ids)
    while bridge.counters["started"] < target:
        await asyncio.sleep(0.01)
    return _since(began, len(job_ids))


async def measure(stack: Stack, *, ids: int, rounds: int, concurrency: int) -> Summary:
    queue = f"bench:{uuid.uuid4().hex[:8]}:queue"
    task_queue = f"bench-{uuid.uuid4().hex[:8]}"
    bridge = QueueBridge(
        redis_client=stack.redis,
        temporal=stack.temporal,
        read_job=JobStore(stack.pool).headline,
        priorities=JobPriorities(),
        queue=queue,
        task_queue=task_queue,
        bridge_id="bench",
        concurrency=concurrency,
    )
    stop = asyncio.Event()
    running = asyncio.create_task(bridge.run(stop))
    results = []
    try:
        # A warm-up pass of each, so connection set-up is in neither figure.
        warm_up = new_job_ids(2 * concurrency)
        await insert_pending_jobs(stack.pool, warm_up)
        await raw_starts(stack, warm_up[:concurrency], task_queue=task_queue, concurrency=concurrency)
        await bridge_starts(stack, bridge, warm_up[concurrency:], queue=queue)
        for number in range(rounds):
            raw_ids, bridge_ids = new_job_ids(ids), new_job_ids(ids)
            await insert_pending_jobs(stack.pool, raw_ids + bridge_ids)
            # Short rounds, alternating which goes first, so both see the same load on the machine.
            if number % 2 == 0:
                raw = await raw_starts(stack, raw_ids, task_queue=task_queue, concurrency=concurrency)
                through_bridge = await bridge_starts(stack, bridge, bridge_ids, queue=queue)
            else:
                through_bridge = await bridge_starts(stack, bridge, bridge_ids, queue=queue)
                raw = await raw_starts(stack, raw_ids, task_queue=task_queue, concurrency=concurrency)
            results.append(Round(raw, through_bridge))
            print(
                f"concurrency {concurrency:>2} round {number + 1:>2}: raw {raw.rate:6.1f} ids/s"
                f"  bridge {through_bridge.rate:6.1f} ids/s  ratio {through_bridge.rate / raw.rate:.2f}",
                flush=True,
            )
    finally:
        stop.set()
        await running
    unexpected = {name: bridge.counters[name] for name in ("duplicate", "dead_lettered", "redriven")}
    assert not any(unexpected.values()), f"the bridge should only have started new ids: {unexpected}"
    return Summary(concurrency, results)


async def main(ids: int, rounds: int, concurrencies: list[int], log_file: Path) -> None:
    # The bridge logs at INFO as in production; to a file, so the figures stay readable.
    configure_logging("json")
    handler = logging.getLogger().handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    with log_file.open("w") as logs, tempfile.TemporaryDirectory() as folder:
        handler.setStream(logs)
        async with connected_stack(Path(folder)) as stack:
            summaries = [
                await measure(stack, ids=ids, rounds=rounds, concurrency=concurrency) for concurrency in concurrencies
            ]
    print(f"\n{rounds} rounds of {ids} ids each way; rates over all rounds; CPU of this process per id:")
    print("| concurrency | raw ids/s | bridge ids/s | ratio | median round ratio | raw CPU ms/id | bridge CPU ms/id |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for summary in summaries:
        raw, through_bridge = summary.raw, summary.bridge
        median = statistics.median(one.ratio for one in summary.rounds)
        print(
            f"| {summary.concurrency} | {raw.rate:.0f} | {through_bridge.rate:.0f} | {summary.ratio:.2f} | {median:.2f}"
            f" | {raw.cpu_milliseconds_per_id:.2f} | {through_bridge.cpu_milliseconds_per_id:.2f} |"
        )
    print(f"bridge log: {log_file}")


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ids", type=int, default=250, help="ids per round and side (default 250)")
    parser.add_argument("--rounds", type=int, default=8, help="rounds per concurrency (default 8)")
    parser.add_argument(
        "--concurrency",
        type=int,
        nargs="+",
        default=[DEFAULT_CONCURRENCY],
        help=f"starts in flight, bridge and raw alike (default {DEFAULT_CONCURRENCY}, the bridge's default)",
    )
    parser.add_argument("--log-file", type=Path, default=Path(tempfile.gettempdir()) / "bridge_throughput.log")
    return parser.parse_args()


if __name__ == "__main__":
    arguments = _arguments()
    asyncio.run(main(arguments.ids, arguments.rounds, arguments.concurrency, arguments.log_file))
