"""The legacy cancel flag set before the bridge starts the job (DOMAIN.md 2.2, D8)."""

from __future__ import annotations

import redis.asyncio as redis
from temporalio.client import Client

from quel.settings import Settings
from tests.bridge.bridges import InProcessBridges
from tests.bridge.observe import counted
from tests.support.harness import harness
from tests.support.waiting import eventually
from workflows.production_job import ProductionJobWorkflow


async def test_job_flagged_before_start_ends_user_cancelled_with_nothing_generated_or_charged(
    client: Client, settings: Settings, redis_client: redis.Redis, bridges: InProcessBridges
) -> None:
    async with harness(client, settings) as h:
        job_id = await h.seed("single_batch.fashion")
        await h.resources.cancel_flags.set(job_id)
        bridge = bridges.start()
        await redis_client.lpush("jobs:queue", job_id)
        await eventually(counted(bridge, "started", 1), timeout=10, what="the flagged job started")

        result = await client.get_workflow_handle_for(ProductionJobWorkflow.run, job_id).result()

        assert result.status == "user_cancelled"
        row = await h.job_row(job_id)
        assert row["job_status"] == "user_cancelled"
        assert row["completed_images"] == 0
        assert row["generated_attach_ids"] == []
        assert row["completed_at"] is not None
        charges = await h.charges(row["production_id"])
        assert charges == 0
