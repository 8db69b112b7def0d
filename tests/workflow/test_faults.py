"""Faults of the generator, of storage and of the input: each ends as DECISIONS.md says, and
nothing is charged for an image that was not produced."""

from __future__ import annotations

import functools
import uuid
from typing import Any

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowFailureError, WorkflowHandle
from temporalio.exceptions import ApplicationError, CancelledError

from clients.cancel_flags import CancelFlags
from operations.start import StartResult, start_job_workflow
from quel.settings import Settings
from tests.fakes.gemini_server import FakeGemini, ok, safety, status
from tests.fakes.storage_server import FakeSupabaseStorage
from tests.support.harness import Harness, failure_of, harness
from tests.support.histories import keep_history
from tests.support.seed import MEMBER_ID, ORG_ID, fashion_job_of, fixture
from tests.support.waiting import eventually
from workflows import search_attributes as sa
from workflows.production_job import ProductionJobWorkflow


async def failed_run(h: Harness, job_id: str, *, history: str | None = None) -> ApplicationError:
    handle = await h.start(job_id)
    error = await failure_of(handle)
    if history:
        await keep_history(handle, history)
    return error


async def fashion_job_with_one_image_recorded(h: Harness) -> tuple[str, WorkflowHandle[Any, Any]]:
    """A four-image job, caught while its first image is recorded and the next are in flight."""
    job_id = await h.seed("single_batch.fashion")
    handle = await h.start(job_id)

    async def first_image_recorded() -> bool:
        return bool((await h.job_row(job_id))["completed_images"])

    await eventually(first_image_recorded, what="the first image recorded")
    return job_id, handle


async def test_rate_limited_call_is_retried_and_charged_once(
    client: Client, remote_settings: Settings, fake_gemini: FakeGemini
) -> None:
    fake_gemini.script(status(429, retry_after=0.2), ok(), ok())
    async with harness(client, remote_settings) as h:
        job_id = await h.seed("single_batch.eats")
        result = await (await h.start(job_id)).result()
        row = await h.job_row(job_id)
        assert (result.status, row["completed_images"], row["failed_images"]) == ("completed", 2, 0)
        assert await h.charges(row["production_id"]) == 2
    assert fake_gemini.call_count == 3


async def test_service_unavailable_storm_passes(
    client: Client, remote_settings: Settings, fake_gemini: FakeGemini
) -> None:
    fake_gemini.script(*[status(503, retry_after=0.1)] * 4)
    async with harness(client, remote_settings) as h:
        job_id = await h.seed("single_batch.eats")
        result = await (await h.start(job_id)).result()
        assert (result.status, result.completed_images) == ("completed", 2)
    assert fake_gemini.call_count == 6


async def test_safety_block_fails_only_that_image_and_costs_nothing(
    client: Client, remote_settings: Settings, fake_gemini: FakeGemini
) -> None:
    fake_gemini.when_prompt_contains("seated on a stool", safety())
    async with harness(client, remote_settings) as h:
        job_id = await h.seed("simple_portrait.fashion")
        handle = await h.start(job_id)
        result = await handle.result()
        await keep_history(handle, "safety_block")
        row = await h.job_row(job_id)
        assert row["job_status"] == "completed"
        assert (row["completed_images"], row["failed_images"]) == (2, 1)
        assert row["error_message"] == "1 of 3 images failed: SAFETY (1)"
        assert result.failed_images == 1
        assert await h.charges(row["production_id"]) == 2
    assert fake_gemini.call_count == 3, "a safety block is not retried"


async def test_revoked_key_fails_the_whole_job_at_once(
    client: Client, remote_settings: Settings, fake_gemini: FakeGemini
) -> None:
    """A 50-image job: only the window's images are ever scheduled, so at most that many calls
    (plus those already in flight) reach Gemini before the job stops."""
    fake_gemini.set_default(status(403, message="API key was reported as leaked"))
    async with harness(client, remote_settings) as h:
        job_id = await h.seed("single_batch.fashion", job_input_data=fashion_job_of(50))
        error = await failed_run(h, job_id, history="revoked_key")
        row = await h.job_row(job_id)
        assert row["job_status"] == "failed"
        assert row["completed_at"] is not None
        assert "refused the credentials" in row["error_message"]
        assert error.message == row["error_message"]
        assert remote_settings.gemini_api_key is not None
        assert remote_settings.gemini_api_key.get_secret_value() not in row["error_message"]
        assert await h.charges(row["production_id"]) == 0
    print(f"revoked key, 50 images: {fake_gemini.call_count} calls")
    assert fake_gemini.call_count <= remote_settings.image_concurrency + remote_settings.job_image_window


