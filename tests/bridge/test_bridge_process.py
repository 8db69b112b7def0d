"""`quel bridge` as a real process: SIGKILL at random moments loses nothing and starts nothing
twice; SIGTERM finishes the start in flight and leaves the rest in Redis."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

import redis.asyncio as redis
from temporalio.client import Client

from quel.resources import Resources
from quel.settings import Settings
from quel.temporal_server import start_dev_server
from tests.bridge.bridges import BridgeProcesses
from tests.bridge.job_rows import insert_pending_jobs, new_job_ids
from tests.bridge.observe import drained, processing_lists, queued, workflow_runs
from tests.support.processes import free_port
from tests.support.waiting import eventually, within

KILLS = 5


async def _push_gradually(client: redis.Redis, job_ids: list[str], *, per_push: int, pause: float) -> None:
    for start in range(0, len(job_ids), per_push):
        await client.lpush("jobs:queue", *job_ids[start : start + per_push])
        await asyncio.sleep(pause)


async def test_bridge_killed_at_random_moments_starts_every_id_exactly_once(
    client: Client,
    settings: Settings,
    redis_client: redis.Redis,
    resources: Resources,
    bridge_processes: BridgeProcesses,
) -> None:
    job_ids = new_job_ids(1000)
    await insert_pending_jobs(resources.pool, job_ids)
    seed = random.randrange(1_000_000)
    print(f"kill moments drawn with seed {seed}")  # shown by pytest when the test fails
    chance = random.Random(seed)
    pushing = asyncio.create_task(_push_gradually(redis_client, job_ids, per_push=25, pause=0.25))

    kills_holding_ids = 0
    for _ in range(KILLS):
        process = await bridge_processes.start()
        await asyncio.sleep(chance.uniform(0.0, 1.5))
        # Prefer an instant at which the bridge holds ids it has not finished: the legacy
        # worker's BRPOP lost exactly those.
        if await within(lambda: _holds_ids(redis_client), timeout=2):
            kills_holding_ids += 1
        process.kill()
    await pushing

    last = await bridge_processes.start()

    await drained(redis_client, timeout=60)
    assert last.terminate() == 0

    assert kills_holding_ids > 0, "no kill happened while the bridge held ids"
    redriven = sum(
        event["ids"]
        for process in bridge_processes.launched
        for event in process.events()
        if event.get("event") == "re-drove ids of an unfinished bridge run"
    )
    assert redriven > 0, "no restarted bridge re-drove the ids a killed one held"

    runs = await workflow_runs(client, settings.temporal_task_queue, at_least=len(job_ids), timeout=30)
    lost = set(job_ids) - set(runs)
    assert not lost, f"{len(lost)} ids never started (seed {seed})"
    assert set(runs) == set(job_ids)
    assert [job_id for job_id, count in runs.items() if count != 1] == [], f"seed {seed}"
    assert await redis_client.llen("jobs:dead") == 0


async def _holds_ids(client: redis.Redis) -> bool:
    return bool(await processing_lists(client))


async def test_sigterm_finishes_the_start_in_flight_and_leaves_the_rest_in_redis(
    client: Client,
    settings: Settings,
    redis_client: redis.Redis,
    resources: Resources,
    bridge_processes: BridgeProcesses,
) -> None:
    job_ids = new_job_ids(400)
    await insert_pending_jobs(resources.pool, job_ids)
    process = await bridge_processes.start()
    await redis_client.lpush("jobs:queue", *job_ids)

    async def starting() -> bool:
        return any(event.get("event") == "job ids handled" for event in process.events())

    # Once the first starts are through, the next ones are in flight.
    await eventually(starting, timeout=20, what="the bridge starting workflows")
    assert process.terminate() == 0

    assert await processing_lists(redis_client) == {}, "an id taken was neither started nor given back"
    waiting = await queued(redis_client)
    assert waiting, "SIGTERM should leave the ids not yet taken in the queue"
    stopped = [event for event in process.events() if event.get("event") == "bridge stopped"]
    assert len(stopped) == 1
    started = int(stopped[0]["started"])
    assert started > 0

    runs = await workflow_runs(client, settings.temporal_task_queue, at_least=started)
    assert runs.total() == started
    assert set(runs).isdisjoint(waiting)
    assert set(runs) | set(waiting) == set(job_ids)


async def test_bridge_started_before_temporal_waits_for_it(
    redis_client: redis.Redis, resources: Resources, bridge_processes: BridgeProcesses, tmp_path: Path
) -> None:
    port = free_port()
    job_ids = new_job_ids(3)
    await insert_pending_jobs(resources.pool, job_ids)
    await redis_client.lpush("jobs:queue", *job_ids)
    bridge = await bridge_processes.start(until="bridge waiting for a dependency", TEMPORAL_ADDRESS=f"127.0.0.1:{port}")
    await asyncio.sleep(1.0)
    assert sorted(await queued(redis_client)) == sorted(job_ids), "nothing taken while Temporal is away"

    server = await start_dev_server(database_file=tmp_path / "temporal.db", port=port, ui_port=None)
    try:
        await drained(redis_client, timeout=60)
        for job_id in job_ids:
            await server.client.get_workflow_handle(job_id).describe()
        assert bridge.terminate() == 0
    finally:
        await server.shutdown()
