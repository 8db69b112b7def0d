"""The Temporal UI tells a job's story: the workflow carries the summary its starter read from the
job row, and every activity of its timeline says what it does (stage, view, image)."""

from __future__ import annotations

from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.api.sdk.v1 import WorkflowMetadata
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from quel.settings import Settings
from quel.worker import WORKFLOW_RUNNER
from tests.support.harness import harness
from workflows.production_job import ProductionJobWorkflow

LOCAL_ACTIVITY_MARKER = "core_local_activity"
"""The marker a local activity leaves in the history (a patch leaves another, `core_patch`)."""


def is_activity(event: HistoryEvent) -> bool:
    if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
        return True
    return (
        event.event_type == EventType.EVENT_TYPE_MARKER_RECORDED
        and event.marker_recorded_event_attributes.marker_name == LOCAL_ACTIVITY_MARKER
    )


def summary_of(event: HistoryEvent) -> str | None:
    if not event.user_metadata.HasField("summary"):
        return None
    text: str = pydantic_data_converter.payload_converter.from_payload(event.user_metadata.summary, str)
    return text


async def test_a_finished_job_has_a_summary_on_the_workflow_and_on_every_activity(
    client: Client, settings: Settings
) -> None:
    async with harness(client, settings) as h:
        job_id = await h.seed("single_batch.fashion")
        handle = await h.start(job_id)
        await handle.result()
        history = await handle.fetch_history()
        description = await handle.describe()
        metadata = await handle.query("__temporal_workflow_metadata", result_type=WorkflowMetadata)

    assert await description.static_summary() == "fashion · single_batch · 4 images · org Studio Lumen"
    assert summary_of(history.events[0]) == "fashion · single_batch · 4 images · org Studio Lumen"
    assert metadata.current_details == "completed: 4/4 images | stage 1/1"
    summaries = [summary_of(event) for event in history.events if is_activity(event)]
    assert len(summaries) == 1 + 1 + 4 + 4 + 1, summaries  # claim, inputs, 4 images, 4 records, finish
    assert None not in summaries, summaries
    assert summaries[0] == "claim job" and summaries[-1] == "finish: completed 4/4", summaries
    generated = [s.split(" · ") for s in summaries if s and s.startswith("stage 1/1 · ")]
    assert sorted(image for _, _, image in generated) == [f"image {n} of 4" for n in range(1, 5)], generated
    assert sorted(s for s in summaries if s and s.startswith("record")) == [f"record image {n}" for n in range(1, 5)]

    # Summaries are metadata, not commands: the run replays on the current code.
    replayer = Replayer(
        workflows=[ProductionJobWorkflow], workflow_runner=WORKFLOW_RUNNER, data_converter=pydantic_data_converter
    )
    await replayer.replay_workflow(history)
