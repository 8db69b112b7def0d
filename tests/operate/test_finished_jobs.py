"""`quel status`, `quel jobs`, `quel history export` and `quel replay` on jobs that have ended, one completed and
one failed, run once for the module by real workers."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from temporalio.client import WorkflowFailureError
from temporalio.testing import WorkflowEnvironment

from quel.history import replay_files
from quel.jobs_listing import visibility_query
from tests.operate.cli import QuelRun, operate_settings, quel_env, run_quel
from tests.operate.nondeterministic_workflow import ReorderedProductionJobWorkflow
from tests.support.harness import Harness, harness
from tests.support.seed import ORG_ID, fixture

BAD_ASPECT_RATIO = "7:3"


@dataclass(frozen=True)
class Finished:
    h: Harness
    env: dict[str, str]
    folder: Path
    completed: str
    failed: str

    async def quel(self, *args: str) -> QuelRun:
        return await run_quel(*args, env=self.env, cwd=self.folder)


@pytest.fixture(scope="module")
async def finished(
    temporal_env: WorkflowEnvironment, database_url: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Finished]:
    folder = tmp_path_factory.mktemp("finished")
    settings = operate_settings(database_url, redis_url, folder)
    bad_input = fixture("jobs/single_batch.fashion.json")["job_input_data"]
    bad_input |= {"aspect-ratio": BAD_ASPECT_RATIO, "aspectRatio": BAD_ASPECT_RATIO}
    async with harness(temporal_env.client, settings) as h:
        completed = await h.seed("single_batch.fashion")
        failed = await h.seed("single_batch.fashion", job_input_data=bad_input)
        assert (await (await h.start(completed)).result()).status == "completed"
        with pytest.raises(WorkflowFailureError):
            await (await h.start(failed)).result()
        yield Finished(h, quel_env(settings, temporal_env), folder, completed, failed)


async def test_status_json_of_a_completed_job(finished: Finished) -> None:
    row = await finished.h.job_row(finished.completed)

    status = (await finished.quel("status", "--json", finished.completed)).json()

    assert status["job_id"] == finished.completed
    assert (status["job_status"], status["workflow_status"]) == ("completed", "completed")
    assert (status["total_images"], status["completed_images"], status["failed_images"]) == (4, 4, 0)
    assert status["generated_attach_ids"] == row["generated_attach_ids"]
    assert len(status["generated_attach_ids"]) == 4
    assert status["error_message"] is None
    # Answered by the closed workflow through the running worker: the row has no stage.
    assert (status["current_stage"], status["stage_count"], status["live_progress"]) == (0, 1, True)
    assert status["search_attributes"]["JobStatus"] == "completed"
    assert status["completed_at"] is not None


async def test_status_json_of_a_failed_job_names_the_error(finished: Finished) -> None:
    status = (await finished.quel("status", "--json", finished.failed)).json()

    assert (status["job_status"], status["workflow_status"]) == ("failed", "failed")
    assert (status["completed_images"], status["generated_attach_ids"]) == (0, [])
    assert f"'{BAD_ASPECT_RATIO}'" in status["error_message"]
    assert status["completed_at"] is not None


async def test_status_of_an_unknown_job_exits_non_zero(finished: Finished) -> None:
    run = await finished.quel("status", "--json", "00000000-0000-4000-8000-000000000000")

    assert run.returncode == 1
    assert run.stdout == ""
    assert "no job 00000000-0000-4000-8000-000000000000" in run.stderr


async def test_status_human_view_draws_the_job(finished: Finished) -> None:
    run = await finished.quel("status", finished.completed)

    assert run.returncode == 0, run.stderr
    assert finished.completed in run.stdout
    assert "4 produced, 0 failed, 4 requested" in run.stdout
    assert "━" in run.stdout  # the progress bar


async def test_jobs_lists_jobs_filtered_by_status_type_and_org(finished: Finished) -> None:
    failed, completed = await asyncio.gather(
        finished.quel("jobs", "--json", "--status", "failed", "--limit", "1000"),
        finished.quel(
            "jobs", "--json", "--status", "completed", "--type", "single_batch", "--org", ORG_ID, "--limit", "1000"
        ),
    )

    assert finished.failed in {job["job_id"] for job in failed.json()}
    assert {job["job_status"] for job in failed.json()} == {"failed"}
    [ours] = [job for job in completed.json() if job["job_id"] == finished.completed]
    assert {(job["job_status"], job["job_type"], job["org_id"]) for job in completed.json()} == {
        ("completed", "single_batch", ORG_ID)
    }
    assert (ours["workflow_status"], ours["production_path"]) == ("completed", "fashion")
    assert ours["member_id"]


def test_jobs_filter_that_is_not_an_identifier_is_refused() -> None:
    with pytest.raises(ValueError, match="JobType"):
        visibility_query(job_type="x' OR '1'='1")


@pytest.fixture(scope="module")
async def exported(finished: Finished) -> dict[str, Path]:
    """Both histories, exported once with `quel history export`."""
    files = {job_id: finished.folder / f"{job_id}.json" for job_id in (finished.completed, finished.failed)}
    runs = await asyncio.gather(*(finished.quel("history", "export", job, str(file)) for job, file in files.items()))
    assert [run.returncode for run in runs] == [0, 0], [run.stderr for run in runs]
    return files


async def test_exported_history_replays_against_the_current_workflow(
    finished: Finished, exported: dict[str, Path]
) -> None:
    replay = await finished.quel("replay", *map(str, exported.values()))

    assert replay.returncode == 0, replay.stderr
    for file in exported.values():
        assert json.loads(file.read_text())["events"][0]["eventType"] == "EVENT_TYPE_WORKFLOW_EXECUTION_STARTED"
        assert f"ok      {file}" in replay.stderr


async def test_replay_rejects_a_non_deterministic_change(finished: Finished, exported: dict[str, Path]) -> None:
    [outcome] = await replay_files([exported[finished.completed]], workflows=[ReorderedProductionJobWorkflow])

    assert outcome.error is not None
    assert outcome.error.startswith("NondeterminismError")


async def test_replay_exits_non_zero_naming_the_file_that_no_longer_replays(
    finished: Finished, exported: dict[str, Path]
) -> None:
    good = exported[finished.completed]
    # The history of an older workflow version that resolved inputs before claiming the job.
    events = json.loads(good.read_text())
    scheduled = [e for e in events["events"] if e["eventType"] == "EVENT_TYPE_ACTIVITY_TASK_SCHEDULED"]
    scheduled[0]["activityTaskScheduledEventAttributes"]["activityType"]["name"] = "resolve_inputs"
    bad = finished.folder / f"{finished.completed}.older-version.json"
    bad.write_text(json.dumps(events))

    replay = await finished.quel("replay", str(good), str(bad))

    assert replay.returncode == 1
    assert f"ok      {good}" in replay.stderr
    assert f"FAILED  {bad}" in replay.stderr
    assert "1 of 2 histories no longer replay" in replay.stderr
