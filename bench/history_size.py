"""History size: events and payload bytes per image for every fixture job type.

    .venv/bin/python -m bench.history_size

Each fixture job (tests/fixtures/jobs/) runs once to the end with the fake Gemini and workers in
this process; its history is fetched and divided by the images it produced. Payload bytes are
every `Payload` anywhere in the history (inputs, results, search attributes, failures), data
and metadata. The baseline is the issue's target itself: 15 events and 8 KB per image.

Small fixture jobs (2-4 images) carry the same per-job events (claim, inputs, finish, search
attributes) as large ones, so `single_batch.fashion` also runs at 40 images: the difference
between its 4- and 40-image runs is what each further image adds.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from google.protobuf.message import Message
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
    seed_fixture_job,
    start_job,
)
from quel.resources import open_resources
from quel.settings import Settings
from quel.worker import running_workers
from tests.fakes.gemini_server import FakeGemini
from tests.support.seed import FIXTURES

EVENTS_PER_IMAGE = 15.0
PAYLOAD_BYTES_PER_IMAGE = 8 * 1024.0
LARGE_JOB_IMAGES = 40
_PAYLOAD = "temporal.api.common.v1.Payload"


@dataclass(frozen=True)
class HistorySize:
    job: str
    images: int
    events: int
    payload_bytes: int
    history_bytes: int

    @property
    def events_per_image(self) -> float:
        return self.events / self.images

    @property
    def payload_bytes_per_image(self) -> float:
        return self.payload_bytes / self.images


def payload_bytes(message: Message) -> int:
    """Bytes of every Payload inside `message`, however deep (maps and lists included)."""
    if message.DESCRIPTOR.full_name == _PAYLOAD:
        return message.ByteSize()
    total = 0
    for field, value in message.ListFields():
        if field.message_type is None:
            continue
        if field.message_type.GetOptions().map_entry:
            if field.message_type.fields_by_name["value"].message_type is not None:
                total += sum(payload_bytes(item) for item in value.values())
        elif field.is_repeated:
            total += sum(payload_bytes(item) for item in value)
        else:
            total += payload_bytes(value)
    return total


def measure(job: str, images: int, history: WorkflowHistory) -> HistorySize:
    return HistorySize(
        job=job,
        images=images,
        events=len(history.events),
        payload_bytes=sum(payload_bytes(event) for event in history.events),
        history_bytes=sum(event.ByteSize() for event in history.events),
    )


def fixture_jobs() -> list[str]:
    return sorted(path.stem for path in (FIXTURES / "jobs").glob("*.json"))


async def run_fixture(stack: Stack, settings: Settings, name: str) -> HistorySize:
    job_id = await seed_fixture_job(settings, name)
    handle = await start_job(stack.client, settings, job_id)
    result = await handle.result()
    if result.status != "completed" or result.failed_images:
        raise RuntimeError(f"fixture {name} ended {result.status}: {result.error_message}")
    return measure(name, result.completed_images, await handle.fetch_history())


async def run_large(stack: Stack, settings: Settings) -> HistorySize:
    (job_id,) = await seed_fashion_jobs(settings, jobs=1, images=LARGE_JOB_IMAGES)
    handle = await run_job(stack.client, settings, job_id, LARGE_JOB_IMAGES)
    return measure(f"single_batch.fashion x{LARGE_JOB_IMAGES}", LARGE_JOB_IMAGES, await handle.fetch_history())


def figures_of(size: HistorySize) -> list[Figure]:
    return [
        Figure(
            benchmark="history",
            what=f"{size.job} ({size.images} images): events per image",
            measured=size.events_per_image,
            baseline=EVENTS_PER_IMAGE,
            unit="events",
            baseline_is=f"target: {EVENTS_PER_IMAGE:g} events/image",
            goal=Goal.UNDER,
            target=1.0,
        ),
        Figure(
            benchmark="history",
            what=f"{size.job} ({size.images} images): payload bytes per image",
            measured=size.payload_bytes_per_image,
            baseline=PAYLOAD_BYTES_PER_IMAGE,
            unit="B",
            baseline_is=f"target: {PAYLOAD_BYTES_PER_IMAGE / 1024:g} KB/image",
            goal=Goal.UNDER,
            target=1.0,
        ),
    ]


async def run(folder: Path) -> BenchResult:
    result = BenchResult("history")
    with FakeGemini() as fake:
        async with local_stack(folder) as stack:
            settings = bench_settings(stack, fake)
            await seed_everything(settings)
            async with open_resources(settings) as resources, running_workers(stack.client, settings, resources):
                sizes = [await run_fixture(stack, settings, name) for name in fixture_jobs()]
                sizes.append(await run_large(stack, settings))
    for size in sizes:
        result.note(
            f"{size.job}: {size.images} images, {size.events} events, {size.payload_bytes} payload bytes,"
            f" {size.history_bytes} history bytes"
        )
        result.figures += figures_of(size)
    small = next(size for size in sizes if size.job == "single_batch.fashion")
    further = marginal(small, sizes[-1])
    result.figures += figures_of(further)
    fixed = small.events - small.images * further.events_per_image
    result.note(f"{further.job}: fixed cost of a job about {fixed:.0f} events")
    return result


def marginal(small: HistorySize, large: HistorySize) -> HistorySize:
    """What the images of `large` beyond those of `small` added (same job type)."""
    return HistorySize(
        job=f"{small.job} each image beyond {small.images}",
        images=large.images - small.images,
        events=large.events - small.events,
        payload_bytes=large.payload_bytes - small.payload_bytes,
        history_bytes=large.history_bytes - small.history_bytes,
    )


def main() -> None:
    command_line(run, __doc__)


if __name__ == "__main__":
    main()
