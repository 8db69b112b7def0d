"""Ids a bridge took but never finished: re-driven by its next start, oldest first, or adopted
by a live bridge once the dead one's liveness key has expired."""

from __future__ import annotations

import asyncio
import json
import logging

import pytest
import redis.asyncio as redis
from temporalio.client import Client

from bridge.processing_lists import DEAD_LETTERS, ProcessingLists
from quel.resources import Resources
from quel.settings import Settings
from tests.bridge.bridges import InProcessBridges
from tests.bridge.job_rows import insert_pending_jobs, new_job_ids
from tests.bridge.lossy_proxy import LossyRedisProxy
from tests.bridge.observe import counted, drained, processing_lists, workflow_runs
from tests.support.waiting import eventually


async def _took(client: redis.Redis, bridge_id: str, job_ids: list[str]) -> None:
    """Leaves the ids in a processing list as a bridge killed after BLMOVE does, oldest first."""
    for job_id in job_ids:
        await client.lpush(f"jobs:queue:processing:{bridge_id}", job_id)


async def test_restarted_bridge_redrives_its_leftovers_oldest_first_before_newer_ids(
    redis_client: redis.Redis, resources: Resources, bridges: InProcessBridges, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="quel.bridge")
    job_ids = new_job_ids(5)
    await insert_pending_jobs(resources.pool, job_ids)
    await _took(redis_client, "restarted", job_ids[:3])
    await redis_client.lpush("jobs:queue", *job_ids[3:])

    bridge = bridges.start(bridge_id="restarted", concurrency=1)
    await eventually(counted(bridge, "started", 5), timeout=10, what="every id started")
    await drained(redis_client)

    started = [
        job_id
        for record in caplog.records
        if record.msg == "job ids handled"
        for job_id in getattr(record, "started", [])
    ]
    assert started == job_ids
    assert bridge.counters["redriven"] == 3


async def test_live_bridge_adopts_the_ids_of_a_dead_bridge_but_not_of_a_live_one(
    client: Client,
    settings: Settings,
    redis_client: redis.Redis,
    resources: Resources,
    bridges: InProcessBridges,
) -> None:
    dead_bridge_ids, live_bridge_ids = new_job_ids(3), new_job_ids(1)
    await insert_pending_jobs(resources.pool, dead_bridge_ids + live_bridge_ids)
    await _took(redis_client, "dead", dead_bridge_ids)
    await _took(redis_client, "alive", live_bridge_ids)
    await redis_client.set("jobs:queue:bridge:alive:alive", "1", ex=60)

    # Its counters line comes often, and so its liveness round, which adopts orphans.
    bridge = bridges.start(counters_log_seconds=0.1)
    await eventually(counted(bridge, "started", 3), timeout=10, what="the dead bridge's ids started")
    await asyncio.sleep(0.5)

    assert bridge.counters["redriven"] == 3
    assert await processing_lists(redis_client) == {"jobs:queue:processing:alive": live_bridge_ids}
    assert await workflow_runs(client, settings.temporal_task_queue, at_least=3) == dict.fromkeys(dead_bridge_ids, 1)


async def test_id_left_in_a_live_bridges_list_by_a_lost_reply_is_started_without_a_restart(
    client: Client,
    settings: Settings,
    redis_client: redis.Redis,
    resources: Resources,
    bridges: InProcessBridges,
) -> None:
    [job_id] = new_job_ids(1)
    await insert_pending_jobs(resources.pool, [job_id])
    bridge = bridges.start(bridge_id="running", counters_log_seconds=0.1)

    async def running() -> bool:
        return bool(await redis_client.exists("jobs:queue:bridge:running:alive"))

    await eventually(running, timeout=10, what="bridge running")
    # What Redis holds when it moved an id but the reply never reached the bridge.
    await _took(redis_client, "running", [job_id])

    await eventually(counted(bridge, "started", 1), timeout=10, what="the stray id started")
    assert bridge.counters["redriven"] == 1
    await drained(redis_client)
    assert await workflow_runs(client, settings.temporal_task_queue, at_least=1) == {job_id: 1}


async def test_settle_whose_reply_was_lost_dead_letters_once(
    redis_url: str, redis_client: redis.Redis, bridges: InProcessBridges
) -> None:
    async with LossyRedisProxy(redis_url) as proxy:
        through_proxy = redis.Redis.from_url(proxy.url)
        # The script loaded beforehand, so the bridge's first settle runs it (no NOSCRIPT round).
        await ProcessingLists(redis_client, "jobs:queue").settle("jobs:queue:processing:warm-up", [])
        proxy.lose_reply_to(DEAD_LETTERS.encode())  # only the settle names the dead-letter list
        bridge = bridges.start(redis_client=through_proxy)
        await redis_client.lpush("jobs:queue", "not-a-job-id")
        await eventually(counted(bridge, "dead_lettered", 1), timeout=30, what="the poison value settled")
        await drained(redis_client)
        await bridges.stop_all()
        await through_proxy.aclose()
    assert proxy.lost_reply is not None and proxy.lost_reply.startswith(b":"), "the settle ran, its reply was lost"
    dead = [json.loads(entry) for entry in await redis_client.lrange("jobs:dead", 0, -1)]
    assert [(entry["job_id"], entry["reason"]) for entry in dead] == [("not-a-job-id", "not a UUID")]
