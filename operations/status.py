"""A job's status as `quel status` and the HTTP API show it: the job row merged with the workflow's `progress` query.

The row is what the front end reads, so its status, produced count, attach ids and error message win. The
workflow adds what the row does not hold: the Temporal execution status, the current stage, and the failures
counted while the job still runs (the row only receives `failed_images` when the job ends). When the query
cannot be answered (no worker polling the task queue) the row and the workflow description are enough.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from temporalio.client import (
    Client,
    WorkflowExecutionDescription,
    WorkflowQueryFailedError,
)
from temporalio.service import RPCError, RPCStatusCode

from clients.postgres import Queryable
from domain.outcome import JobStatus
from workflows import search_attributes
from workflows.production_job import ProductionJobWorkflow
from workflows.progress import JobProgress

OPEN_STATUSES = (JobStatus.PENDING.value, JobStatus.PROCESSING.value)
DEFAULT_QUERY_TIMEOUT = timedelta(seconds=5)


@dataclass(frozen=True)
class JobRow:
    """The columns of `quel_production_jobs` an operator needs."""

    job_status: str
    total_images: int
    completed_images: int
    failed_images: int
    generated_attach_ids: list[int]
    error_message: str | None
    started_at: datetime | None
    completed_at: datetime | None

    @property
    def is_final(self) -> bool:
        return self.job_status not in OPEN_STATUSES


@dataclass(frozen=True)
class JobStatusView:
    """What `quel status --json` prints (DECISIONS D9 and a few more fields)."""

    job_id: str
    job_status: str | None
    workflow_status: str | None
    """Temporal's execution status in lower case (`running`, `completed`, `canceled`, ...); None: never started."""
    total_images: int
    completed_images: int
    failed_images: int
    generated_attach_ids: list[int]
    error_message: str | None
    current_stage: int | None
    stage_count: int | None
    started_at: str | None
    completed_at: str | None
    search_attributes: dict[str, str] = field(default_factory=dict)
    live_progress: bool = False
    """True when the workflow answered its `progress` query."""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def merge_status(
    job_id: str,
    row: JobRow | None,
    description: WorkflowExecutionDescription | None,
    progress: JobProgress | None,
) -> JobStatusView:
    failed = 0
    if row is not None and (row.is_final or progress is None):
        failed = row.failed_images
    elif progress is not None:
        failed = progress.failed_images
    return JobStatusView(
        job_id=job_id,
        job_status=row.job_status if row else (progress.status if progress else None),
        workflow_status=description.status.name.lower() if description and description.status else None,
        # The plan's count is what will really be generated; the row holds the producer's estimate.
        total_images=(
            progress.total_images if progress and progress.total_images else (row.total_images if row else 0)
        ),
        completed_images=row.completed_images if row else (progress.completed_images if progress else 0),
        failed_images=failed,
        generated_attach_ids=list(row.generated_attach_ids if row else (progress.attach_ids if progress else [])),
        error_message=row.error_message if row else (progress.error_message if progress else None),
        current_stage=progress.current_stage if progress else None,
        stage_count=(progress.stage_count or None) if progress else None,
        started_at=_iso(row.started_at) if row else None,
        completed_at=_iso(row.completed_at) if row else None,
        search_attributes=_search_attributes(description),
        live_progress=progress is not None,
    )


async def read_job_row(database: Queryable, job_id: str) -> JobRow | None:
    try:
        key = uuid.UUID(job_id)
    except ValueError:
        return None  # job ids are UUIDs; anything else has no row
    record = await database.fetchrow(
        """SELECT job_status::text, coalesce(total_images, 0) AS total_images,
                  coalesce(completed_images, 0) AS completed_images, coalesce(failed_images, 0) AS failed_images,
                  coalesce(generated_attach_ids, '[]'::jsonb) AS generated_attach_ids, error_message,
                  started_at, completed_at
           FROM quel_production_jobs WHERE job_id = $1""",
        key,
    )
    if record is None:
        return None
    ids = record["generated_attach_ids"]
    return JobRow(
        job_status=record["job_status"],
        total_images=record["total_images"],
        completed_images=record["completed_images"],
        failed_images=record["failed_images"],
        generated_attach_ids=[int(value) for value in ids] if isinstance(ids, list) else [],
        error_message=record["error_message"],
        started_at=record["started_at"],
        completed_at=record["completed_at"],
    )


async def describe_workflow(client: Client, job_id: str) -> WorkflowExecutionDescription | None:
    try:
        return await client.get_workflow_handle(job_id).describe()
    except RPCError as error:
        if error.status is RPCStatusCode.NOT_FOUND:
            return None
        raise


async def query_progress(client: Client, job_id: str, *, timeout: timedelta) -> JobProgress | None:
    """None when nobody answers: a query needs a worker polling the workflow's task queue."""
    handle = client.get_workflow_handle_for(ProductionJobWorkflow.run, job_id)
    try:
        return await handle.query(ProductionJobWorkflow.progress, rpc_timeout=timeout)
    except (RPCError, WorkflowQueryFailedError):
        return None


async def job_status(
    client: Client, database: Queryable, job_id: str, *, query_timeout: timedelta = DEFAULT_QUERY_TIMEOUT
) -> JobStatusView | None:
    """None when the job has neither a row nor a workflow."""
    row = await read_job_row(database, job_id)
    description = await describe_workflow(client, job_id)
    progress = await query_progress(client, job_id, timeout=query_timeout) if description else None
    if row is None and description is None:
        return None
    return merge_status(job_id, row, description, progress)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _search_attributes(description: WorkflowExecutionDescription | None) -> dict[str, str]:
    if description is None:
        return {}
    attributes = description.typed_search_attributes
    found = {key.name: attributes.get(key) for key in search_attributes.ALL}
    return {name: value for name, value in found.items() if value is not None}
