"""High concurrency: one `quel worker` process at IMAGE_CONCURRENCY=32, 8 jobs of 80 images started
together, a fake Gemini that takes 1 s per call.

    .venv/bin/python -m bench.high_concurrency [--jobs 8] [--images 80] [--concurrency 32]

Wall time from the first workflow start to the last result, beside the ideal: every generator slot
busy from the first start, jobs x images / concurrency seconds. The fake's record of every call says
where the difference goes: before the first call, until every slot is busy (the fill), the share of
slot-seconds spent in calls between the first call and the last, and after the last call.

Cost: the worker process's own CPU seconds (user and system, from the kernel) per image, beside the
CPU per image of plain asyncio making the same calls (replayed from the warm-up job's requests)
through the same `GeminiGenerator` with `asyncio.Semaphore(concurrency)`, in a process of its own.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import time
from collections.abc import Sequence
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
from bench.slot_utilisation import baseline, request_of
from clients.gemini_generator import GeminiGenerator
from domain.generation.request import GeneratorRequest
from quel.settings import Settings
from tests.fakes.gemini_server import FakeGemini

JOBS = 8
IMAGES = 80
CONCURRENCY = 32
LATENCY = 1.0
WARM_UP_LATENCY = 0.05
TARGET = 1.05


@dataclass(frozen=True)
class Burst:
    wall: float
    head: float
    """First workflow start to the first generator call."""
    fill: float
    """First workflow start until every generator slot was busy at once."""
    busy: float
    """Share of slot-seconds in calls, from the first call's start to the last call's end."""
    tail: float
    """Last call's end to the last workflow result."""
    cpu_seconds: float
    """Of the worker process, while the burst ran."""

    def describe(self) -> str:
        return (
            f"wall {self.wall:.2f} s: head {self.head * 1000:.0f} ms, every slot busy after {self.fill * 1000:.0f} ms,"
            f" slots {self.busy:.1%} busy between first and last call, tail {self.tail * 1000:.0f} ms;"
            f" worker CPU {self.cpu_seconds:.1f} s"
        )


def profile(spans: Sequence[tuple[float, float]], began: float, ended: float, concurrency: int) -> tuple[float, ...]:
    """(head, fill, busy, tail) from the fake's call spans (monotonic seconds)."""
    first = min(start for start, _ in spans)
    last = max(end for _, end in spans)
    events = sorted([(start, 1) for start, _ in spans] + [(end, -1) for _, end in spans])
    in_flight, fill = 0, float("nan")
    for moment, change in events:
        in_flight += change
        if in_flight >= concurrency:
            fill = moment - began
            break
    busy = sum(end - start for start, end in spans) / (concurrency * (last - first))
    return first - began, fill, busy, ended - last


def cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return float(times.user + times.system)


async def burst(
    stack: Stack, settings: Settings, fake: FakeGemini, worker: psutil.Process, *, jobs: int, images: int
) -> Burst:
    job_ids = await seed_fashion_jobs(settings, jobs=jobs, images=images)
    calls_before = len(fake.spans)
    cpu_before = cpu_seconds(worker)
    began = time.monotonic()
    await run_together(stack.client, settings, job_ids, images)
    ended = time.monotonic()
    cpu = cpu_seconds(worker) - cpu_before
    head, fill, busy, tail = profile(fake.spans[calls_before:], began, ended, settings.image_concurrency)
    return Burst(ended - began, head, fill, busy, tail, cpu)


def baseline_cpu(base_url: str, requests: list[GeneratorRequest], concurrency: int) -> tuple[float, float]:
    """(wall, CPU seconds) of plain asyncio making `requests`; run in a process of its own."""

    async def run() -> float:
        generator = GeminiGenerator(api_key="bench", model="bench", base_url=base_url, timeout_seconds=120)
        try:
            await baseline(generator, requests[:concurrency], concurrency)  # connections, as the worker's warm-up
            return await baseline(generator, requests, concurrency)
        finally:
            await generator.close()

    before = time.process_time()
    wall = asyncio.run(run())
    return wall, time.process_time() - before


async def run(folder: Path, *, jobs: int = JOBS, images: int = IMAGES, concurrency: int = CONCURRENCY) -> BenchResult:
    result = BenchResult("high concurrency")
    with FakeGemini(latency=WARM_UP_LATENCY) as fake:
        async with local_stack(folder) as stack:
            settings = bench_settings(stack, fake, image_concurrency=concurrency)
            await seed_everything(settings)
            async with worker_processes(stack, settings, count=1, logs=folder) as [worker]:
                process = psutil.Process(worker.pid)
                await burst(stack, settings, fake, process, jobs=1, images=concurrency)  # warm-up
                requests = [request_of(call) for call in fake.calls[-concurrency:]]
                fake.latency = LATENCY
                measured = await burst(stack, settings, fake, process, jobs=jobs, images=images)
            replayed = (requests * (jobs * images // len(requests) + 1))[: jobs * images]
            context = multiprocessing.get_context("spawn")
            with context.Pool(1) as pool:
                floor_wall, floor_cpu = await asyncio.to_thread(
                    pool.apply, baseline_cpu, (fake.base_url, replayed, concurrency)
                )
    total = jobs * images
    ideal = total / concurrency * LATENCY
    result.note(f"{jobs} jobs x {images} images at IMAGE_CONCURRENCY={concurrency}, {LATENCY:g} s per call")
    result.note(f"project: {measured.describe()}")
    result.note(f"asyncio baseline: wall {floor_wall:.2f} s, CPU {floor_cpu:.1f} s for the same {total} calls")
    result.figures += [
        Figure(
            benchmark="high concurrency",
            what=(
                f"one worker, IMAGE_CONCURRENCY={concurrency}, {jobs} jobs x {images} images at {LATENCY:g} s:"
                " wall time"
            ),
            measured=measured.wall,
            baseline=ideal,
            unit="s",
            baseline_is="ideal: every slot busy from the first start",
            goal=Goal.AT_MOST,
            target=TARGET,
        ),
        Figure(
            benchmark="cost",
            what=f"worker CPU milliseconds per image at IMAGE_CONCURRENCY={concurrency}",
            measured=1000 * measured.cpu_seconds / total,
            baseline=1000 * floor_cpu / total,
            unit="CPU ms",
            baseline_is="plain asyncio, same calls through the same client",
        ),
    ]
    return result


def main() -> None:
    command_line(
        run,
        __doc__,
        jobs=(JOBS, f"jobs started together (default {JOBS})"),
        images=(IMAGES, f"images per job (default {IMAGES})"),
        concurrency=(CONCURRENCY, f"IMAGE_CONCURRENCY of the worker (default {CONCURRENCY})"),
    )


if __name__ == "__main__":
    main()
