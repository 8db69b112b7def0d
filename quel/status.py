"""`quel status`: the merged status of `operations.status` drawn for a terminal, and `--watch`'s live bar."""

from __future__ import annotations

import asyncio

from rich.console import Console, Group
from rich.progress_bar import ProgressBar
from rich.table import Table
from temporalio.client import Client, WorkflowExecutionStatus

from operations.status import JobStatusView, describe_workflow
from quel.follow import follow_job


async def watch_job(client: Client, job_id: str, console: Console, stop: asyncio.Event) -> None:
    """Draws the live progress bar until the workflow closes or the operator stops watching.

    Returns at once when there is no running workflow to follow."""
    description = await describe_workflow(client, job_id)
    if description is None or description.status is not WorkflowExecutionStatus.RUNNING:
        return
    following = asyncio.create_task(follow_job(client, job_id, console))
    stopping = asyncio.create_task(stop.wait())
    done, _ = await asyncio.wait({following, stopping}, return_when=asyncio.FIRST_COMPLETED)
    for task in (following, stopping):
        task.cancel()
    if following in done:
        following.result()  # a failed query or describe surfaces here


def render_status(view: JobStatusView, console: Console) -> None:
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold")
    table.add_column()
    stage = f"{view.current_stage + 1} of {view.stage_count}" if view.current_stage is not None else "-"
    rows = {
        "job": view.job_id,
        "job status": view.job_status or "(no row in quel_production_jobs)",
        "workflow": view.workflow_status or "(not started)",
        "stage": stage,
        "images": f"{view.completed_images} produced, {view.failed_images} failed, {view.total_images} requested",
        "attach ids": ", ".join(map(str, view.generated_attach_ids)) or "-",
        "started": view.started_at or "-",
        "finished": view.completed_at or "-",
    }
    rows.update(view.search_attributes)
    if view.error_message:
        rows["error"] = view.error_message
    if view.workflow_status and not view.live_progress:
        rows["note"] = "the workflow did not answer its progress query (is a worker running?)"
    for name, value in rows.items():
        table.add_row(name, value)
    total = max(view.total_images, 1)
    done = min(view.completed_images + view.failed_images, total)
    table.add_row("progress", Group(ProgressBar(total=total, completed=done, width=40)))
    console.print(table)
