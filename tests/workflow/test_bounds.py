"""Bounds of a job (DECISIONS D15) and failures that used to hang a job or vanish: every database
step retries within a time budget and then ends the job with its reason, a production row that
refuses the final status leaves the job final and the run failed, an image task's unhandled error
fails the workflow task, a job has at most a window of images in flight."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from temporalio import workflow
from temporalio.client import Client, WorkflowFailureError, WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.exceptions import ActivityError, CancelledError
from temporalio.worker import Replayer

from clients.cancel_flags import CancelFlags
from clients.storage import STORAGE_TIMEOUT_SECONDS
from quel.settings import Settings
from quel.worker import WORKFLOW_RUNNER
from tests.fakes.gemini_server import FakeGemini, ok, status
from tests.fakes.storage_server import FakeSupabaseStorage
from tests.support.harness import failure_of, harness
from tests.support.histories import HISTORIES
from tests.support.seed import fashion_job_of, fixture, input_paths
from tests.support.waiting import eventually
from workflows import search_attributes as sa
from workflows.production_job import DATABASE_TIMEOUT, STORAGE_TIMEOUT, ProductionJobWorkflow
from workflows.progress import JobResult


async def test_production_row_refusing_the_final_status_leaves_the_job_final_and_the_run_failed(
    client: Client, remote_settings: Settings
) -> None:
    """DOMAIN 3.1: the documented `production_status_enum` has no `user_cancelled`. The job row is
    written on its own and stays final; the run fails saying why (it used to retry forever with
    the job `processing`)."""
    async with harness(client, remote_settings) as h:
        # The column takes the documented enum (the type cannot lose a value, so it is swapped).
        await h.db.execute(
            """ALTER TABLE quel_production_photo ALTER COLUMN production_status DROP DEFAULT,
                 ALTER COLUMN production_status TYPE text;
               DROP TYPE production_status_enum;
               CREATE TYPE production_status_enum AS ENUM ('pending', 'processing', 'completed', 'failed');
               ALTER TABLE quel_production_photo
                 ALTER COLUMN production_status TYPE production_status_enum
                   USING production_status::production_status_enum,
                 ALTER COLUMN production_status SET DEFAULT 'pending';"""
        )
        try:
            job_id = await h.seed("single_batch.eats")
            await CancelFlags(h.resources.redis).set(job_id)
            handle = await h.start(job_id)
            error = await failure_of(handle, timeout=60)
        finally:
            await h.db.execute("ALTER TYPE production_status_enum ADD VALUE 'user_cancelled'")
        row = await h.job_row(job_id)
        assert (row["job_status"], row["completed_images"]) == ("user_cancelled", 0)
        assert row["completed_at"] is not None
        assert error.type == "ProductionNotUpdated"
        assert "user_cancelled" in error.message and "production_status_enum" in error.message
        production = await h.db.fetchval(
            "SELECT production_status::text FROM quel_production_photo WHERE production_id = $1",
            row["production_id"],
        )
        assert production == "processing"
        attributes = (await handle.describe()).typed_search_attributes
        assert attributes.get(sa.JOB_STATUS) == "user_cancelled", "the attribute follows the job row"


async def test_database_step_failing_past_its_budget_fails_the_job_with_the_reason(
    client: Client, remote_settings: Settings, fake_gemini: FakeGemini
) -> None:
    """Attach rows cannot be written (an error the database may well recover from, so it is
    retried): after the budget the job ends `failed` with the last error, nothing charged."""
    settings = remote_settings.model_copy(update={"database_step_budget_seconds": 2.0})
    async with harness(client, settings) as h:
        await h.db.execute(
            """CREATE FUNCTION attach_unavailable() RETURNS trigger LANGUAGE plpgsql AS $$
                 BEGIN RAISE EXCEPTION 'quel_attach is being rebuilt' USING ERRCODE = '55P03'; END $$;
               CREATE TRIGGER attach_unavailable BEFORE INSERT ON quel_attach
                 FOR EACH ROW EXECUTE FUNCTION attach_unavailable();"""
        )
        try:
            job_id = await h.seed("single_batch.eats")
            error = await failure_of(await h.start(job_id), timeout=60)
        finally:
            await h.db.execute("DROP TRIGGER attach_unavailable ON quel_attach; DROP FUNCTION attach_unavailable();")
        row = await h.job_row(job_id)
        assert row["job_status"] == "failed"
        assert row["completed_at"] is not None
        assert row["error_message"] == error.message
        assert error.message.startswith("record_output: still failing after 2 s: quel_attach is being rebuilt")
        assert error.type == "OutOfTime"
        assert (row["completed_images"], await h.charges(row["production_id"])) == (0, 0)
    assert fake_gemini.call_count == 2


@workflow.defn(name="ProductionJobWorkflow", sandboxed=False)
class MishandlesFailedImages(ProductionJobWorkflow):
    """A bug in the code that counts a failed image."""

    @workflow.run
    async def run(self, job_id: str) -> JobResult:
        return await super().run(job_id)

    def _image_failed(self, error: ActivityError) -> None:
        raise RuntimeError("bug while counting a failed image")


async def test_an_error_an_image_task_did_not_handle_fails_the_workflow_task() -> None:
    """The recorded run has one image blocked for safety. With the bug, that image used to count as
    neither produced nor failed and the job ended `completed`; now the workflow task fails (the UI
    shows it, Temporal retries it until a fixed worker runs it) and the job does not end."""
    history = (HISTORIES / "safety_block.json").read_text()
    replayer = Replayer(
        workflows=[MishandlesFailedImages], workflow_runner=WORKFLOW_RUNNER, data_converter=pydantic_data_converter
    )
    with pytest.raises(Exception, match="bug while counting a failed image") as failure:
        await replayer.replay_workflow(WorkflowHistory.from_json("safety_block", history))
    assert "an image's task failed" in str(failure.value)


async def test_a_slow_in_paint_upload_is_not_cut_off_by_a_database_steps_timeout(
    client: Client, remote_settings: Settings, fake_storage: FakeSupabaseStorage
) -> None:
    """The uploads of the mask and reference take storage's time (the client allows 30 s a
    request), not a database step's 15 s: a mask upload slower than 15 s is answered on its first
    attempt and never sent again (with the database step's timeout it was cut off and retried)."""
    async with harness(client, remote_settings) as h:
        fake_storage.hold_next_upload("modify-inputs/")
        job_id = await h.seed("modify")
        handle = await h.start(job_id)
        held = await asyncio.to_thread(fake_storage.wait_until_holding, 30)
        # The slowness itself is the fault: the reply comes once a database step would have given up.
        await asyncio.sleep(DATABASE_TIMEOUT.total_seconds() + 1)
        fake_storage.release_upload()
        result = await asyncio.wait_for(handle.result(), timeout=60)
    assert result.completed_images == 2
    uploads = fake_storage.uploads_of(held)
    assert len(uploads) == 1, uploads
    assert timedelta(seconds=STORAGE_TIMEOUT_SECONDS) < STORAGE_TIMEOUT


async def test_a_cancel_of_a_200_image_job_ends_it_soon_after_the_last_call_in_flight(
    client: Client, remote_settings: Settings, fake_gemini: FakeGemini
) -> None:
    """Only a window of images is scheduled: after the cancel they read the flag and stop, and the
    row is `user_cancelled` within 2 s of the last reply Gemini sent (timed by the fake itself)."""
    fake_gemini.latency = 0.3
    async with harness(client, remote_settings) as h:
        job_id = await h.seed("single_batch.fashion", job_input_data=fashion_job_of(200))
        handle = await h.start(job_id)

        async def first_image_recorded() -> bool:
            return bool((await h.job_row(job_id))["completed_images"])

        await eventually(first_image_recorded, timeout=60, what="the first image recorded")
        await handle.cancel()
        with pytest.raises(WorkflowFailureError) as failure:
            await asyncio.wait_for(handle.result(), timeout=60)
        assert isinstance(failure.value.cause, CancelledError)
        row = await h.job_row(job_id)
    assert row["job_status"] == "user_cancelled"
    last_reply = fake_gemini.last_reply_at
    assert last_reply is not None
    late = row["completed_at"].timestamp() - last_reply
    print(f"200-image job cancelled: {fake_gemini.call_count} calls, row final {late:.2f} s after the last reply")
    assert late <= 2.0
    assert fake_gemini.call_count <= remote_settings.image_concurrency + remote_settings.job_image_window


async def test_generation_retries_past_eight_attempts_within_its_budget(
    client: Client, remote_settings: Settings, fake_gemini: FakeGemini
) -> None:
    """Eight 503s in a row for one image: the ninth attempt draws it (8 attempts used to be all)."""
    fake_gemini.script(*[status(503, retry_after=0.05)] * 8, ok())
    settings = remote_settings.model_copy(update={"image_concurrency": 1})
    async with harness(client, settings) as h:
        eats = fixture("jobs/single_batch.eats.json")["job_input_data"]
        job_id = await h.seed("single_batch.eats", job_input_data={**eats, "combinations": eats["combinations"][:1]})
        result = await asyncio.wait_for((await h.start(job_id)).result(), timeout=60)
    assert (result.status, result.completed_images) == ("completed", 1)
    assert fake_gemini.call_count == 9


async def test_generation_failing_past_its_budget_fails_the_image_with_the_reason(
    client: Client, remote_settings: Settings, fake_gemini: FakeGemini
) -> None:
    fake_gemini.set_default(status(503, retry_after=0.2))
    settings = remote_settings.model_copy(update={"image_budget_seconds": 2.0})
    async with harness(client, settings) as h:
        job_id = await h.seed("single_batch.eats")
        error = await failure_of(await h.start(job_id), timeout=60)
        row = await h.job_row(job_id)
    assert row["job_status"] == "failed"
    assert row["error_message"] == error.message == "2 of 2 images failed: OUT_OF_TIME (2)"


async def test_a_reference_that_is_no_image_fails_the_image_saying_so(
    client: Client, remote_settings: Settings, fake_gemini: FakeGemini, fake_storage: FakeSupabaseStorage
) -> None:
    food = fixture("jobs/single_batch.eats.json")["job_input_data"]["individualImageAttachIds"][0]["attachId"]
    async with harness(client, remote_settings) as h:
        fake_storage.put_object("attachments", input_paths()[food], b"not an image at all")
        job_id = await h.seed("single_batch.eats")
        error = await failure_of(await h.start(job_id), timeout=60)
    assert error.message == "2 of 2 images failed: INVALID_REFERENCE (2)"
    assert fake_gemini.call_count == 0
