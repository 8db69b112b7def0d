"""Temporal or Redis down for a while: the bridge backs off instead of failing, nothing is lost,
and every id is started once the server is back."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import redis.asyncio as redis
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from quel.embedded import EmbeddedRedis
from quel.resources import Resources
from quel.settings import Settings
from quel.temporal_server import start_dev_server
from tests.bridge.bridges import InProcessBridges
from tests.bridge.job_rows import insert_pending_jobs, new_job_ids
from tests.bridge.observe import counted, drained, ids_in_redis, processing_lists, queued, workflow_runs
from tests.support.processes import free_port
from tests.support.waiting import eventually


async def test_ids_wait_in_redis_while_temporal_is_down_and_all_start_when_it_is_back(
    settings: Settings, redis_client: redis.Redis, resources: Resources, bridges: InProcessBridges, tmp_path: Path
) -> None:
    port, history = free_port(), tmp_path / "temporal.db"
    server = await start_dev_server(database_file=history, port=port, ui_port=None)
    try:
        bridge = bridges.start(temporal=server.client)
        first, *while_down = new_job_ids(21)
        await insert_pending_jobs(resources.pool, [first, *while_down])
        await redis_client.lpush("jobs:queue", first)
        await eventually(counted(bridge, "started", 1), timeout=10, what="a start while Temporal is up")

        await server.shutdown()
        await redis_client.lpush("jobs:queue", *while_down)
        await asyncio.sleep(3)
        assert sorted(await ids_in_redis(redis_client)) == sorted(while_down)
        assert bridge.counters["started"] == 1

        server = await start_dev_server(database_file=history, port=port, ui_port=None)
        await eventually(counted(bridge, "started", 21), timeout=60, what="every id started once Temporal is back")
        await bridges.stop_all()
        await drained(redis_client)
        for job_id in [first, *while_down]:
            await server.client.get_workflow_handle(job_id).describe()  # raises if it never started
        runs = await workflow_runs(server.client, settings.temporal_task_queue, at_least=21)
        assert runs == dict.fromkeys([first, *while_down], 1)
        assert bridge.counters == {"started": 21, "duplicate": 0, "dead_lettered": 0, "redriven": 0}
    finally:
        await bridges.stop_all()
        await server.shutdown()


async def test_bridge_rides_out_a_redis_restart(
    client: Client, settings: Settings, resources: Resources, bridges: InProcessBridges, tmp_path: Path
) -> None:
    server = EmbeddedRedis(tmp_path)  # its own, so stopping it disturbs no other test
    connection = redis.Redis.from_url(server.start())
    bridge = bridges.build(redis_client=connection, bridge_id="through-a-redis-restart")
    stop = asyncio.Event()
    running = asyncio.create_task(bridge.run(stop))
    try:
        first, *after = new_job_ids(11)
        await insert_pending_jobs(resources.pool, [first, *after])
        await connection.lpush("jobs:queue", first)
        await eventually(counted(bridge, "started", 1), timeout=10, what="a start before the restart")

        server.stop()
        await asyncio.sleep(2)
        assert not running.done(), "the bridge gave up while Redis was down"
        server.start()  # same folder: the append-only file keeps what Redis held

        async def pushed() -> bool:  # as a producer would, retried until Redis answers again
            try:
                await connection.lpush("jobs:queue", *after)
            except redis.ConnectionError:
                return False
            return True

        await eventually(pushed, timeout=10, what="Redis answering again")

        await eventually(counted(bridge, "started", 11), timeout=60, what="every id started after the restart")
        await drained(connection)
    finally:
        stop.set()
        await running
        await connection.aclose()
        server.stop()
    assert await workflow_runs(client, settings.temporal_task_queue, at_least=11) == dict.fromkeys([first, *after], 1)


async def test_bridge_stops_loudly_when_temporal_refuses_and_keeps_the_ids(
    client: Client,
    redis_client: redis.Redis,
    resources: Resources,
    bridges: InProcessBridges,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # A namespace that does not exist: every start is refused (NOT_FOUND), as with a key that may
    # not start workflows (PERMISSION_DENIED); retrying would wait forever for nothing.
    refusing = await Client.connect(client.service_client.config.target_host, namespace="no-such-namespace")
    job_ids = new_job_ids(3)
    await insert_pending_jobs(resources.pool, job_ids)
    await redis_client.lpush("jobs:queue", *job_ids)
    bridge = bridges.build(temporal=refusing, bridge_id="refused", concurrency=2)
    with pytest.raises(RPCError) as refused:
        await asyncio.wait_for(bridge.run(asyncio.Event()), timeout=20)
    assert refused.value.status is RPCStatusCode.NOT_FOUND
    assert any(record.levelname == "ERROR" and "refuses" in record.getMessage() for record in caplog.records)
    assert sorted(await queued(redis_client)) == sorted(job_ids), "every id back in the queue"
    assert await processing_lists(redis_client) == {}
    assert await redis_client.llen("jobs:dead") == 0, "a deployment problem dead-letters no job"
