"""Starting the workflow of a job id: the one call the bridge, `quel enqueue --direct`, the API and
the tests share. Workflow id = job id, and an id that already ran is never started again (D1)."""

from __future__ import annotations

from enum import StrEnum

from temporalio.client import Client
from temporalio.common import Priority, WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

from clients.job_store import JobHeadline
from domain.job_ids import canonical_job_id
from workflows.production_job import ProductionJobWorkflow

_NAME_LIMIT = 40


class StartResult(StrEnum):
    STARTED = "started"
    DUPLICATE = "duplicate"


def job_summary(job_id: str, headline: JobHeadline | None) -> str:
    """The workflow's summary in the Temporal UI: `fashion · single_batch · 4 images · org Acme`."""
    if headline is None:
        return f"job {job_id[:8]} · no job row when it was started"
    images = "1 image" if headline.total_images == 1 else f"{headline.total_images} images"
    payer = (
        f"org {_cut(headline.org_name)}"
        if headline.org_name
        else f"member {_cut(headline.member_name)}"
        if headline.member_name
        else None
    )
    return " · ".join(part for part in (headline.production_path, headline.job_type, images, payer) if part)


def _cut(name: str) -> str:
    return name if len(name) <= _NAME_LIMIT else name[: _NAME_LIMIT - 1] + "…"


async def start_job_workflow(
    client: Client, job_id: str, *, task_queue: str, headline: JobHeadline | None, priority: int | None = None
) -> StartResult:
    """`headline`: what names the job (`JobStore.headline`), read by the caller from the job row; None (no
    row) still starts, with a plain summary. `priority`: the workflow's Temporal priority key (D13), for its
    workflow tasks; None is the server's default. Its image activities get theirs from the workflow itself."""
    summary = job_summary(job_id, headline)
    return await _start(client, job_id, task_queue, WorkflowIDReusePolicy.REJECT_DUPLICATE, summary, priority)


async def start_adopted_job_workflow(
    client: Client, job_id: str, *, task_queue: str, headline: JobHeadline | None
) -> StartResult:
    """The run of a job `quel adopt` claimed (D14), at the default priority: nobody waits for
    it in the editor any more. Its workflow id usually ran before: that run found the row
    held by another worker and ended `skipped` without touching it, so here a closed run
    does not block a new one. D1 still holds: `adopt` records one adopted claim per job, the
    row's final status ends every later run, and a run that is still open is never joined
    by a second one (DUPLICATE)."""
    summary = f"adopted · {job_summary(job_id, headline)}"
    return await _start(client, job_id, task_queue, WorkflowIDReusePolicy.ALLOW_DUPLICATE, summary, None)


async def _start(
    client: Client,
    job_id: str,
    task_queue: str,
    reuse: WorkflowIDReusePolicy,
    summary: str,
    priority: int | None,
) -> StartResult:
    # One workflow id per job, however the caller spelled it (`6F0B...` is `6f0b...`).
    job_id = canonical_job_id(job_id)
    try:
        await client.start_workflow(
            ProductionJobWorkflow.run,
            job_id,
            id=job_id,
            task_queue=task_queue,
            id_reuse_policy=reuse,
            id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
            static_summary=summary,
            priority=Priority(priority_key=priority),
        )
    except WorkflowAlreadyStartedError:
        return StartResult.DUPLICATE
    return StartResult.STARTED