async def test_missing_input_object_is_left_out(
    client: Client, remote_settings: Settings, fake_gemini: FakeGemini, fake_storage: FakeSupabaseStorage
) -> None:
    async with harness(client, remote_settings) as h:
        fake_storage.make_missing("attachments", "uploads/upload-2025-12-05T02-14-41-610Z.webp")  # the shoes
        job_id = await h.seed("single_batch.fashion")
        result = await (await h.start(job_id)).result()
        assert (result.status, result.completed_images) == ("completed", 4)
    assert all(call.mimes == ("image/webp", "image/png", "image/webp", None) for call in fake_gemini.calls)


BAD_INPUTS = {
    "aspect ratio": ({"aspect-ratio": "7:3"}, "aspect ratio '7:3' is not one of 1:1"),
    "quantity": ({"combinations": [{"angle": "front", "shot": "full", "quantity": 51}]}, "51"),
    "attach id": ({"individualImageAttachIds": [{"attachId": -3, "type": "model"}]}, "-3"),
    "entry": ({"combinations": ["front"]}, "combinations[0]"),
    "too many": ({"combinations": [{"quantity": 50}] * 5}, "at most 200"),
    "garbage": ("not an object", "job_input_data"),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
async def test_bad_input_fails_before_generating(
    client: Client, remote_settings: Settings, fake_gemini: FakeGemini, case: str
) -> None:
    change, expected = BAD_INPUTS[case]
    data = fixture("jobs/single_batch.eats.json")["job_input_data"]
    job_input = {**data, **change} if isinstance(change, dict) else change
    async with harness(client, remote_settings) as h:
        job_id = await h.seed("single_batch.eats", job_input_data=job_input)
        error = await failed_run(h, job_id, history="invalid_input" if case == "aspect ratio" else None)
        row = await h.job_row(job_id)
        assert row["job_status"] == "failed"
        assert expected in row["error_message"]
        assert error.type == "InvalidJobInput"
        assert await h.charges(row["production_id"]) == 0
    assert fake_gemini.call_count == 0


async def test_refused_storage_path_is_invalid_input(
    client: Client, remote_settings: Settings, fake_gemini: FakeGemini
) -> None:
    async with harness(client, remote_settings) as h:
        attach_id = await h.db.fetchval(
            "INSERT INTO quel_attach (attach_file_path) VALUES ('../../etc/passwd') RETURNING attach_id"
        )
        data = fixture("jobs/single_batch.eats.json")["job_input_data"]
        bad = {**data, "individualImageAttachIds": [{"attachId": attach_id, "type": "food"}]}
        job_id = await h.seed("single_batch.eats", job_input_data=bad)
        await failed_run(h, job_id)
        row = await h.job_row(job_id)
        assert f"attach {attach_id}" in row["error_message"] and ".." in row["error_message"]
    assert fake_gemini.call_count == 0


async def test_insufficient_credits_fail_before_generating(
    client: Client, remote_settings: Settings, fake_gemini: FakeGemini
) -> None:
    async with harness(client, remote_settings) as h:
        member = str(uuid.uuid4())
        await h.db.execute(
            "INSERT INTO quel_member (quel_member_id, quel_email, quel_member_credit) VALUES ($1, 'poor@x', 10)",
            member,
        )
        job_id = await h.seed("single_batch.eats", quel_member_id=member)
        error = await failed_run(h, job_id)
        row = await h.job_row(job_id)
        assert row["error_message"] == "insufficient credits: need 40, have 10"
        assert error.type == "InsufficientCredits"
        attributes = (await client.get_workflow_handle(job_id).describe()).typed_search_attributes
        assert attributes.get(sa.JOB_STATUS) == "failed", "refused jobs are still found by their attributes"
        assert (attributes.get(sa.JOB_TYPE), attributes.get(sa.MEMBER_ID)) == ("single_batch", member)
    assert fake_gemini.call_count == 0


async def test_payer_gone_when_an_image_is_charged_fails_the_job(
    client: Client, remote_settings: Settings, fake_gemini: FakeGemini
) -> None:
    """The charge finds no payer row (a trigger hides it from the UPDATE, as a deletion would):
    record_output's job-level failure ends the job instead of vanishing in its slot task."""
    async with harness(client, remote_settings) as h:
        member = str(uuid.uuid4())
        await h.db.execute(
            "INSERT INTO quel_member (quel_member_id, quel_email, quel_member_credit) VALUES ($1, 'gone@x', 500)",
            member,
        )
        await h.db.execute(
            f"""CREATE FUNCTION hide_member() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN IF OLD.quel_member_id = '{member}' THEN RETURN NULL; END IF; RETURN NEW; END $$;
                CREATE TRIGGER hide_member BEFORE UPDATE ON quel_member
                  FOR EACH ROW EXECUTE FUNCTION hide_member();"""
        )
        try:
            job_id = await h.seed("single_batch.eats", quel_member_id=member)
            error = await failed_run(h, job_id)
        finally:
            await h.db.execute("DROP TRIGGER hide_member ON quel_member; DROP FUNCTION hide_member();")
        row = await h.job_row(job_id)
        assert row["job_status"] == "failed"
        assert row["error_message"] == f"the paying member {member} no longer exists"
        assert error.type == "NoPayer"
        assert (row["completed_images"], await h.charges(row["production_id"])) == (0, 0)


async def test_inactive_organisation_leaves_the_member_paying(client: Client, remote_settings: Settings) -> None:
    async with harness(client, remote_settings) as h:
        await h.db.execute("UPDATE quel_organization SET org_status = 'inactive' WHERE org_id = $1", ORG_ID)
        try:
            member_before = await h.db.fetchval(
                "SELECT quel_member_credit FROM quel_member WHERE quel_member_id = $1", MEMBER_ID
            )
            org_before = await h.db.fetchval("SELECT org_credit FROM quel_organization WHERE org_id = $1", ORG_ID)
            job_id = await h.seed("single_batch.fashion")
            await (await h.start(job_id)).result()
            assert await h.db.fetchval(
                "SELECT quel_member_credit FROM quel_member WHERE quel_member_id = $1", MEMBER_ID
            ) == (member_before - 80)
            assert await h.db.fetchval("SELECT org_credit FROM quel_organization WHERE org_id = $1", ORG_ID) == (
                org_before
            )
        finally:
            await h.db.execute("UPDATE quel_organization SET org_status = 'active' WHERE org_id = $1", ORG_ID)


async def test_starting_the_same_job_twice_makes_one_set_of_images(
    client: Client, remote_settings: Settings, fake_gemini: FakeGemini
) -> None:
    async with harness(client, remote_settings) as h:
        job_id = await h.seed("single_batch.eats")
        start = functools.partial(
            start_job_workflow, client, job_id, task_queue=remote_settings.temporal_task_queue, headline=None
        )
        first, again = await start(), await start()
        await client.get_workflow_handle(job_id).result()
        after = await start()
        assert (first, again, after) == (StartResult.STARTED, StartResult.DUPLICATE, StartResult.DUPLICATE)
        row = await h.job_row(job_id)
        assert row["completed_images"] == 2
        assert await h.charges(row["production_id"]) == 2
    assert fake_gemini.call_count == 2


async def test_a_workflow_started_with_an_upper_case_id_works_on_the_job_as_the_row_spells_it(
    client: Client, remote_settings: Settings, fake_storage: FakeSupabaseStorage
) -> None:
    """As `temporal workflow start --workflow-id 6F0B... --input '"6F0B..."'` starts it: the outputs,
    the cancel flag and the progress all use the one spelling of the job id. The project's own start
    (`quel enqueue --direct`, the API) names the workflow by that spelling too: a second workflow
    id for the job, which finds the job already taken and leaves it alone."""
    async with harness(client, remote_settings) as h:
        job_id = await h.seed("single_batch.eats")
        upper = job_id.upper()
        task_queue = remote_settings.temporal_task_queue
        result = await client.execute_workflow(ProductionJobWorkflow.run, upper, id=upper, task_queue=task_queue)
        again = await start_job_workflow(client, upper, task_queue=task_queue, headline=None)
        second = await client.get_workflow_handle_for(ProductionJobWorkflow.run, job_id).result()
    assert (result.job_id, result.completed_images) == (job_id, 2)
    assert (again, second.status) == (StartResult.STARTED, "skipped")
    stored = [path for (_, path) in fake_storage.objects if job_id in path.lower()]
    assert len(stored) == 2 and all(f"/{job_id}/" in path for path in stored)


async def test_temporal_cancel_mid_job_keeps_what_was_produced(
    client: Client, remote_settings: Settings, fake_gemini: FakeGemini
) -> None:
    """A window of one image, so the last two of four are still waiting for their turn when the
    cancel comes: they must never be scheduled."""
    fake_gemini.latency = 0.6
    async with harness(client, remote_settings.model_copy(update={"job_image_window": 1})) as h:
        job_id, handle = await fashion_job_with_one_image_recorded(h)
        await handle.cancel()
        with pytest.raises(WorkflowFailureError) as failure:
            await handle.result()
        assert isinstance(failure.value.cause, CancelledError)
        await keep_history(handle, "temporal_cancel")
        row = await h.job_row(job_id)
        assert row["job_status"] == "user_cancelled"
        assert row["completed_at"] is not None
        assert 1 <= row["completed_images"] < 4
        assert await h.charges(row["production_id"]) == row["completed_images"]
        production = await h.db.fetchrow(
            "SELECT production_status::text, attach_ids FROM quel_production_photo WHERE production_id = $1",
            row["production_id"],
        )
        assert production is not None
        assert production["production_status"] == "user_cancelled"
        assert production["attach_ids"][1:] == row["generated_attach_ids"]
        events = [event.event_type async for event in handle.fetch_history_events()]
    cancelled_at = events.index(EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCEL_REQUESTED)
    scheduled = EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
    assert scheduled not in events[cancelled_at:], "nothing new starts after the cancel"
    assert fake_gemini.call_count <= events[:cancelled_at].count(scheduled), "no call for an image not started"


async def test_legacy_flag_set_mid_job_stops_new_images(
    client: Client, remote_settings: Settings, fake_gemini: FakeGemini
) -> None:
    fake_gemini.latency = 0.6
    async with harness(client, remote_settings) as h:
        job_id, handle = await fashion_job_with_one_image_recorded(h)
        await CancelFlags(h.resources.redis).set(job_id)
        result = await handle.result()
        row = await h.job_row(job_id)
        assert result.status == row["job_status"] == "user_cancelled"
        assert 1 <= row["completed_images"] < 4
        assert await h.charges(row["production_id"]) == row["completed_images"]


async def test_image_prepared_ahead_is_not_drawn_after_the_legacy_flag(
    client: Client, remote_settings: Settings, fake_gemini: FakeGemini
) -> None:
    """With four generator slots busy the worker starts a fifth image, which waits for a slot
    with its request ready; a cancel arriving meanwhile keeps it from calling at all."""
    fake_gemini.hold()
    settings = remote_settings.model_copy(update={"image_concurrency": 4})
    data = fixture("jobs/single_batch.eats.json")["job_input_data"]
    combinations = [{**combination, "quantity": 3} for combination in data["combinations"]]
    async with harness(client, settings) as h:
        job_id = await h.seed(
            "single_batch.eats", total_images=6, job_input_data={**data, "combinations": combinations}
        )
        handle = await h.start(job_id)

        async def five_images_started() -> bool:
            running = (await handle.describe()).raw_description.pending_activities
            return fake_gemini.in_flight == 4 and sum(bool(a.last_started_time.seconds) for a in running) == 5

        await eventually(five_images_started, what="five images started")
        await CancelFlags(h.resources.redis).set(job_id)
        fake_gemini.release()
        result = await handle.result()
        row = await h.job_row(job_id)
        assert result.status == row["job_status"] == "user_cancelled"
        assert row["completed_images"] == 0, "the replies that came after the flag are discarded"
        assert await h.charges(row["production_id"]) == 0
    assert fake_gemini.call_count == 4, "the image waiting for a slot never called the generator"
