"""Who runs a job (D14) on real servers: a row the Go worker left `processing` is left alone
until `quel adopt` takes it over; a job of ours resumes as before; one job never has two
live workflows."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from temporalio import activity
from temporalio.client import Client, WorkflowFailureError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.contracts import ActivityName, StartedJob
from activities.job_activities import JobActivities
from domain.ownership import FOREIGN_PROCESSING
from operations.adopt import adopt_jobs
from quel.resources import open_storage
from quel.settings import Settings
from quel.worker import WORKFLOW_RUNNER
from tests.bridge.bridges import InProcessBridges
from tests.fakes.gemini_server import FakeGemini
from tests.operate.cli import run_quel
from tests.support.foreign import assert_adopted, job_counts, seed_foreign_job
from tests.support.harness import Harness, harness, reset_to_first_task
from tests.support.processes import settings_env
from tests.support.waiting import eventually
from workflows.production_job import ProductionJobWorkflow
from workflows.progress import JobResult

REPOSITORY = Path(__file__).resolve().parents[2]


async def test_foreign_job_is_left_alone_until_quel_adopt_finishes_it(
    client: Client,
    temporal_env: WorkflowEnvironment,
    remote_settings: Settings,
    fake_gemini: FakeGemini,
) -> None:
    async with harness(client, remote_settings) as h:
        job = await seed_foreign_job(h.db)
        before = await job_counts(h.db, job)
        bridges = InProcessBridges(client, remote_settings, h.resources)
        bridges.start()
        try:
            await h.resources.redis.lpush(remote_settings.redis_queue, job.job_id)
            skipped = await asyncio.wait_for(_result(h, job.job_id), timeout=60)
        finally:
            await bridges.stop_all()
        assert (skipped.status, skipped.error_message) == ("skipped", FOREIGN_PROCESSING)
        assert fake_gemini.call_count == 0
        assert await job_counts(h.db, job) == before, "nothing generated, charged or written"

        env = settings_env(remote_settings, temporal_address=temporal_env.client.service_client.config.target_host)
        listed = await run_quel("adopt", "--stale-after", "30m", "--dry-run", env=env, cwd=REPOSITORY)
        assert listed.returncode == 0, listed.stderr
        assert f"{job.job_id}  would adopt: 2 of 5 images made, 3 to generate" in listed.stdout
        assert await job_counts(h.db, job) == before

        adopted = await run_quel("adopt", job.job_id, env=env, cwd=REPOSITORY)
        assert adopted.returncode == 0, adopted.stderr
        assert f"{job.job_id}  adopted: 2 of 5 images made, 3 to generate (idle " in adopted.stdout
        assert "days); workflow started" in adopted.stdout
        result = await asyncio.wait_for(_result(h, job.job_id), timeout=60)
        assert (result.status, result.completed_images, result.attach_ids[:2]) == ("completed", 5, job.kept)
        assert fake_gemini.call_count == 3
        after = await job_counts(h.db, job)
        assert_adopted(after, job)

        again = await adopt_jobs(
            client, h.resources.store, [job.job_id], task_queue=remote_settings.temporal_task_queue
        )
        assert [report.describe() for report in again] == [f"{job.job_id}  refused: job is already completed"]
        assert await job_counts(h.db, job) == after


async def test_adopting_twice_while_the_adoption_runs_starts_nothing_more(
    client: Client, remote_settings: Settings, fake_gemini: FakeGemini
) -> None:
    fake_gemini.hold()
    async with harness(client, remote_settings) as h:
        job = await seed_foreign_job(h.db)
        queue = remote_settings.temporal_task_queue
        first = await adopt_jobs(client, h.resources.store, [job.job_id], task_queue=queue)
        await eventually(lambda: fake_gemini.in_flight >= 2, timeout=30, what="adopted images generating")
        second = await adopt_jobs(client, h.resources.store, [job.job_id], task_queue=queue)
        fake_gemini.release()
        result = await asyncio.wait_for(_result(h, job.job_id), timeout=60)
        assert [r.started.value if r.started else None for r in (*first, *second)] == ["started", "duplicate"]
        assert "adopted before" in second[0].describe()
        assert result.status == "completed"
        assert fake_gemini.call_count == 3
        assert_adopted(await job_counts(h.db, job), job)


async def test_a_second_workflow_id_for_the_same_job_is_skipped(
    client: Client, remote_settings: Settings, fake_gemini: FakeGemini
) -> None:
    """Two ids naming one job (here: letter case) must not both run it."""
    fake_gemini.hold()
    async with harness(client, remote_settings) as h:
        job_id = await h.seed("single_batch.fashion")
        owner = await h.start(job_id)
        await eventually(lambda: fake_gemini.in_flight >= 2, timeout=30, what="the owner generating")
        other = await client.start_workflow(
            ProductionJobWorkflow.run,
            job_id.upper(),
            id=job_id.upper(),
            task_queue=remote_settings.temporal_task_queue,
        )
        refused = await asyncio.wait_for(other.result(), timeout=30)
        fake_gemini.release()
        result = await asyncio.wait_for(owner.result(), timeout=60)
        assert (refused.status, refused.error_message) == ("skipped", f"job is run by workflow {job_id!r}")
        assert (result.status, result.completed_images) == ("completed", 4)
        assert fake_gemini.call_count == 4
        charges = await h.db.fetchval("SELECT count(*) FROM quel_temporal_charges WHERE job_id = $1", job_id)
        assert charges == 4


async def test_our_crashed_job_resumes_on_a_plain_rerun(
    client: Client, remote_settings: Settings, fake_gemini: FakeGemini
) -> None:
    """A run of ours that died mid-job leaves the row `processing` under our claim: the job's
    next run (a reset, as the runbook says) resumes it instead of taking it for foreign."""
    async with harness(client, remote_settings) as h:
        job_id = await h.seed("single_batch.fashion")
        handle = await h.start(job_id)
        await eventually(lambda: _completed_at_least(h, job_id, 2), timeout=60, what="two images recorded")
        await handle.terminate("worker lost mid-job")
        assert (await h.job_row(job_id))["job_status"] == "processing"
        await reset_to_first_task(client, job_id)
        result = await asyncio.wait_for(_result(h, job_id), timeout=60)
        assert (result.status, result.completed_images) == ("completed", 4)
        row = await h.job_row(job_id)
        assert (row["job_status"], row["completed_images"], len(set(row["generated_attach_ids"]))) == (
            "completed",
            4,
            4,
        )
        charges = await h.db.fetchval("SELECT count(*) FROM quel_temporal_charges WHERE job_id = $1", job_id)
        assert charges == 4


async def _result(h: Harness, job_id: str) -> JobResult:
    """The result of the job's latest run."""
    await eventually(lambda: _workflow_exists(h.client, job_id), timeout=30, what=f"workflow {job_id}")
    return await h.client.get_workflow_handle_for(ProductionJobWorkflow.run, job_id).result()


