"""A payer's row locked elsewhere (an admin's open transaction, the legacy worker) holds up that
payer's charges, and only those: another payer's job on the same worker runs meanwhile."""

from __future__ import annotations

import asyncio
import time

import asyncpg
from temporalio.client import Client

from clients.postgres import connect
from quel.resources import require_url
from quel.settings import Settings
from tests.fakes.gemini_server import FakeGemini
from tests.faults.payer_locks import charges_waiting
from tests.support.harness import harness
from tests.support.seed import ORG_ID, seed_job

LOCK_SECONDS = 8.0
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
                while fake_gemini.call_count < ORGANISATION_JOBS * IMAGES_PER_JOB:
                    await asyncio.sleep(0.05)
                await asyncio.sleep(1.0)  # every job has a charge waiting on the lock by now
                waiting = len(await charges_waiting(observer))
                member = await h.start(member_job)
                result = await asyncio.wait_for(member.result(), timeout=LOCK_SECONDS)
                member_done = time.monotonic() - locked_at
                assert result.completed_images == 2
                assert waiting == 1, "one connection waits on the locked payer, the others stay free"
                await asyncio.sleep(max(0.0, LOCK_SECONDS - member_done))
            for handle in handles:
                assert (await handle.result()).completed_images == IMAGES_PER_JOB
            print(f"payer locked: the other payer's job was done {member_done:.1f} s into the lock")
            charged = await observer.fetchval(
                """SELECT count(*) FROM quel_credits c JOIN quel_production_jobs j ON c.production_idx = j.production_id
                   WHERE j.job_id = ANY($1::uuid[])""",
                organisation_jobs,
            )
            assert charged == ORGANISATION_JOBS * IMAGES_PER_JOB
    finally:
        await locker.close()
        await observer.close()
