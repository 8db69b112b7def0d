"""Starting the workflow of a job id: the one call the bridge, `quel enqueue --direct`, the API and
the tests share. Workflow id = job id, and an id that already ran is never started again (D1)."""

from __future__ import annotations

from enum import StrEnum

from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from workflows.production_job import ProductionJobWorkflow


class StartResult(StrEnum):
    STARTED = "started"
    DUPLICATE = "duplicate"


async def start_job_workflow(client: Client, job_id: str, *, task_queue: str) -> StartResult:
    try:
        await client.start_workflow(
            ProductionJobWorkflow.run,
            job_id,
            id=job_id,
            task_queue=task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
        )
    except WorkflowAlreadyStartedError:
        return StartResult.DUPLICATE
    return StartResult.STARTED
