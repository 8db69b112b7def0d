"""Runs real workers against a seeded database for one test."""

from __future__ import annotations

import asyncio
import io
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from PIL import Image
from pydantic import SecretStr
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.enums.v1 import EventType
from temporalio.api.workflowservice.v1 import ResetWorkflowExecutionRequest
from temporalio.client import Client, WorkflowFailureError, WorkflowHandle
from temporalio.exceptions import ApplicationError

from operations.start import start_job_workflow
from quel.resources import Resources, open_resources, open_storage
from quel.settings import Settings, load_settings
from quel.worker import running_workers
from tests.support.seed import input_paths, seed_accounts, seed_job
from workflows.production_job import ProductionJobWorkflow


def settings_for(database_url: str, redis_url: str, storage_dir: Path, **overrides: object) -> Settings:
    """Settings for one test: its own task queues (tests never collide) and storage folder, the
    offline generator, and `overrides`."""
    queue = uuid.uuid4().hex[:8]
    return load_settings(
        database_url=SecretStr(database_url),
        redis_url=SecretStr(redis_url),
        temporal_task_queue=f"jobs-{queue}",
        temporal_image_task_queue=f"images-{queue}",
        storage_dir=storage_dir,
        image_generator="offline",
        gemini_api_key=None,
        **overrides,
    )


def picture(path: str, colour: tuple[int, int, int]) -> bytes:
    """A small real image whose format matches the path's extension."""
    image = Image.new("RGB", (64, 48), colour)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG" if path.endswith(".png") else "WEBP")
    return buffer.getvalue()


@dataclass
class Harness:
    client: Client
    settings: Settings
    resources: Resources

    @property
    def db(self) -> asyncpg.Pool:
        return self.resources.pool

    async def seed(self, name: str, **changes: Any) -> str:
        """Inserts the fixture job `name` with `changes` (see `seed_job`); returns the job id."""
        async with self.db.acquire() as connection:
            return await seed_job(connection, name, **changes)

    async def start(self, job_id: str) -> WorkflowHandle[Any, Any]:
        headline = await self.resources.store.headline(job_id)
        await start_job_workflow(self.client, job_id, task_queue=self.settings.temporal_task_queue, headline=headline)
        return self.client.get_workflow_handle_for(ProductionJobWorkflow.run, job_id)

    async def job_row(self, job_id: str) -> asyncpg.Record:
        row = await self.db.fetchrow("SELECT * FROM quel_production_jobs WHERE job_id = $1", job_id)
        assert row is not None
        return row

    async def charges(self, production_id: Any) -> int:
        """Rows of the production in the credit ledger."""
        return int(await self.db.fetchval("SELECT count(*) FROM quel_credits WHERE production_idx = $1", production_id))


async def failure_of(handle: WorkflowHandle[Any, Any], *, timeout: float | None = None) -> ApplicationError:
    """The application error the workflow failed with (the test fails if it did not fail so)."""
    with pytest.raises(WorkflowFailureError) as failure:
        await asyncio.wait_for(handle.result(), timeout=timeout)
    assert isinstance(failure.value.cause, ApplicationError), failure.value.cause
    return failure.value.cause


async def seed_inputs(settings: Settings) -> None:
    """Every fixture input as a real image in the configured storage backend."""
    storage = open_storage(settings)
    try:
        for number, (_, path) in enumerate(sorted(input_paths().items())):
            await storage.upload(path, picture(path, (40 * number % 255, 90, 160)), content_type="image/webp")
    finally:
        await storage.close()


@asynccontextmanager
async def harness(client: Client, settings: Settings, *, workers: bool = True) -> AsyncIterator[Harness]:
    async with open_resources(settings) as resources:
        async with resources.pool.acquire() as connection:
            if not await connection.fetchval("SELECT count(*) FROM quel_member"):
                await seed_accounts(connection)
        await seed_inputs(settings)
        if workers:
            async with running_workers(client, settings, resources):
                yield Harness(client, settings, resources)
        else:
            yield Harness(client, settings, resources)


async def reset_to_first_task(client: Client, job_id: str) -> None:
    """`temporal workflow reset --type FirstWorkflowTask`: a new run of the same workflow id."""
    history = await client.get_workflow_handle(job_id).fetch_history()
    first_task = next(
        event.event_id for event in history.events if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED
    )
    await client.workflow_service.reset_workflow_execution(
        ResetWorkflowExecutionRequest(
            namespace=client.namespace,
            workflow_execution=WorkflowExecution(workflow_id=job_id),
            reason="re-run by a test",
            workflow_task_finish_event_id=first_task,
            request_id=str(uuid.uuid4()),
        )
    )
