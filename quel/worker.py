"""The worker process: one worker on the main task queue (workflow + database activities) and
one on the image task queue (at most IMAGE_CONCURRENCY generator calls at once); with metrics on,
the image task queue's backlog as gauges."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import timedelta
from urllib.parse import urlsplit

from temporalio.client import Client
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from activities.image_activities import UPLOAD_MAX_SECONDS, ImageActivities
from activities.job_activities import JobActivities
from clients.call_spacing import CallSpacing, turn_key
from quel.allocator import map_large_buffers_separately
from quel.metrics import export_image_backlog
from quel.resources import Resources, open_generator, open_storage
from quel.settings import Settings
from workflows.production_job import ProductionJobWorkflow

# Passed through rather than re-imported per workflow run: structlog and rich render log
# records emitted inside the sandbox; a redis connection the garbage collector finalises during
# a workflow activation imports redis modules lazily, which must stay the host's; the others
# hold the data types of activity arguments and results, whose postponed annotations pydantic
# cannot resolve in a fresh sandbox. The workflow names its activities (`ActivityName`) and never
# imports their modules or the clients they hold.
ARGUMENT_TYPE_MODULES = ("activities.contracts", "domain.bounds", "domain.credits", "domain.outcome", "domain.plan")
WORKFLOW_RUNNER = SandboxedWorkflowRunner(
    restrictions=SandboxRestrictions.default.with_passthrough_modules(
        "structlog", "rich", "redis", *ARGUMENT_TYPE_MODULES
    )
)


def shutdown_grace(settings: Settings) -> timedelta:
    """How long a stopping worker waits for its activities: one generator call and the upload of its reply."""
    return timedelta(seconds=settings.gemini_timeout_seconds + UPLOAD_MAX_SECONDS)


@asynccontextmanager
async def running_workers(client: Client, settings: Settings, resources: Resources) -> AsyncIterator[None]:
    """Both workers polling until the block exits; then they finish what they hold and stop."""
    map_large_buffers_separately()
    async with AsyncExitStack() as stack:
        storage = open_storage(settings)
        stack.push_async_callback(storage.close)
        generator = open_generator(settings)
        stack.push_async_callback(generator.close)
        jobs = JobActivities(
            resources.store,
            storage,
            resources.cancel_flags,
            price=settings.image_per_price,
            image_task_queue=settings.temporal_image_task_queue,
            storage_host=urlsplit(settings.supabase_url).hostname if settings.supabase_url else None,
            priorities=settings.priorities,
            bounds=settings.job_bounds,
        )
        quota, image_queue = settings.gemini_max_calls_per_second, settings.temporal_image_task_queue
        spacing = CallSpacing(resources.redis, quota, key=turn_key(image_queue)) if quota else None
        images = ImageActivities(
            storage, generator, resources.cancel_flags, concurrency=settings.image_concurrency, spacing=spacing
        )
        # A stop (a deploy) lets a generator call in flight finish and its image be stored:
        # cancelled, the reply would be paid for and drawn again by the next worker.
        grace = shutdown_grace(settings)
        main = Worker(
            client,
            task_queue=settings.temporal_task_queue,
            workflows=[ProductionJobWorkflow],
            workflow_runner=WORKFLOW_RUNNER,
            graceful_shutdown_timeout=grace,
            activities=[
                jobs.start_job,
                jobs.resolve_inputs,
                jobs.prepare_modify_inputs,
                jobs.record_output,
                jobs.request_cancel,
                jobs.finish_job,
            ],
        )
        image = Worker(
            client,
            task_queue=settings.temporal_image_task_queue,
            activities=[images.generate_image],
            max_concurrent_activities=images.max_activities,
            graceful_shutdown_timeout=grace,
            max_task_queue_activities_per_second=settings.gemini_max_calls_per_second,
        )
        await stack.enter_async_context(main)
        await stack.enter_async_context(image)
        runtime = client.service_client.config.runtime
        if settings.metrics_port is not None and runtime is not None:
            stop = asyncio.Event()
            exporting = asyncio.create_task(
                export_image_backlog(client, settings.temporal_image_task_queue, runtime.metric_meter, stop)
            )
            stack.push_async_callback(lambda: exporting)
            stack.callback(stop.set)
        yield


async def run_until_stopped(client: Client, settings: Settings, resources: Resources, stop: asyncio.Event) -> None:
    async with running_workers(client, settings, resources):
        await stop.wait()
