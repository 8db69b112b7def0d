"""Scale-out: 4 jobs of 20 images on one `quel worker` process, then on two, then on four, each
process at IMAGE_CONCURRENCY=2, with a fake Gemini that takes 1 s per call.

    .venv/bin/python -m bench.scale_out [--rounds 2]

Throughput is images per second from the first workflow start to the last result, the worker
processes already polling (and warmed up by a small job each). The baseline is the one-process
throughput of the same round; the rounds alternate the order (1, 2, 4 processes, then 4, 2, 1).
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

from bench.common import (
    BenchResult,
    Figure,
    Goal,
    Stack,
    bench_settings,
    command_line,
    local_stack,
    run_together,
    seed_everything,
    seed_fashion_jobs,
    worker_processes,
)
from quel.settings import Settings
from tests.fakes.gemini_server import FakeGemini

JOBS = 4
IMAGES = 20
CONCURRENCY = 2
LATENCY = 1.0
TARGETS = {2: 1.8, 4: 3.6}
"""Throughput of N processes beside one's (issue 11: four at least 3.6x one)."""
PROCESSES = (1, *TARGETS)


async def run_jobs(stack: Stack, settings: Settings, *, jobs: int, images: int) -> float:
    """Seconds from the first start to the last result of `jobs` jobs run side by side."""
    job_ids = await seed_fashion_jobs(settings, jobs=jobs, images=images)
    began = time.perf_counter()
    await run_together(stack.client, settings, job_ids, images)
    return time.perf_counter() - began


@dataclass(frozen=True)
class Throughput:
    images_per_second: float
    most_calls_in_flight: int
    machine_busy: float
    """Share of all CPUs busy while the jobs ran (every process on the machine)."""


async def throughput(stack: Stack, fake: FakeGemini, *, processes: int, logs: Path) -> Throughput:
    settings = bench_settings(stack, fake, image_concurrency=CONCURRENCY)
    async with worker_processes(stack, settings, count=processes, logs=logs):
        await run_jobs(stack, settings, jobs=processes, images=1)
        fake.latency = LATENCY
        before = psutil.cpu_times()
        elapsed = await run_jobs(stack, settings, jobs=JOBS, images=IMAGES)
        after = psutil.cpu_times()
    idle = (after.idle + after.iowait) - (before.idle + before.iowait)
    busy = 1 - idle / (sum(after) - sum(before))
    return Throughput(JOBS * IMAGES / elapsed, fake.max_in_flight, busy)


async def run(folder: Path, *, rounds: int = 2) -> BenchResult:
    result = BenchResult("scale-out")
    rates: dict[int, list[float]] = {processes: [] for processes in PROCESSES}
    async with local_stack(folder) as stack:
        await seed_everything(bench_settings(stack))
        for number in range(rounds):
            for processes in PROCESSES if number % 2 == 0 else tuple(reversed(PROCESSES)):
                # A fake per measurement, so its highest count of calls in flight is this one's.
                with FakeGemini() as fake:
                    measured = await throughput(stack, fake, processes=processes, logs=folder)
                rates[processes].append(measured.images_per_second)
                result.note(
                    f"round {number + 1}: {processes} worker process(es): {measured.images_per_second:.2f} images/s,"
                    f" at most {measured.most_calls_in_flight} generator calls in flight,"
                    f" CPUs {measured.machine_busy:.0%} busy"
                )
    ideal = CONCURRENCY / LATENCY
    result.note(f"{JOBS} jobs x {IMAGES} images, latency {LATENCY:g} s; one process can at best do {ideal:g} images/s")
    result.figures += [
        Figure(
            benchmark="scale-out",
            what=f"throughput of {processes} worker processes vs 1 ({JOBS} jobs x {IMAGES} images, median)",
            measured=statistics.median(rates[processes]),
            baseline=statistics.median(rates[1]),
            unit="images/s",
            baseline_is="1 worker process",
            goal=Goal.AT_LEAST,
            target=target,
        )
        for processes, target in TARGETS.items()
    ]
    return result


def main() -> None:
    command_line(run, __doc__, rounds=(2, "pairs of measurements (default 2)"))


if __name__ == "__main__":
    main()
