"""Dispatch between tenants on the image task queue (DECISIONS D13): interactive jobs first, then
in turn between payers."""

from __future__ import annotations

import asyncio
import itertools

from temporalio.api.common.v1 import Priority
from temporalio.api.enums.v1 import RateLimitSource, TaskQueueType
from temporalio.api.workflowservice.v1 import DescribeTaskQueueResponse
from temporalio.client import Client, WorkflowHandle

from clients.task_queues import describe_task_queue
from quel.resources import open_resources
from quel.settings import Settings
from quel.worker import running_workers
from tests.fakes.gemini_server import FakeGemini
from tests.support.harness import Harness, harness
from tests.support.histories import image_scheduled_events
from tests.support.seed import MEMBER_ID, ORG_ID, fashion_job_of
from tests.support.waiting import eventually

BIG = 12
SMALL = 4
HELD = 1
"""Images the worker holds while the first call is held: the one in the call (one slot, none ahead)."""


async def image_priorities(handle: WorkflowHandle[object, object]) -> list[Priority]:
    """The priority of each `generate_image` activity, as the workflow scheduled it."""
    history = await handle.fetch_history()
    return [event.activity_task_scheduled_event_attributes.priority for event in image_scheduled_events(history)]


async def scheduled_images(handle: WorkflowHandle[object, object]) -> int:
    return len(await image_priorities(handle))


async def wait_for_images_scheduled(handle: WorkflowHandle[object, object], count: int) -> None:
    async def scheduled() -> bool:
        return await scheduled_images(handle) >= count

    await eventually(scheduled, timeout=30, what=f"{count} images scheduled")


async def seed_fashion(h: Harness, images: int, *, org_paid: bool) -> str:
    """An org-paid or a member-paid (no org) `single_batch.fashion` job of `images` images."""
    payer = {} if org_paid else {"org_id": None}
    return await h.seed("single_batch.fashion", total_images=images, job_input_data=fashion_job_of(images), **payer)


async def recorded_order(h: Harness, job_ids: list[str]) -> list[str]:
    """Job of each recorded output, in the order they were recorded (attach ids are a sequence)."""
    rows = await h.db.fetch(
        """SELECT job_id::text, attach_id::bigint FROM quel_production_jobs,
               jsonb_array_elements_text(generated_attach_ids) AS attach_id
           WHERE job_id = ANY($1::uuid[]) ORDER BY attach_id::bigint""",
        job_ids,
    )
    return [row["job_id"] for row in rows]


async def test_small_payer_is_served_before_a_big_payers_backlog_drains(
    client: Client, remote_settings: Settings, fake_gemini: FakeGemini
) -> None:
    """One generator slot. A's 12 images queue up while its first call is held; B (another payer)
    then queues 4. Served first come first served, all of A would be recorded before any of B."""
    settings = remote_settings.model_copy(update={"image_concurrency": 1})
    fake_gemini.hold()
    async with harness(client, settings) as h:
        big = await seed_fashion(h, BIG, org_paid=True)
        small = await seed_fashion(h, SMALL, org_paid=False)
        big_handle = await h.start(big)
        await wait_for_images_scheduled(big_handle, BIG)
        small_handle = await h.start(small)
        await wait_for_images_scheduled(small_handle, SMALL)
        fake_gemini.release()
        results = await asyncio.gather(big_handle.result(), small_handle.result())
        assert [result.status for result in results] == ["completed", "completed"]
        order = await recorded_order(h, [big, small])
    last_small = max(n for n, job in enumerate(order) if job == small)
    big_before_small_done = order[:last_small].count(big)
    assert big_before_small_done < BIG, order


async def test_modify_images_run_at_the_interactive_priority_and_batches_at_the_batch_one(
    client: Client, remote_settings: Settings
) -> None:
    async with harness(client, remote_settings) as h:
        modify = await h.seed("modify")
        batch = await h.seed("single_batch.fashion")
        handles = [await h.start(job_id) for job_id in (modify, batch)]
        for handle in handles:
            assert (await handle.result()).status == "completed"
        modify_priorities, batch_priorities = [await image_priorities(handle) for handle in handles]
    assert [(p.priority_key, p.fairness_key) for p in modify_priorities] == [(1, MEMBER_ID)] * 2
    assert [(p.priority_key, p.fairness_key) for p in batch_priorities] == [(3, ORG_ID)] * 4


async def test_an_in_paint_job_is_served_before_a_queued_batch_of_the_same_payer(
    client: Client, remote_settings: Settings, fake_gemini: FakeGemini
) -> None:
    """Same member, so fairness cannot tell them apart: only the priority puts the in-paint's
    images right after the ones the worker already held."""
    settings = remote_settings.model_copy(update={"image_concurrency": 1})
    fake_gemini.hold()
    async with harness(client, settings) as h:
        batch = await seed_fashion(h, BIG, org_paid=False)
        modify = await h.seed("modify")
        batch_handle = await h.start(batch)
        await wait_for_images_scheduled(batch_handle, BIG)
        modify_handle = await h.start(modify)
        await wait_for_images_scheduled(modify_handle, 2)
        fake_gemini.release()
        for handle in (batch_handle, modify_handle):
            assert (await handle.result()).status == "completed"
        order = await recorded_order(h, [batch, modify])
    assert order[HELD : HELD + 2] == [modify, modify], order


async def image_queue_once_polled(client: Client, settings: Settings) -> DescribeTaskQueueResponse:
    name, kind = settings.temporal_image_task_queue, TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY

    async def polled() -> DescribeTaskQueueResponse | None:
        described = await describe_task_queue(client, name, kind, config=True)
        return described if described.pollers else None

    described = await eventually(polled, timeout=30, what="a worker polling the image queue")
    assert described is not None
    return described


async def test_gemini_quota_is_the_image_queue_rate_limit_the_server_keeps_for_every_worker(
    client: Client, settings: Settings
) -> None:
    limited = settings.model_copy(update={"gemini_max_calls_per_second": 2.5})
    async with open_resources(limited) as resources, running_workers(client, limited, resources):
        described = await image_queue_once_polled(client, limited)
    assert described.effective_rate_limit.requests_per_second == 2.5
    assert described.effective_rate_limit.rate_limit_source == RateLimitSource.RATE_LIMIT_SOURCE_WORKER


async def test_with_a_gemini_quota_the_generator_calls_are_spaced_by_it(
    client: Client, remote_settings: Settings, fake_gemini: FakeGemini
) -> None:
    """The server hands out a second's worth of images (and one more) at once after an idle
    spell; the calls themselves still reach Gemini one interval apart."""
    calls_per_second = 2.0
    settings = remote_settings.model_copy(update={"gemini_max_calls_per_second": calls_per_second})
    async with harness(client, settings) as h:
        job_id = await seed_fashion(h, 6, org_paid=True)
        assert (await (await h.start(job_id)).result()).status == "completed"
    starts = sorted(start for start, _ in fake_gemini.spans)
    gaps = [later - earlier for earlier, later in itertools.pairwise(starts)]
    assert len(starts) == 6
    assert min(gaps) > 0.6 / calls_per_second, gaps  # the rest is the HTTP client's own jitter
