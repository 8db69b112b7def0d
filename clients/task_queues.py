"""What the Temporal server says about a task queue: its pollers, rate limit and backlog."""

from __future__ import annotations

from dataclasses import dataclass

from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest, DescribeTaskQueueResponse
from temporalio.client import Client


@dataclass(frozen=True)
class Backlog:
    tasks: int
    """Tasks waiting for a worker (approximate, as the server counts them)."""
    oldest_seconds: float
    """How long the oldest of them has waited; 0 without a backlog."""


async def describe_task_queue(
    client: Client, name: str, kind: TaskQueueType.ValueType, *, stats: bool = False, config: bool = False
) -> DescribeTaskQueueResponse:
    return await client.workflow_service.describe_task_queue(
        DescribeTaskQueueRequest(
            namespace=client.namespace,
            task_queue=TaskQueue(name=name),
            task_queue_type=kind,
            report_stats=stats,
            report_config=config,
        )
    )


async def activity_backlog(client: Client, name: str) -> Backlog:
    """Every priority level together."""
    described = await describe_task_queue(client, name, TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY, stats=True)
    return Backlog(
        tasks=described.stats.approximate_backlog_count,
        oldest_seconds=described.stats.approximate_backlog_age.ToTimedelta().total_seconds(),
    )
