"""A payer's row locked elsewhere (an admin's open transaction, the legacy worker) holds up that
payer's charges, and only those: another payer's job on the same worker runs meanwhile."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import asyncpg
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHandle

from clients.postgres import connect
from quel.resources import require_url
from quel.settings import Settings
from tests.fakes.gemini_server import FakeGemini
from tests.faults.payer_locks import charges_waiting
from tests.support.harness import harness
from tests.support.seed import ORG_ID, seed_job
from tests.support.waiting import eventually

LOCK_SECONDS = 8.0
"""How long the other payer's job may take while the lock is held."""
ORGANISATION_JOBS = 12
"""More jobs of one payer than the worker has database connections (10)."""
IMAGES_PER_JOB = 4


async def test_locked_payer_holds_up_only_its_own_charges(
    client: Client, remote_settings: Settings, fake_gemini: FakeGemini
) -> None:
    fake_gemini.latency = 0.05
    settings = remote_settings.model_copy(update={"image_concurrency": 8})
    url = require_url(settings.database_url, "DATABASE_URL")
    locker, observer = await asyncpg.connect(url), await connect(url)
    try:
        async with harness(client, settings) as h:
            organisation_jobs = [await seed_job(observer, "single_batch.fashion") for _ in range(ORGANISATION_JOBS)]
            member_job = await seed_job(observer, "single_batch.eats")
            async with locker.transaction():
                await locker.execute("SELECT 1 FROM quel_organization WHERE org_id = $1 FOR UPDATE", ORG_ID)
                locked_at = time.monotonic()
                handles = [await h.start(job_id) for job_id in organisation_jobs]

                async def every_charge_started() -> bool:
                    return all([await charges_started(handle) for handle in handles])

                async def a_charge_at_the_lock() -> bool:
                    return bool(await charges_waiting(observer))

                # The risky moment: 48 charges of one payer waiting, more than the pool's 10 connections.
                await eventually(every_charge_started, timeout=30, what="every image's charge started")
                await eventually(a_charge_at_the_lock, timeout=10, what="a charge waiting on the lock")
                waiting = len(await charges_waiting(observer))
                member = await h.start(member_job)
                result = await asyncio.wait_for(member.result(), timeout=LOCK_SECONDS)
                member_done = time.monotonic() - locked_at
                assert result.completed_images == 2
                assert waiting == 1, "one connection waits on the locked payer, the others stay free"
                assert await charged(observer, organisation_jobs) == 0, "the locked payer's charges all waited"
            for handle in handles:
                assert (await handle.result()).completed_images == IMAGES_PER_JOB
            print(f"payer locked: the other payer's job was done {member_done:.1f} s into the lock")
            assert await charged(observer, organisation_jobs) == ORGANISATION_JOBS * IMAGES_PER_JOB
    finally:
        await locker.close()
        await observer.close()


async def charges_started(handle: WorkflowHandle[Any, Any]) -> bool:
    """Every image of the job is generated and the workflow task that records them has started:
    its charges run (as local activities) in the worker now, none recorded yet."""
    events = [event.event_type async for event in handle.fetch_history_events()]
    generated = [i for i, kind in enumerate(events) if kind == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED]
    return len(generated) == IMAGES_PER_JOB and EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED in events[generated[-1] :]


async def charged(db: asyncpg.Connection, job_ids: list[str]) -> int:
    return int(
        await db.fetchval(
            """SELECT count(*) FROM quel_credits c JOIN quel_production_jobs j ON c.production_idx = j.production_id
               WHERE j.job_id = ANY($1::uuid[])""",
            job_ids,
        )
    )
