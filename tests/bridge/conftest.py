"""Bridges for the tests: in the test's own event loop (counters readable directly) or as real
`quel bridge` processes, each stopped when its test ends."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from temporalio.client import Client

from quel.resources import Resources, open_resources, require_url
from quel.settings import Settings
from tests.bridge.bridges import BridgeProcesses, InProcessBridges


@pytest.fixture
async def resources(settings: Settings) -> AsyncIterator[Resources]:
    async with open_resources(settings) as opened:
        yield opened


@pytest.fixture
async def bridges(client: Client, settings: Settings, resources: Resources) -> AsyncIterator[InProcessBridges]:
    running = InProcessBridges(client, settings, resources)
    yield running
    await running.stop_all()


@pytest.fixture
def bridge_processes(client: Client, settings: Settings, tmp_path: Path) -> Iterator[BridgeProcesses]:
    environment = {
        "DATABASE_URL": require_url(settings.database_url, "DATABASE_URL"),
        "REDIS_URL": require_url(settings.redis_url, "REDIS_URL"),
        "TEMPORAL_ADDRESS": client.service_client.config.target_host,
        "TEMPORAL_TASK_QUEUE": settings.temporal_task_queue,
        "TEMPORAL_IMAGE_TASK_QUEUE": settings.temporal_image_task_queue,
        "BRIDGE_ID": f"process-{uuid.uuid4().hex[:8]}",
    }
    processes = BridgeProcesses(environment, tmp_path)
    yield processes
    for process in processes.launched:
        process.stop_if_running()
