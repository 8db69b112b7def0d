"""What the bridge does with each popped value: one run per job however often or however
spelled it is pushed, and by however many bridges (D1), dead letters for what can never run
(D9), counters in the logs."""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import datetime

import pytest
import redis.asyncio as redis
from temporalio.client import Client, WorkflowExecutionStatus

from bridge.queue_bridge import COUNTER_NAMES
from quel.resources import Resources
from quel.settings import Settings
from quel.worker import running_workers
from tests.bridge.bridges import InProcessBridges
from tests.bridge.job_rows import insert_pending_jobs, new_job_ids
from tests.bridge.observe import counted, drained, runs_of, workflow_runs
from tests.support.harness import harness
from tests.support.waiting import eventually
from workflows.production_job import ProductionJobWorkflow


async def test_id_pushed_again_while_running_and_after_finishing_starts_nothing_new(
    client: Client, settings: Settings, redis_client: redis.Redis, bridges: InProcessBridges
) -> None:
    async with harness(client, settings, workers=False) as h:
        job_id = await h.seed("single_batch.fashion")
        bridge = bridges.start()
        await redis_client.lpush("jobs:queue", job_id)
        await eventually(counted(bridge, "started", 1), timeout=10, what="first push started")

        handle = client.get_workflow_handle_for(ProductionJobWorkflow.run, job_id)
        assert (await handle.describe()).status is WorkflowExecutionStatus.RUNNING
        await redis_client.lpush("jobs:queue", job_id)
        await eventually(counted(bridge, "duplicate", 1), timeout=10, what="push while running counted")

        async with running_workers(client, settings, h.resources):
            result = await handle.result()
        assert result.status == "completed"
        await redis_client.lpush("jobs:queue", job_id)
        await eventually(counted(bridge, "duplicate", 2), timeout=10, what="push after finishing counted")

        assert bridge.counters["started"] == 1
        assert await runs_of(client, job_id) == 1
        row = await h.job_row(job_id)
        assert row["completed_images"] == row["total_images"]
        charges = await h.charges(row["production_id"])
        assert charges == row["total_images"], "one charge per image, none for the pushes again"
    await drained(redis_client)


async def test_an_id_spelled_another_way_is_the_same_job(
    client: Client, settings: Settings, redis_client: redis.Redis, resources: Resources, bridges: InProcessBridges
) -> None:
    [job_id] = new_job_ids(1)
    await insert_pending_jobs(resources.pool, [job_id])
    bridge = bridges.start()
    await redis_client.lpush("jobs:queue", job_id)
    await eventually(counted(bridge, "started", 1), timeout=10, what="canonical id started")

    spellings = [job_id.upper(), f"{{{job_id}}}", job_id.replace("-", ""), f" {job_id}\n"]
    await redis_client.lpush("jobs:queue", *spellings)
    await eventually(counted(bridge, "duplicate", len(spellings)), timeout=10, what="every spelling handled")

    assert await workflow_runs(client, settings.temporal_task_queue, at_least=1) == {job_id: 1}
    assert bridge.counters["started"] == 1


async def test_the_bridge_starts_a_job_with_the_summary_of_its_row(
    client: Client, settings: Settings, redis_client: redis.Redis, resources: Resources, bridges: InProcessBridges
) -> None:
    [job_id] = new_job_ids(1)
    await insert_pending_jobs(resources.pool, [job_id])
    bridge = bridges.start()
    await redis_client.lpush("jobs:queue", job_id)
    await eventually(counted(bridge, "started", 1), timeout=10, what="started")

    description = await client.get_workflow_handle(job_id).describe()
    assert await description.static_summary() == "single_batch · 1 image"


