"""SIGKILL of the `quel worker` process at random points of 20 jobs, and in the two windows a
crash is most likely to double-record or double-charge: every job still completes, with
exactly one object, one attach row and one charge per image.

The kill schedule (the job mix, how many images to wait for, how long after) comes from a
seeded random generator; the seed and every kill are printed. Process timing still varies
from run to run, so a failure is reproduced by the same schedule, not the same instant.
"""

from __future__ import annotations

import asyncio
import random
import time

import asyncpg
import pytest
from temporalio.client import Client

from quel.resources import require_url
from quel.settings import Settings
from tests.fakes.gemini_server import FakeGemini
from tests.fakes.storage_server import FakeSupabaseStorage
from tests.faults.held_storage import kill_between_upload_and_attach
from tests.faults.invariants import FIXTURE_IMAGES, balances, check_invariants, fake_storage_keys, fixture_completes
from tests.faults.payer_locks import backend_gone, waiting_charge
from tests.support.harness import Harness, harness
from tests.support.processes import QuelProcess
from tests.support.seed import MEMBER_ID, ORG_ID
from tests.support.waiting import eventually

SEED = 20_260_611
JOBS = 20
RANDOM_KILLS = 6
UPLOAD_THEN_ATTACH = "between upload and attach insert"
ATTACH_THEN_CHARGE = "between attach insert and charge"
RANDOM = "random"


async def produced(h: Harness, job_ids: list[str]) -> int:
    return int(
        await h.db.fetchval(
            "SELECT coalesce(sum(completed_images), 0) FROM quel_production_jobs WHERE job_id = ANY($1::uuid[])",
            job_ids,
        )
    )


async def all_final(h: Harness, job_ids: list[str]) -> bool:
    return not await h.db.fetchval(
        """SELECT count(*) FROM quel_production_jobs
           WHERE job_id = ANY($1::uuid[]) AND job_status IN ('pending', 'processing')""",
        job_ids,
    )


async def kill_at_random_point(h: Harness, worker: QuelProcess, job_ids: list[str], rng: random.Random) -> str:
    """Waits for 1 to 3 more recorded images, then kills up to 0.8 s later: generations,
    uploads, recordings and workflow tasks are in flight at unpredictable stages."""
    more, delay = rng.randint(1, 3), rng.uniform(0.0, 0.8)
    target = await produced(h, job_ids) + more
    await eventually(lambda: produced_at_least(h, job_ids, target), timeout=180, what=f"{target} images")
    await asyncio.sleep(delay)
    worker.kill()
    return f"{more} more image(s) recorded, then {delay:.2f}s"


async def produced_at_least(h: Harness, job_ids: list[str], target: int) -> bool:
    return await produced(h, job_ids) >= target or await all_final(h, job_ids)


async def kill_between_attach_and_charge(h: Harness, worker: QuelProcess) -> str:
    """record_output inserts the attach row, then decrements the payer's balance, in one
    transaction. The test holds the payers' rows locked, so the worker's transaction waits
    right after its attach insert; the worker dies there, and the open transaction (attach
    row included) must vanish with it."""
    locker = await asyncpg.connect(require_url(h.settings.database_url, "DATABASE_URL"))
    try:
        async with locker.transaction():
            await locker.execute("SELECT 1 FROM quel_member WHERE quel_member_id = $1 FOR UPDATE", MEMBER_ID)
            await locker.execute("SELECT 1 FROM quel_organization WHERE org_id = $1 FOR UPDATE", ORG_ID)
            pid = await waiting_charge(h.db, timeout=180)
            assert await h.db.fetchval(
                """SELECT 1 FROM pg_locks WHERE pid = $1 AND granted AND mode = 'RowExclusiveLock'
                     AND relation = 'quel_attach'::regclass""",
                pid,
            ), "the waiting transaction has inserted its attach row"
            worker.kill()
        # Unblocked, the orphaned backend finds its client gone and rolls back.
        await eventually(lambda: backend_gone(locker, pid), timeout=30, what=f"backend {pid} rolled back")
    finally:
        await locker.close()
    return f"backend {pid} waiting to charge"


async def run_through_kills(
    client: Client,
    settings: Settings,
    storage: FakeSupabaseStorage,
    worker: QuelProcess,
    *,
    names: list[str],
    plan: list[str],
    rng: random.Random,
) -> None:
    """Runs fixture jobs `names` on the worker process, killing and restarting it as `plan`
    says, then checks every invariant."""
    async with harness(client, settings, workers=False) as h:
        before = await balances(h.db)
        job_ids = [await h.seed(name) for name in names]
        started = time.monotonic()
        worker.start()
        try:
            for job_id in job_ids:
                await h.start(job_id)
            held_key, kills = "", 0
            for kind in plan:
                if await all_final(h, job_ids):
                    break
                if kind == UPLOAD_THEN_ATTACH:
                    held_key = detail = await kill_between_upload_and_attach(h, worker, storage)
                elif kind == ATTACH_THEN_CHARGE:
                    detail = await kill_between_attach_and_charge(h, worker)
                else:
                    detail = await kill_at_random_point(h, worker, job_ids, rng)
                kills += 1
                done = await produced(h, job_ids)
                print(f"kill {kills} at {time.monotonic() - started:.1f}s, {done} images recorded: {kind}: {detail}")
                worker.start()
            await asyncio.wait_for(
                asyncio.gather(*(client.get_workflow_handle(job_id).result() for job_id in job_ids)), timeout=300
            )
        finally:
            worker.stop()
        elapsed = time.monotonic() - started
        print(f"{len(job_ids)} jobs, {await produced(h, job_ids)} images, {kills} kills, {elapsed:.1f}s")
        assert kills == len(plan), "every planned kill landed while jobs were running"
        await check_invariants(
            h.db,
            jobs={job_id: fixture_completes(name) for job_id, name in zip(job_ids, names, strict=True)},
            balances_before=before,
            price=settings.image_per_price,
            stored=fake_storage_keys(storage),
            client=client,
        )
    if held_key:
        assert len(storage.uploads_of(held_key)) == 1, (
            "the retry after the kill reused the stored object instead of generating again"
        )


async def test_kills_in_the_two_riskiest_windows_leave_one_of_everything(
    client: Client,
    remote_settings: Settings,
    fake_gemini: FakeGemini,
    fake_storage: FakeSupabaseStorage,
    worker: QuelProcess,
) -> None:
    fake_gemini.latency = 0.3
    await run_through_kills(
        client,
        remote_settings,
        fake_storage,
        worker,
        names=["single_batch.fashion", "single_batch.eats"],  # one paid by the organisation, one by the member
        plan=[UPLOAD_THEN_ATTACH, ATTACH_THEN_CHARGE],
        rng=random.Random(SEED),
    )


@pytest.mark.slow
@pytest.mark.timeout(600)
async def test_worker_killed_at_random_points_of_20_jobs_leaves_one_of_everything(
    client: Client,
    remote_settings: Settings,
    fake_gemini: FakeGemini,
    fake_storage: FakeSupabaseStorage,
    worker: QuelProcess,
) -> None:
    rng = random.Random(SEED)
    print(f"worker kills: seed {SEED}")
    fake_gemini.latency = 0.3
    names = [sorted(FIXTURE_IMAGES)[n % len(FIXTURE_IMAGES)] for n in range(JOBS)]
    rng.shuffle(names)
    plan = [RANDOM] * RANDOM_KILLS
    plan.insert(0, UPLOAD_THEN_ATTACH)
    plan.insert(2, ATTACH_THEN_CHARGE)
    await run_through_kills(client, remote_settings, fake_storage, worker, names=names, plan=plan, rng=rng)
