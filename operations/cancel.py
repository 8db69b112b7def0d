"""Cancelling a job (`quel cancel`, `POST /api/jobs/{jobId}/cancel`): the same effect as the legacy endpoint and
`temporal workflow cancel` (DECISIONS D8)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode

from clients.cancel_flags import CancelFlags
from operations.status import describe_workflow


class CancelResult(StrEnum):
    REQUESTED = "requested"
    """The workflow was running; it records what is in flight and ends `user_cancelled`."""
    NOT_STARTED = "not_started"
    """No workflow yet (the id may still wait on Redis); the flag stops it when it starts, within the flag's TTL."""
    ALREADY_CLOSED = "already_closed"
    """The workflow had already ended; nothing to cancel."""


@dataclass(frozen=True)
class CancelOutcome:
    result: CancelResult
    workflow_status: str | None = None


async def cancel_job(client: Client, flags: CancelFlags, job_id: str) -> CancelOutcome:
    # The flag comes first, as in the legacy endpoint: it also reaches a job whose workflow has not started yet.
    await flags.set(job_id)
    description = await describe_workflow(client, job_id)
    if description is None:
        return CancelOutcome(CancelResult.NOT_STARTED)
    handle = client.get_workflow_handle(job_id)
    if description.status is not WorkflowExecutionStatus.RUNNING:
        return CancelOutcome(CancelResult.ALREADY_CLOSED, _name(description.status))
    try:
        await handle.cancel()
    except RPCError as error:
        # It closed between the two calls.
        if error.status is RPCStatusCode.NOT_FOUND:
            return CancelOutcome(CancelResult.ALREADY_CLOSED, _name((await handle.describe()).status))
        raise
    return CancelOutcome(CancelResult.REQUESTED, _name(WorkflowExecutionStatus.RUNNING))


def _name(status: WorkflowExecutionStatus | None) -> str | None:
    return status.name.lower() if status else None
