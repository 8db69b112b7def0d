"""Memory: the RSS of one real `quel worker` process through 10 jobs of 50 images at
IMAGE_CONCURRENCY=2, each job with five ~4 MB inputs of its own (noisy PNGs, which do not
compress) that every one of its images is made from.

    .venv/bin/python -m bench.memory [--jobs 10]

The jobs run one after another. psutil samples the worker's RSS every 50 ms: the peak while a
job runs, and the RSS once the job has ended and the worker has been idle for a moment. The
baselines are the worker's own figures earlier in the same run: idle before any job for the
peak, and job 1 for the growth after job N (target: at most 10 % more).

The worker maps large buffers on their own (quel/allocator.py), so its RSS after a job says what
it still holds rather than how much freed image memory glibc kept; an idle image worker drops
its reference and grid caches.
"""

from __future__ import annotations

import asyncio
import io
import math
import random
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import psutil
from PIL import Image

from activities.heartbeat import repeating
from bench.common import (
    BenchResult,
    Figure,
    Goal,
    Stack,
    bench_settings,
    command_line,
    database,
    fashion_input,
    local_stack,
    run_job,
    seed_everything,
    worker_processes,
)
from quel.resources import open_storage
from quel.settings import Settings
from tests.fakes.gemini_server import FakeGemini
from tests.support.seed import fixture, insert_row, seed_job

IMAGES = 50
INPUT_BYTES = 4 * 1024 * 1024
LATENCY = 0.05
SAMPLE_SECONDS = 0.05
SETTLE_SECONDS = 2.0
"""Idle time after a job before its RSS is read: the worker's last tasks and buffers are done."""
TARGET = 1.10
MIB = 1024 * 1024
FIRST_ATTACH_ID = 900_001
"""Attach ids of the benchmark's inputs, far from the fixtures' and the outputs' sequence."""


