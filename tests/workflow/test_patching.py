"""Changing the workflow safely: a change guarded by `workflow.patched` replays every committed
history; the same change unguarded is rejected as non-deterministic (README, "Changing the
workflow")."""

from __future__ import annotations

from datetime import timedelta

import pytest
from temporalio import workflow
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Replayer

from activities.contracts import StartedJob
from domain.plan import StagePlan
from quel.worker import WORKFLOW_RUNNER
from tests.support.histories import HISTORIES
from workflows.production_job import ProductionJobWorkflow
from workflows.progress import JobResult

PIPELINE = HISTORIES / "pipeline_stage.cinema.json"
PAUSE = timedelta(seconds=1)


@workflow.defn(name="ProductionJobWorkflow", sandboxed=False)
class PausesBetweenStagesPatched(ProductionJobWorkflow):
    """A new behaviour (a pause before each stage) that old runs must not see."""

    @workflow.run
    async def run(self, job_id: str) -> JobResult:
        return await super().run(job_id)

    async def _run_stage(self, started: StartedJob, stage: StagePlan) -> None:
        if workflow.patched("pause-before-stage"):
            await workflow.sleep(PAUSE)
        await super()._run_stage(started, stage)


@workflow.defn(name="ProductionJobWorkflow", sandboxed=False)
class PausesBetweenStagesUnguarded(ProductionJobWorkflow):
    @workflow.run
    async def run(self, job_id: str) -> JobResult:
        return await super().run(job_id)

    async def _run_stage(self, started: StartedJob, stage: StagePlan) -> None:
        await workflow.sleep(PAUSE)
        await super()._run_stage(started, stage)


async def replay(workflow_class: type) -> None:
    replayer = Replayer(
        workflows=[workflow_class], workflow_runner=WORKFLOW_RUNNER, data_converter=pydantic_data_converter
    )
    await replayer.replay_workflow(WorkflowHistory.from_json(PIPELINE.stem, PIPELINE.read_text()))


async def test_patched_change_replays_old_histories() -> None:
    await replay(PausesBetweenStagesPatched)


async def test_unguarded_change_is_rejected_by_the_replayer() -> None:
    with pytest.raises(workflow.NondeterminismError):
        await replay(PausesBetweenStagesUnguarded)
