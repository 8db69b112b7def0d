"""A reply Gemini was paid for is never thrown away: not for a cancel flag that cannot be read,
not for an upload that fails once, not for a worker that is asked to stop while the call runs."""

from __future__ import annotations

import asyncio
import logging

import pytest
import redis.asyncio as redis
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle

from clients.cancel_flags import flag_key
from quel.settings import Settings
from quel.worker import running_workers
from tests.fakes.gemini_server import FakeGemini
from tests.fakes.storage_server import FakeSupabaseStorage
from tests.support.harness import Harness, harness
from tests.support.waiting import eventually


async def one_image_job(h: Harness) -> str:
    return await h.seed("simple_general.beauty", total_images=1)


async def activity_failed_once(handle: WorkflowHandle[object, object]) -> bool:
    pending = (await handle.describe()).raw_description.pending_activities
    return any(activity.attempt > 1 for activity in pending)


async def test_reply_is_kept_when_the_flag_cannot_be_read_and_the_upload_fails_once(
    client: Client,
    remote_settings: Settings,
    fake_gemini: FakeGemini,
    fake_storage: FakeSupabaseStorage,
    redis_client: redis.Redis,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING)
    fake_gemini.hold()
    async with harness(client, remote_settings) as h:
        job_id = await one_image_job(h)
        handle = await h.start(job_id)
        await eventually(lambda: fake_gemini.in_flight == 1, timeout=30, what="the generator call in flight")
        # While the call runs: the flag's key holds a list, so reading it fails (WRONGTYPE), and
        # the next storage request (the upload of the reply: the inputs are already read) fails.
        await redis_client.lpush(flag_key(job_id), "not a flag")
        fake_storage.fail_next(1, 503)
        fake_gemini.release()

        async def upload_tried_or_activity_retried() -> bool:
            outputs = [r for r in fake_storage.requests if r.method == "POST" and f"/{job_id}/" in r.path]
            return bool(outputs) or await activity_failed_once(handle)

        await eventually(upload_tried_or_activity_retried, timeout=30, what="the reply handled")
        await redis_client.delete(flag_key(job_id))  # the job's next steps may read the flag again
        result = await handle.result()
    assert (result.status, result.completed_images) == ("completed", 1)
    assert fake_gemini.call_count == 1, "the reply was thrown away and paid for again"
    warnings = [record.getMessage() for record in caplog.records]
    assert any(w.startswith("cancel flag unreadable after the reply") for w in warnings), (
        "the flag failed after the reply"
    )
    assert any(w.startswith("upload failed; retrying") for w in warnings), "the first upload failed"


@pytest.fixture
def shutdown_log(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.INFO, logger="temporalio.worker")
    return caplog


async def test_worker_stopped_during_a_call_finishes_it_and_the_image_is_kept(
    client: Client,
    remote_settings: Settings,
    fake_gemini: FakeGemini,
    fake_storage: FakeSupabaseStorage,
    shutdown_log: pytest.LogCaptureFixture,
) -> None:
    fake_gemini.hold()
    async with harness(client, remote_settings, workers=False) as h:
        stop = asyncio.Event()

        async def worker_until_stopped() -> None:
            async with running_workers(client, remote_settings, h.resources):
                await stop.wait()

        first_worker = asyncio.create_task(worker_until_stopped())
        handle = await h.start(await one_image_job(h))
        await eventually(lambda: fake_gemini.in_flight == 1, timeout=30, what="the generator call in flight")

        stop.set()

        async def shutting_down() -> bool:
            return any(message.startswith("Beginning worker shutdown") for message in shutdown_log.messages)

        await eventually(shutting_down, timeout=30, what="the worker shutting down")
        fake_gemini.release()
        await first_worker
        history = await handle.fetch_history()
        # No worker is left to finish it; the stopping one may have recorded the image already.
        if (await handle.describe()).status is WorkflowExecutionStatus.RUNNING:
            await handle.terminate("test finished")
    # Completed in the stopping worker: the result is in the history, so it is never drawn again
    # (the next worker records it; waiting for that would only wait out the sticky queue's 10 s).
    completed = [event for event in history.events if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED]
    assert len(completed) == 1, "the stop cancelled the call in flight"
    assert [path for _, path in fake_storage.objects if f"/{handle.id}/" in path], "the image is stored"
    assert fake_gemini.call_count == 1, "the stopping worker dropped a paid-for call"