async def _workflow_exists(client: Client, job_id: str) -> bool:
    try:
        await client.get_workflow_handle(job_id).describe()
    except RPCError as error:
        if error.status is RPCStatusCode.NOT_FOUND:
            return False
        raise
    return True


async def _completed_at_least(h: Harness, job_id: str, images: int) -> bool:
    return bool((await h.job_row(job_id))["completed_images"] >= images)


async def test_a_run_whose_start_gave_up_never_ends_another_workers_job(
    client: Client, remote_settings: Settings
) -> None:
    """A start step that runs out of its budget may or may not have claimed the row, so the run
    ends the job `failed` only if it is still `pending` or this workflow claimed it: the Go
    worker's `processing` row stays exactly as it was."""

    @activity.defn(name=ActivityName.START_JOB)
    async def start_gives_up(job_id: str) -> StartedJob:
        raise ApplicationError("still failing after 10 minutes: the database", type="OutOfTime", non_retryable=True)

    async with harness(client, remote_settings, workers=False) as h:
        foreign = await seed_foreign_job(h.db)
        before = await job_counts(h.db, foreign)
        pending = await h.seed("single_batch.eats")
        storage = open_storage(remote_settings)
        jobs = JobActivities(
            h.resources.store,
            storage,
            h.resources.cancel_flags,
            price=remote_settings.image_per_price,
            image_task_queue=remote_settings.temporal_image_task_queue,
            storage_host=None,
            priorities=remote_settings.priorities,
            bounds=remote_settings.job_bounds,
        )
        try:
            async with Worker(
                client,
                task_queue=remote_settings.temporal_task_queue,
                workflows=[ProductionJobWorkflow],
                activities=[start_gives_up, jobs.finish_job],
                workflow_runner=WORKFLOW_RUNNER,
            ):
                for job_id in (foreign.job_id, pending):
                    handle = await h.start(job_id)
                    with pytest.raises(WorkflowFailureError):
                        await asyncio.wait_for(handle.result(), timeout=60)
        finally:
            await storage.close()
        assert await job_counts(h.db, foreign) == before, "the other worker's job is untouched"
        row = await h.job_row(pending)
        assert row["job_status"] == "failed"
        assert "still failing after 10 minutes: the database" in row["error_message"]
