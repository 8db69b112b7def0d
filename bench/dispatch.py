"""Dispatch between tenants (DECISIONS D13): how long a small job waits behind another payer's big
one, at IMAGE_CONCURRENCY=2 with a fake Gemini that takes 1 s per call.

    .venv/bin/python -m bench.dispatch [--big 60]

Payer A's 60-image job is started and its images queued; then the small job B starts, and B's
time from its start to its result is measured (A is then terminated: only B is measured). The
baseline is B alone on an idle worker, in the same run.

- Fairness: B is another payer's 4-image job, on a server with fairness on (every server the
  project starts) and on one with it off (Temporal's default, first come first served).
- Priority: B is a 2-image in-paint (modify) job, on the server with fairness on.

A fair share of 2 slots cannot beat 2x B's time alone; the targets are 2.5x.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from temporalio.client import WorkflowExecutionStatus, WorkflowHandle

from bench.common import (
    BenchResult,
    Figure,
    Goal,
    Stack,
    bench_settings,
    command_line,
    local_stack,
    run_job,
    seed_everything,
    seed_fashion_jobs,
    seed_fixture_job,
    start_job,
)
from quel.resources import open_resources
from quel.settings import Settings
from quel.worker import running_workers
from tests.fakes.gemini_server import FakeGemini
from tests.support.histories import image_scheduled_events

BIG = 60
CONCURRENCY = 2
LATENCY = 1.0
WARM_UP_LATENCY = 0.05
TARGET = 2.5
BATCH_IMAGES = 4
"""Images of the other payer's small batch job."""

SmallJob = Callable[[Settings], Awaitable[tuple[str, int]]]
"""Seeds the small job; returns its id and how many images it makes."""


async def other_payers_batch(settings: Settings) -> tuple[str, int]:
    (job_id,) = await seed_fashion_jobs(settings, jobs=1, images=BATCH_IMAGES, org_paid=False)
    return job_id, BATCH_IMAGES


async def in_paint(settings: Settings) -> tuple[str, int]:
    return await seed_fixture_job(settings, "modify"), 2


async def images_scheduled(handle: WorkflowHandle[Any, Any]) -> int:
    return len(image_scheduled_events(await handle.fetch_history()))


async def small_job_seconds(stack: Stack, fake: FakeGemini, small: SmallJob, *, behind: int) -> float:
    """B's start to its result, with `behind` images of payer A queued first (0: B alone)."""
    settings = bench_settings(stack, fake, image_concurrency=CONCURRENCY)
    async with open_resources(settings) as resources, running_workers(stack.client, settings, resources):
        big = None
        if behind:
            (big_id,) = await seed_fashion_jobs(settings, jobs=1, images=behind)
            big = await start_job(stack.client, settings, big_id)
            async with asyncio.timeout(60):  # A's images queued, as many as its window lets (D15)
                while await images_scheduled(big) < min(behind, settings.job_image_window):
                    await asyncio.sleep(0.1)
        job_id, images = await small(settings)
        began = time.perf_counter()
        await run_job(stack.client, settings, job_id, images)
        elapsed = time.perf_counter() - began
        if big is not None and (await big.describe()).status is WorkflowExecutionStatus.RUNNING:
            await big.terminate("benchmark: only the small job is measured")
    return elapsed


async def measure(folder: Path, *, fairness: bool, scenarios: dict[str, tuple[SmallJob, int]]) -> dict[str, float]:
    """Each scenario's seconds, on one server, with fairness on or off."""
    seconds = {}
    with FakeGemini(latency=WARM_UP_LATENCY, keep_bodies=False) as fake:
        async with local_stack(folder, fairness=fairness) as stack:
            await seed_everything(bench_settings(stack))
            await small_job_seconds(stack, fake, other_payers_batch, behind=0)  # warm-up
            fake.latency = LATENCY
            for name, (small, behind) in scenarios.items():
                seconds[name] = await small_job_seconds(stack, fake, small, behind=behind)
    return seconds


async def run(folder: Path, *, big: int = BIG) -> BenchResult:
    result = BenchResult("dispatch")
    (folder / "on").mkdir()
    (folder / "off").mkdir()
    on = await measure(
        folder / "on",
        fairness=True,
        scenarios={
            "batch alone": (other_payers_batch, 0),
            "batch behind": (other_payers_batch, big),
            "in-paint alone": (in_paint, 0),
            "in-paint behind": (in_paint, big),
        },
    )
    off = await measure(folder / "off", fairness=False, scenarios={"batch behind": (other_payers_batch, big)})
    result.note(f"payer A's job: {big} images; IMAGE_CONCURRENCY={CONCURRENCY}, {LATENCY:g} s per call")
    result.note(
        f"fairness on: B (another payer, {BATCH_IMAGES} images) "
        f"{on['batch behind']:.2f} s behind A, {on['batch alone']:.2f} s alone; "
        f"B (in-paint, 2 images) {on['in-paint behind']:.2f} s behind A, {on['in-paint alone']:.2f} s alone"
    )
    result.note(
        f"fairness off (Temporal's default): B (another payer, {BATCH_IMAGES} images)"
        f" {off['batch behind']:.2f} s behind A"
    )
    alone = on["batch alone"]
    result.figures += [
        Figure(
            benchmark="fairness",
            what=f"another payer's {BATCH_IMAGES}-image job behind a {big}-image job, fairness on: its time",
            measured=on["batch behind"],
            baseline=alone,
            unit="s",
            baseline_is="the same job alone",
            goal=Goal.AT_MOST,
            target=TARGET,
        ),
        Figure(
            benchmark="fairness",
            what="the same with fairness off (Temporal's default): its time",
            measured=off["batch behind"],
            baseline=alone,
            unit="s",
            baseline_is="the same job alone (fairness on)",
        ),
        Figure(
            benchmark="priority",
            what=f"a 2-image in-paint job behind a {big}-image batch: its time",
            measured=on["in-paint behind"],
            baseline=on["in-paint alone"],
            unit="s",
            baseline_is="the same job alone",
            goal=Goal.AT_MOST,
            target=TARGET,
        ),
    ]
    return result


def main() -> None:
    command_line(run, __doc__, big=(BIG, f"images of payer A's job (default {BIG})"))


if __name__ == "__main__":
    main()
