"""Gemini quota (DECISIONS D13): two `quel worker` processes at IMAGE_CONCURRENCY=4 with
GEMINI_MAX_CALLS_PER_SECOND=2, a fake Gemini that takes 200 ms per call, one 40-image job.

    .venv/bin/python -m bench.quota [--images 40]

Without the limit the two workers would make up to 8 calls at once, 40 a second. With it, the
Temporal server hands out at most 2 image activities a second to both together and each call
takes its turn half a second after the last: the calls the fake received in any 5 s window (its
own record of when each began), beside the 10 the quota allows there, and the job's images per
second from its start to its result, beside the 2 the quota allows.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Sequence
from pathlib import Path

from bench.common import (
    BenchResult,
    Figure,
    Goal,
    bench_settings,
    command_line,
    local_stack,
    run_job,
    seed_everything,
    seed_fashion_jobs,
    worker_processes,
)
from tests.fakes.gemini_server import FakeGemini

IMAGES = 40
CONCURRENCY = 4
PROCESSES = 2
CALLS_PER_SECOND = 2.0
LATENCY = 0.2
WINDOW_SECONDS = 5.0
WINDOW_TARGET = 1.1
RATE_TARGET = 0.9


def busiest_window(starts: Sequence[float], seconds: float) -> int:
    """The most calls that began within any `seconds` of each other."""
    ordered = sorted(starts)
    most, first = 0, 0
    for last, moment in enumerate(ordered):
        while moment - ordered[first] >= seconds:
            first += 1
        most = max(most, last - first + 1)
    return most


async def run(folder: Path, *, images: int = IMAGES) -> BenchResult:
    result = BenchResult("quota")
    with FakeGemini(latency=LATENCY, keep_bodies=False) as fake:
        async with local_stack(folder) as stack:
            settings = bench_settings(stack, fake, image_concurrency=CONCURRENCY).model_copy(
                update={"gemini_max_calls_per_second": CALLS_PER_SECOND}
            )
            await seed_everything(settings)
            async with worker_processes(stack, settings, count=PROCESSES, logs=folder):
                (job_id,) = await seed_fashion_jobs(settings, jobs=1, images=images)
                began = time.perf_counter()
                await run_job(stack.client, settings, job_id, images)
                elapsed = time.perf_counter() - began
            starts = [start for start, _ in fake.spans]
    allowed = CALLS_PER_SECOND * WINDOW_SECONDS
    busiest = busiest_window(starts, WINDOW_SECONDS)
    ordered = sorted(starts)
    closest = min(later - earlier for earlier, later in itertools.pairwise(ordered))
    result.note(
        f"{images} images, {PROCESSES} workers at IMAGE_CONCURRENCY={CONCURRENCY},"
        f" GEMINI_MAX_CALLS_PER_SECOND={CALLS_PER_SECOND:g}, {LATENCY * 1000:.0f} ms per call"
    )
    result.note(
        f"job took {elapsed:.1f} s; at most {busiest} calls in {WINDOW_SECONDS:g} s; the closest two"
        f" {closest:.3f} s apart; {len(starts)} calls; most calls in flight at once {fake.max_in_flight}"
    )
    result.figures += [
        Figure(
            benchmark="quota",
            what=f"generator calls in the busiest {WINDOW_SECONDS:g} s, {PROCESSES} workers x {CONCURRENCY} slots",
            measured=busiest,
            baseline=allowed,
            unit="calls",
            baseline_is=f"the quota: {CALLS_PER_SECOND:g}/s x {WINDOW_SECONDS:g} s",
            goal=Goal.AT_MOST,
            target=WINDOW_TARGET,
        ),
        Figure(
            benchmark="quota",
            what="the closest two calls",
            measured=closest,
            baseline=1 / CALLS_PER_SECOND,
            unit="s",
            baseline_is="one turn: 1 / the quota",
        ),
        Figure(
            benchmark="quota",
            what=f"the {images}-image job's images per second, start to result",
            measured=images / elapsed,
            baseline=CALLS_PER_SECOND,
            unit="images/s",
            baseline_is="the quota",
            goal=Goal.AT_LEAST,
            target=RATE_TARGET,
        ),
    ]
    return result


def main() -> None:
    command_line(run, __doc__, images=(IMAGES, f"images of the job (default {IMAGES})"))


if __name__ == "__main__":
    main()
