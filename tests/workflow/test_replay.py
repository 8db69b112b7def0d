"""Every committed history replays against the current workflow code: a change that would
break running jobs fails here first. `before-database-steps-local/` holds runs recorded before
that patch, so both of its branches keep replaying; `before-2026-11-30/` holds the runs of the
code released before the job bounds, ownership and in-paint clean-up changes, which had to keep
replaying without a patch."""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from quel.worker import WORKFLOW_RUNNER
from tests.support.histories import HISTORIES
from workflows.production_job import ProductionJobWorkflow

RECORDED = sorted(HISTORIES.rglob("*.json"))
FOLDERS = {
    "current": HISTORIES,
    "before-database-steps-local": HISTORIES / "before-database-steps-local",
    "before-2026-11-30": HISTORIES / "before-2026-11-30",
}


@pytest.mark.parametrize("folder", FOLDERS.values(), ids=FOLDERS.keys())
def test_histories_of_every_job_type_are_committed(folder: Path) -> None:
    names = {path.stem for path in folder.glob("*.json")}
    assert {
        "single_batch.fashion",
        "single_batch.eats",
        "pipeline_stage.cinema",
        "simple_general.beauty",
        "simple_portrait.fashion",
        "modify",
        "temporal_cancel",
        "invalid_input",
        "revoked_key",
        "safety_block",
    } <= names


@pytest.mark.parametrize("path", RECORDED, ids=[str(path.relative_to(HISTORIES)) for path in RECORDED])
async def test_recorded_history_replays(path: Path) -> None:
    history = WorkflowHistory.from_json(path.stem, path.read_text())
    replayer = Replayer(
        workflows=[ProductionJobWorkflow], workflow_runner=WORKFLOW_RUNNER, data_converter=pydantic_data_converter
    )
    await replayer.replay_workflow(history)