async def test_in_paint_jobs_start_at_the_interactive_priority(
    client: Client, settings: Settings, redis_client: redis.Redis, resources: Resources, bridges: InProcessBridges
) -> None:
    """D13: the workflow's own tasks are ordered too, not only its images."""
    batch, in_paint = new_job_ids(2)
    await insert_pending_jobs(resources.pool, [batch])
    await insert_pending_jobs(resources.pool, [in_paint], job_input_data={"maskDataUrl": "data:image/png;base64,"})
    bridge = bridges.start()
    await redis_client.lpush("jobs:queue", batch, in_paint)
    await eventually(counted(bridge, "started", 2), timeout=10, what="both started")

    priorities = {}
    for job_id in (batch, in_paint):
        description = await client.get_workflow_handle(job_id).describe()
        priorities[job_id] = description.raw_description.workflow_execution_info.priority.priority_key
    assert priorities == {batch: settings.priority_batch, in_paint: settings.priority_interactive}


async def test_poison_ids_are_dead_lettered_once_with_the_popped_value_and_logged(
    client: Client,
    settings: Settings,
    redis_client: redis.Redis,
    resources: Resources,
    bridges: InProcessBridges,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="quel.bridge")
    good, rowless = new_job_ids(2)
    await insert_pending_jobs(resources.pool, [good])
    bridge = bridges.start()
    await redis_client.lpush("jobs:queue", b"not-a-uuid", b"\xff\xfe", rowless, good)
    await eventually(counted(bridge, "dead_lettered", 3), timeout=10, what="poison dead-lettered")
    await eventually(counted(bridge, "started", 1), timeout=10, what="the good id started after the poison")
    await asyncio.sleep(1.5)  # room for a retry loop to show itself

    entries = [json.loads(entry) for entry in await redis_client.lrange("jobs:dead", 0, -1)]
    assert sorted((entry["job_id"], entry["reason"]) for entry in entries) == sorted(
        [("not-a-uuid", "not a UUID"), ("\ufffd\ufffd", "not a UUID"), (rowless, "no quel_production_jobs row")]
    )
    for entry in entries:
        assert set(entry) == {"job_id", "reason", "at"}
        assert datetime.fromisoformat(entry["at"]).tzinfo is not None
    assert bridge.counters == {"started": 1, "duplicate": 0, "dead_lettered": 3, "redriven": 0}
    await drained(redis_client)
    logged = [getattr(record, "job_id", None) for record in caplog.records if record.msg == "job id dead-lettered"]
    assert sorted(map(str, logged)) == sorted(["not-a-uuid", "\ufffd\ufffd", rowless])
    assert await workflow_runs(client, settings.temporal_task_queue, at_least=1) == {good: 1}


async def test_counters_are_logged_periodically_as_fields(
    redis_client: redis.Redis, resources: Resources, bridges: InProcessBridges, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="quel.bridge")
    job_ids = new_job_ids(2)
    await insert_pending_jobs(resources.pool, job_ids)
    bridge = bridges.start(counters_log_seconds=0.2)
    await redis_client.lpush("jobs:queue", *job_ids)
    await eventually(counted(bridge, "started", 2), timeout=10, what="ids started")

    def counter_lines() -> list[dict[str, object]]:
        return [
            {name: getattr(record, name, None) for name in COUNTER_NAMES}
            for record in caplog.records
            if record.msg == "bridge counters"
        ]

    async def logged_counts() -> bool:
        return {"started": 2, "duplicate": 0, "dead_lettered": 0, "redriven": 0} in counter_lines()

    await eventually(logged_counts, timeout=5, what="a periodic counters line with the two starts")


async def test_two_bridges_share_the_queue_and_start_each_id_once(
    client: Client, settings: Settings, redis_client: redis.Redis, resources: Resources, bridges: InProcessBridges
) -> None:
    job_ids = new_job_ids(300)
    await insert_pending_jobs(resources.pool, job_ids)
    first, second = bridges.start(), bridges.start()
    await redis_client.lpush("jobs:queue", *job_ids)

    async def all_started() -> bool:
        return first.counters["started"] + second.counters["started"] >= len(job_ids)

    await eventually(all_started, timeout=60, what="every id started by one bridge or the other")
    await drained(redis_client)
    assert first.counters["started"] > 0 and second.counters["started"] > 0, "one bridge took every id"
    assert first.counters["duplicate"] + second.counters["duplicate"] == 0
    runs = await workflow_runs(client, settings.temporal_task_queue, at_least=len(job_ids))
    assert runs == dict.fromkeys(job_ids, 1)
