"""Dispatch between tenants on the image task queue (DECISIONS D13): fairness between payers."""

from __future__ import annotations

import asyncio

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHandle

from quel.settings import Settings
from tests.fakes.gemini_server import FakeGemini
from tests.support.harness import Harness, harness
from tests.support.seed import seed_job

BIG = 12
SMALL = 4


async def scheduled_images(handle: WorkflowHandle[object, object]) -> int:
    history = await handle.fetch_history()
    return sum(
        1
        for event in history.events
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
        and event.activity_task_scheduled_event_attributes.activity_type.name == "generate_image"
    )


async def wait_for_images_scheduled(handle: WorkflowHandle[object, object], count: int) -> None:
    async with asyncio.timeout(30):
        while await scheduled_images(handle) < count:
            await asyncio.sleep(0.05)


async def seed_fashion(h: Harness, images: int, *, org_paid: bool) -> str:
    """An org-paid or a member-paid (no org) `single_batch.fashion` job of `images` images."""
    async with h.db.acquire() as connection:
        changes: dict[str, object] = {"total_images": images}
        if not org_paid:
            changes["org_id"] = None
        job_id = await seed_job(connection, "single_batch.fashion", **changes)
        await connection.execute(
            """UPDATE quel_production_jobs
               SET job_input_data = jsonb_set(job_input_data, '{combinations}', $2::jsonb)
               WHERE job_id = $1""",
            job_id,
            [{"angle": "front", "shot": "full", "quantity": images}],
        )
    return job_id


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
