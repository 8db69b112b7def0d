"""Following a job live: the workflow's `progress` query drawn as a rich progress bar."""

from __future__ import annotations

import asyncio

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError

from workflows.production_job import ProductionJobWorkflow
from workflows.progress import JobProgress


async def wait_for_workflow(client: Client, job_id: str, *, timeout: float = 60.0) -> None:
    """The bridge starts the workflow asynchronously; wait until it exists."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        try:
            await client.get_workflow_handle(job_id).describe()
            return
        except RPCError:
            if asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(0.2)


async def follow_job(client: Client, job_id: str, console: Console) -> JobProgress:
    handle = client.get_workflow_handle_for(ProductionJobWorkflow.run, job_id)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=False) as bar:
        task = bar.add_task(f"job {job_id[:8]}", total=None)
        while True:
            progress = await handle.query(ProductionJobWorkflow.progress)
            bar.update(
                task,
                total=progress.total_images or None,
                completed=progress.completed_images + progress.failed_images,
                description=f"job {job_id[:8]} {progress.status}",
            )
            description = await handle.describe()
            if description.status is not WorkflowExecutionStatus.RUNNING:
                return await handle.query(ProductionJobWorkflow.progress)
            await asyncio.sleep(0.5)
