"""PostgreSQL stops in the middle of a job and starts again on the same data folder: the
worker's database activities fail, are retried, and the job completes with one object, one
attach row and one charge per image."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from pydantic import SecretStr
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from clients.migrations import migrate
from quel.embedded import EmbeddedPostgres
from quel.settings import Settings
from tests.fakes.gemini_server import FakeGemini
from tests.fakes.storage_server import FakeSupabaseStorage
from tests.faults.invariants import balances, check_invariants, fake_storage_keys, fixture_completes
from tests.support.harness import harness
from tests.support.processes import QuelProcess, settings_env

OUTAGE_SECONDS = 3.0
JOB = "single_batch.fashion"
DATABASE = "quel"


@pytest.fixture
async def own_postgres(tmp_path: Path) -> AsyncIterator[EmbeddedPostgres]:
    """A PostgreSQL server only this test uses, so stopping it disturbs nobody else."""
    server = EmbeddedPostgres(tmp_path / "own")
    admin = await asyncpg.connect(await asyncio.to_thread(server.start))
    await admin.execute(f'CREATE DATABASE "{DATABASE}"')
    await admin.close()
    connection = await asyncpg.connect(server.uri(DATABASE))
    await migrate(connection, legacy_schema=True)
    await connection.close()
    yield server
    await asyncio.to_thread(server.stop)


async def test_job_completes_across_a_postgres_restart(
    client: Client,
    temporal_env: WorkflowEnvironment,
    remote_settings: Settings,
    fake_gemini: FakeGemini,
    fake_storage: FakeSupabaseStorage,
    own_postgres: EmbeddedPostgres,
    tmp_path: Path,
) -> None:
    fake_gemini.latency = 0.5
    url = own_postgres.uri(DATABASE)
    settings = remote_settings.model_copy(update={"image_concurrency": 1, "database_url": SecretStr(url)})
    env = settings_env(settings, temporal_address=temporal_env.client.service_client.config.target_host)
    worker = QuelProcess("worker", env, tmp_path / "worker.log")
    async with harness(client, settings, workers=False) as h:
        before = await balances(h.db)
        job_id = await h.seed(JOB)
        worker.start()
        try:
            handle = await h.start(job_id)
            while (await h.job_row(job_id))["completed_images"] < 1:
                await asyncio.sleep(0.05)
            # Mid-job: the next image is being drawn (latency 0.5 s), so its recording meets
            # the stopped server and must be retried once PostgreSQL is back.
            await asyncio.to_thread(own_postgres.stop)
            await asyncio.sleep(OUTAGE_SECONDS)
            await asyncio.to_thread(own_postgres.start)
            assert own_postgres.uri(DATABASE) == url, "same data folder, same socket"
            restarted = time.monotonic()
            await asyncio.wait_for(handle.result(), timeout=120)
            print(f"postgres restart: job done {time.monotonic() - restarted:.1f}s after the server came back")
        finally:
            exit_code = worker.stop()
        assert exit_code == 0, "the worker outlived the outage and stopped cleanly"
        await check_invariants(
            h.db,
            jobs={job_id: fixture_completes(JOB)},
            balances_before=before,
            price=settings.image_per_price,
            stored=fake_storage_keys(fake_storage),
            client=client,
        )
