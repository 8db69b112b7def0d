"""`quel jobs`: recent jobs from Temporal visibility, with the search attributes they are filtered by (D9)."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

from rich.console import Console
from rich.table import Table
from temporalio.client import Client, WorkflowExecution

from workflows import search_attributes as sa
from workflows.production_job import ProductionJobWorkflow

# Job types, statuses and org ids are plain identifiers and UUIDs; refusing quotes keeps the query well formed.
_SAFE_VALUE = re.compile(r"^[A-Za-z0-9_.:-]+$")


@dataclass(frozen=True)
class JobListing:
    job_id: str
    workflow_status: str | None
    job_status: str | None
    job_type: str | None
    production_path: str | None
    org_id: str | None
    member_id: str | None
    started_at: str
    closed_at: str | None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def visibility_query(*, status: str | None = None, job_type: str | None = None, org_id: str | None = None) -> str:
    clauses = [f"WorkflowType = '{ProductionJobWorkflow.__name__}'"]
    for key, value in ((sa.JOB_STATUS, status), (sa.JOB_TYPE, job_type), (sa.ORG_ID, org_id)):
        if value is None:
            continue
        if not _SAFE_VALUE.match(value):
            raise ValueError(f"{key.name} filter {value!r} may hold only letters, digits and _ . : -")
        clauses.append(f"{key.name} = '{value}'")
    return " AND ".join(clauses)


async def list_jobs(client: Client, query: str, *, limit: int) -> list[JobListing]:
    return [_listing(execution) async for execution in client.list_workflows(query, limit=limit)]


def render_jobs(jobs: list[JobListing], console: Console) -> None:
    table = Table(box=None, header_style="bold")
    # Ids are copied from here into other commands: folded on a narrow terminal, never shortened.
    table.add_column("job", no_wrap=True, min_width=36)
    for title in ("status", "workflow", "type", "path", "org", "member", "started (UTC)"):
        table.add_column(title, overflow="fold")
    for job in jobs:
        table.add_row(
            job.job_id,
            job.job_status or "-",
            job.workflow_status or "-",
            job.job_type or "-",
            job.production_path or "-",
            job.org_id or "-",
            job.member_id or "-",
            job.started_at[:16].replace("T", " "),
        )
    console.print(table)


def _listing(execution: WorkflowExecution) -> JobListing:
    attributes = execution.typed_search_attributes
    return JobListing(
        job_id=execution.id,
        workflow_status=execution.status.name.lower() if execution.status else None,
        job_status=attributes.get(sa.JOB_STATUS),
        job_type=attributes.get(sa.JOB_TYPE),
        production_path=attributes.get(sa.PRODUCTION_PATH),
        org_id=attributes.get(sa.ORG_ID),
        member_id=attributes.get(sa.MEMBER_ID),
        started_at=execution.start_time.isoformat(),
        closed_at=execution.close_time.isoformat() if execution.close_time else None,
    )
