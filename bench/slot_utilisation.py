"""Slot utilisation: a 40-image job at IMAGE_CONCURRENCY=2 against a fake Gemini that takes 1 s
per call, beside a plain asyncio loop making the same 40 calls behind a semaphore of 2.

    .venv/bin/python -m bench.slot_utilisation [--rounds 2]

Project: wall time from the workflow start to its result, workers in this process. Baseline:
the 40 requests the project sent (recorded by the fake in a warm-up run), replayed through the
same `GeminiGenerator` with `asyncio.Semaphore(2)`: no database, storage or durability, so it is
the floor any implementation of this job pays. Project and baseline alternate which runs first.

The workflow history says where the difference goes: before the first generator call, per
image on each generator slot beyond the call itself, and after the last call.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHistory

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
)
from clients.image_generator import ImageGenerator
from domain.generation.request import GeneratorRequest, ImagePart, Part, TextPart
from quel.resources import open_generator, open_resources
from quel.settings import Settings
from quel.worker import running_workers
from tests.fakes.gemini_server import FakeGemini, RecordedCall
from tests.support.histories import image_scheduled_events

IMAGES = 40
CONCURRENCY = 2
LATENCY = 1.0
WARM_UP_LATENCY = 0.05
TARGET = 1.05


@dataclass(frozen=True)
class Profile:
    """Where the project's wall time goes beyond the generator calls, from the history."""

    head: float
    """Workflow start to the first generator activity start."""
    per_call: float
    """Mean time a generator slot spends on each image beyond the call's latency, between the
    first activity start and the last activity end."""
    tail: float
    """Last generator activity end to the workflow's completion."""

    def describe(self) -> str:
        return (
            f"head {self.head * 1000:.0f} ms, per image and slot beyond the call {self.per_call * 1000:.0f} ms,"
            f" tail {self.tail * 1000:.0f} ms"
        )


def request_of(call: RecordedCall) -> GeneratorRequest:
    parts: list[Part] = [
        TextPart(part.text) if part.text is not None else ImagePart(data=part.data or b"", mime=part.mime or "")
        for part in call.parts
    ]
    return GeneratorRequest(parts=tuple(parts), aspect_ratio=call.aspect_ratio or "1:1", temperature=call.temperature)


async def baseline(
    generator: ImageGenerator, requests: list[GeneratorRequest], concurrency: int = CONCURRENCY
) -> float:
    """Seconds for plain asyncio to make `requests` through `generator`, `concurrency` at a time."""
    slots = asyncio.Semaphore(concurrency)

    async def draw(request: GeneratorRequest) -> None:
        async with slots:
            await generator.generate(request)

    began = time.perf_counter()
    await asyncio.gather(*(draw(request) for request in requests))
    return time.perf_counter() - began


async def project(stack: Stack, settings: Settings) -> tuple[float, WorkflowHistory]:
    (job_id,) = await seed_fashion_jobs(settings, jobs=1, images=IMAGES)
    began = time.perf_counter()
    handle = await run_job(stack.client, settings, job_id, IMAGES)
    elapsed = time.perf_counter() - began
    return elapsed, await handle.fetch_history()


def profile(history: WorkflowHistory, latency: float) -> Profile:
    """From the server's event times of the `generate_image` activities. The worker prepares
    one image ahead of its generator slots, so activity spans include waiting for a slot; the
    span from the first start to the last end is what the slots were kept busy for."""
    events = history.events
    generate_ids = {event.event_id for event in image_scheduled_events(history)}

    def time_of(event_type: EventType.ValueType, scheduled: str) -> list[datetime]:
        return sorted(
            event.event_time.ToDatetime()
            for event in events
            if event.event_type == event_type and getattr(event, scheduled).scheduled_event_id in generate_ids
        )

    starts = time_of(EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED, "activity_task_started_event_attributes")
    ends = time_of(EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED, "activity_task_completed_event_attributes")
    began, finished = events[0].event_time.ToDatetime(), events[-1].event_time.ToDatetime()
    calls_per_slot = len(starts) / CONCURRENCY
    busy = (ends[-1] - starts[0]).total_seconds()
    return Profile(
        head=(starts[0] - began).total_seconds(),
        per_call=busy / calls_per_slot - latency,
        tail=(finished - ends[-1]).total_seconds(),
    )


async def run(folder: Path, *, rounds: int = 2) -> BenchResult:
    result = BenchResult("slot utilisation")
    with FakeGemini(latency=WARM_UP_LATENCY) as fake:
        async with local_stack(folder) as stack:
            settings = bench_settings(stack, fake, image_concurrency=CONCURRENCY)
            await seed_everything(settings)
            generator = open_generator(settings)
            try:
                async with open_resources(settings) as resources, running_workers(stack.client, settings, resources):
                    # Warm-up: worker caches and connections, and the 40 requests the baseline replays.
                    await project(stack, settings)
                    requests = [request_of(call) for call in fake.calls]
                    assert len(requests) == IMAGES, len(requests)
                    await baseline(generator, requests[:CONCURRENCY])
                    fake.latency = LATENCY
                    projects, baselines = [], []
                    for number in range(rounds):
                        if number % 2 == 0:
                            elapsed, history = await project(stack, settings)
                            floor = await baseline(generator, requests)
                        else:
                            floor = await baseline(generator, requests)
                            elapsed, history = await project(stack, settings)
                        projects.append(elapsed)
                        baselines.append(floor)
                        result.note(
                            f"round {number + 1}: project {elapsed:.3f} s, baseline {floor:.3f} s,"
                            f" ratio {elapsed / floor:.3f}; {profile(history, LATENCY).describe()}"
                        )
            finally:
                await generator.close()
    result.note(f"{IMAGES} images, {rounds} rounds, latency {LATENCY:g} s, ideal {IMAGES / CONCURRENCY * LATENCY:g} s")
    result.figures.append(
        Figure(
            benchmark="slot utilisation",
            what=f"{IMAGES}-image job wall time, IMAGE_CONCURRENCY={CONCURRENCY}, {LATENCY:g} s per call (median)",
            measured=statistics.median(projects),
            baseline=statistics.median(baselines),
            unit="s",
            baseline_is=f"asyncio Semaphore({CONCURRENCY}), same {IMAGES} calls",
            goal=Goal.AT_MOST,
            target=TARGET,
        )
    )
    return result


def main() -> None:
    command_line(run, __doc__, rounds=(2, "project/baseline pairs (default 2)"))


if __name__ == "__main__":
    main()