def noisy_png(size: int, seed: int) -> bytes:
    """A PNG of random pixels of about `size` bytes: noise leaves zlib nothing to remove."""
    side = math.isqrt(size // 3)
    pixels = random.Random(seed).randbytes(side * side * 3)
    buffer = io.BytesIO()
    Image.frombytes("RGB", (side, side), pixels).save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


class LargeInputJobs:
    """Fashion jobs of 50 images, each with five inputs of its own (attach rows and ~4 MB objects
    under new names; the pixels are reused), as every real job brings its own uploads: a worker
    that kept inputs across jobs would grow here."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        references = fixture("jobs/single_batch.fashion.json")["job_input_data"]["individualImageAttachIds"]
        self._types = [reference["type"] for reference in references]
        self._pictures = [noisy_png(INPUT_BYTES, number) for number in range(len(self._types))]
        self._attach_row = fixture("quel_attach.json")[0]
        self._next_attach_id = FIRST_ATTACH_ID

    @property
    def input_size(self) -> int:
        return sum(map(len, self._pictures)) // len(self._pictures)

    async def seed(self) -> str:
        async with database(self._settings) as connection:
            storage = open_storage(self._settings)
            try:
                references = []
                for kind, picture in zip(self._types, self._pictures, strict=True):
                    attach_id, path = self._next_attach_id, f"uploads/bench-{self._next_attach_id}.png"
                    self._next_attach_id += 1
                    row = {
                        **self._attach_row,
                        "attach_id": attach_id,
                        "attach_file_name": path.rpartition("/")[2],
                        "attach_file_path": path,
                        "attach_directory": path,
                        "attach_file_size": len(picture),
                        "attach_file_type": "image/png",
                    }
                    await insert_row(connection, "quel_attach", row)
                    await storage.upload(path, picture, content_type="image/png")
                    references.append({"attachId": attach_id, "type": kind})
                job_input = {**fashion_input(IMAGES), "individualImageAttachIds": references}
                return await seed_job(connection, "single_batch.fashion", job_input_data=job_input, total_images=IMAGES)
            finally:
                await storage.close()


@dataclass
class RssProbe:
    process: psutil.Process
    peak: int = 0

    def rss(self) -> int:
        return int(self.process.memory_info().rss)

    @asynccontextmanager
    async def watching(self) -> AsyncIterator[None]:
        """Samples while the block runs; `peak` is the highest RSS seen in it."""
        self.peak = self.rss()
        try:
            async with repeating(self._sample, SAMPLE_SECONDS):
                yield
        finally:
            self._sample()

    def _sample(self) -> None:
        self.peak = max(self.peak, self.rss())


@dataclass(frozen=True)
class JobMemory:
    seconds: float
    peak: int
    after: int


@dataclass(frozen=True)
class WorkerMemory:
    idle: int
    """RSS of the polling worker before its first job."""
    runs: list[JobMemory]
    input_size: int


async def run_one(stack: Stack, settings: Settings, probe: RssProbe, jobs: LargeInputJobs) -> JobMemory:
    job_id = await jobs.seed()
    began = time.perf_counter()
    async with probe.watching():
        await run_job(stack.client, settings, job_id, IMAGES)
    seconds = time.perf_counter() - began
    await asyncio.sleep(SETTLE_SECONDS)
    return JobMemory(seconds=seconds, peak=probe.peak, after=probe.rss())


async def watch_worker(
    stack: Stack,
    fake: FakeGemini,
    seeding: LargeInputJobs,
    folder: Path,
    *,
    jobs: int,
) -> WorkerMemory:
    settings = bench_settings(stack, fake)
    async with worker_processes(stack, settings, count=1, logs=folder) as (worker,):
        probe = RssProbe(psutil.Process(worker.pid))
        await asyncio.sleep(SETTLE_SECONDS)
        idle = probe.rss()
        runs = [await run_one(stack, settings, probe, seeding) for _ in range(jobs)]
    return WorkerMemory(idle, runs, seeding.input_size)


def describe(memory: WorkerMemory) -> list[str]:
    lines = [f"idle worker before any job {memory.idle / MIB:.0f} MiB"]
    lines += [
        f"job {number}: {run.seconds:.1f} s, peak {run.peak / MIB:.0f} MiB, after {run.after / MIB:.0f} MiB"
        for number, run in enumerate(memory.runs, start=1)
    ]
    return lines


async def run(folder: Path, *, jobs: int = 10) -> BenchResult:
    result = BenchResult("memory")
    with FakeGemini(latency=LATENCY, keep_bodies=False) as fake:
        async with local_stack(folder) as stack:
            await seed_everything(bench_settings(stack))
            seeding = LargeInputJobs(bench_settings(stack))
            memory = await watch_worker(stack, fake, seeding, folder, jobs=jobs)
    result.note(f"{IMAGES} images per job, each from 5 inputs of {memory.input_size / MIB:.1f} MiB")
    for line in describe(memory):
        result.note(line)
    result.figures += figures(memory)
    return result


def figures(memory: WorkerMemory) -> list[Figure]:
    first, last, jobs = memory.runs[0], memory.runs[-1], len(memory.runs)
    return [
        Figure(
            benchmark="memory",
            what=f"worker peak RSS during job 1 ({IMAGES} images, 4 MB inputs)",
            measured=first.peak / MIB,
            baseline=memory.idle / MIB,
            unit="MiB",
            baseline_is="idle worker before any job",
        ),
        Figure(
            benchmark="memory",
            what=f"worker RSS after job {jobs} vs after job 1",
            measured=last.after / MIB,
            baseline=first.after / MIB,
            unit="MiB",
            baseline_is="RSS after job 1",
            goal=Goal.AT_MOST,
            target=TARGET,
        ),
        Figure(
            benchmark="memory",
            what=f"worker peak RSS during job {jobs} vs during job 1",
            measured=last.peak / MIB,
            baseline=first.peak / MIB,
            unit="MiB",
            baseline_is="peak during job 1",
            goal=Goal.AT_MOST,
            target=TARGET,
        ),
    ]


def main() -> None:
    command_line(run, __doc__, jobs=(10, "jobs of 50 images, one after another (default 10)"))


if __name__ == "__main__":
    main()
