"""`quel status` and `quel cancel` on jobs that are still running: the offline generator is made slow so the job
is mid-way while the command looks at it."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as redis
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowFailureError, WorkflowHandle
from temporalio.exceptions import CancelledError
from temporalio.testing import WorkflowEnvironment

from clients.cancel_flags import CancelFlags, flag_key
from operations.cancel import CancelResult, cancel_job
from quel.settings import Settings
from tests.operate.cli import quel_env, run_quel
from tests.support.harness import Harness, harness
from tests.support.waiting import eventually
from workflows.production_job import ProductionJobWorkflow

SLOW_IMAGE_SECONDS = 30.0
"""Longer than the test looks at the job: no image finishes meanwhile."""
CANCELLED_IMAGE_SECONDS = 10.0
"""A cancelled job waits for the generator calls in flight (their replies are discarded): kept short."""


async def until_processing(handle: WorkflowHandle[Any, Any]) -> None:
    async def processing() -> bool:
        return (await handle.query(ProductionJobWorkflow.progress)).status == "processing"

    await eventually(processing, timeout=30, what="the job processing")


@asynccontextmanager
async def running_job(
    client: Client, settings: Settings, *, image_seconds: float, workers: bool = True
) -> AsyncIterator[tuple[Harness, str, WorkflowHandle[Any, Any]]]:
    slow = settings.model_copy(update={"offline_latency_seconds": image_seconds})
    async with harness(client, slow, workers=workers) as h:
        job_id = await h.seed("single_batch.fashion")
        handle = await h.start(job_id)
        if workers:
            await until_processing(handle)
        try:
            yield h, job_id, handle
        finally:
            if (await handle.describe()).status is WorkflowExecutionStatus.RUNNING:
                await handle.terminate("test finished")


async def test_status_json_of_a_running_job_shows_live_progress(
    temporal_env: WorkflowEnvironment, settings: Settings, tmp_path: Path
) -> None:
    async with running_job(temporal_env.client, settings, image_seconds=SLOW_IMAGE_SECONDS) as (_, job_id, _):
        status = (await run_quel("status", "--json", job_id, env=quel_env(settings, temporal_env), cwd=tmp_path)).json()

    assert (status["job_status"], status["workflow_status"], status["live_progress"]) == ("processing", "running", True)
    assert (status["total_images"], status["completed_images"], status["failed_images"]) == (4, 0, 0)
    assert (status["current_stage"], status["stage_count"]) == (0, 1)
    assert status["started_at"] is not None and status["completed_at"] is None
    assert status["search_attributes"]["JobStatus"] == "processing"


async def test_status_without_a_worker_falls_back_to_the_row(
    temporal_env: WorkflowEnvironment, settings: Settings, tmp_path: Path
) -> None:
    env = quel_env(settings, temporal_env)
    async with running_job(temporal_env.client, settings, image_seconds=0, workers=False) as (_, job_id, _):
        run = await run_quel("status", "--json", "--query-timeout", "1", job_id, env=env, cwd=tmp_path)

    status = run.json()
    assert (status["job_status"], status["workflow_status"], status["live_progress"]) == ("pending", "running", False)
    assert (status["total_images"], status["current_stage"]) == (4, None)


async def test_status_watch_follows_the_job_until_it_ends(
    temporal_env: WorkflowEnvironment, settings: Settings, tmp_path: Path
) -> None:
    env = quel_env(settings, temporal_env)
    # Two images at a time: the job takes two rounds of this, longer than `quel` takes to start on a busy machine.
    async with running_job(temporal_env.client, settings, image_seconds=10) as (_, job_id, _):
        run = await run_quel("status", "--watch", "--json", job_id, env=env, cwd=tmp_path)

    status = run.json()
    assert (status["job_status"], status["workflow_status"], status["completed_images"]) == (
        "completed",
        "completed",
        4,
    )
    assert f"job {job_id[:8]}" in run.stderr  # the live progress bar was drawn


async def test_cancel_ends_a_running_job_user_cancelled(
    temporal_env: WorkflowEnvironment, settings: Settings, redis_client: redis.Redis, tmp_path: Path
) -> None:
    """The operator types the id in upper case: it still names the job's workflow and flag."""
    env = quel_env(settings, temporal_env)
    async with running_job(temporal_env.client, settings, image_seconds=CANCELLED_IMAGE_SECONDS) as (h, job_id, handle):
        cancel = await run_quel("cancel", job_id.upper(), env=env, cwd=tmp_path)
        with pytest.raises(WorkflowFailureError) as ended:
            await handle.result()
        row = await h.job_row(job_id)
        status = (await run_quel("status", "--json", job_id.upper(), env=env, cwd=tmp_path)).json()
        again = await cancel_job(temporal_env.client, CancelFlags(redis_client), job_id)

    assert cancel.returncode == 0, cancel.stderr
    assert isinstance(ended.value.cause, CancelledError)
    assert row["job_status"] == "user_cancelled"
    # Images the generator finished before the cancel are kept; none after it.
    assert row["completed_images"] == len(row["generated_attach_ids"]) < 4
    assert row["completed_at"] is not None
    assert await redis_client.get(flag_key(job_id)) == b"true"
    assert 3500 < await redis_client.ttl(flag_key(job_id)) <= 3600
    assert (status["job_status"], status["workflow_status"]) == ("user_cancelled", "canceled")
    assert again.result is CancelResult.ALREADY_CLOSED


async def test_cancel_before_the_workflow_starts_leaves_the_legacy_flag(
    temporal_env: WorkflowEnvironment, redis_client: redis.Redis
) -> None:
    job_id = str(uuid.uuid4())

    outcome = await cancel_job(temporal_env.client, CancelFlags(redis_client), job_id)

    assert outcome.result is CancelResult.NOT_STARTED
    assert await redis_client.get(flag_key(job_id)) == b"true"


async def test_enqueue_direct_starts_the_job_with_the_summary_and_priority_of_its_row(
    temporal_env: WorkflowEnvironment, settings: Settings, tmp_path: Path
) -> None:
    """Given in upper case, the id still starts the workflow named by the job id as the row spells it."""
    async with harness(temporal_env.client, settings, workers=False) as h:
        job_id = await h.seed("pipeline_stage.cinema")
        env = quel_env(settings, temporal_env)
        run = await run_quel("enqueue", "--direct", job_id.upper(), env=env, cwd=tmp_path)
        handle = temporal_env.client.get_workflow_handle(job_id)
        described = await handle.describe()
        summary = await described.static_summary()
        await handle.terminate("test finished")

    assert run.returncode == 0, run.stderr
    assert summary == "cinema · pipeline_stage · 3 images · member Mina Park"
    assert described.raw_description.workflow_execution_info.priority.priority_key == settings.priority_batch
