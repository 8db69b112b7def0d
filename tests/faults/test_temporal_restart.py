"""The Temporal dev server goes down in the middle of a job and comes back on the same port
with its database file: the worker process rides it out and the job completes once, with one
object, one attach row and one charge per image."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from quel.settings import Settings
from quel.temporal_server import start_dev_server
from tests.fakes.gemini_server import FakeGemini
from tests.fakes.storage_server import FakeSupabaseStorage
from tests.faults.invariants import balances, check_invariants, fake_storage_keys, fixture_completes
from tests.support.harness import harness
from tests.support.processes import QuelProcess, free_port, settings_env

OUTAGE_SECONDS = 3.0
JOB = "single_batch.fashion"


async def test_job_completes_across_a_temporal_server_restart(
    remote_settings: Settings, fake_gemini: FakeGemini, fake_storage: FakeSupabaseStorage, tmp_path: Path
) -> None:
    fake_gemini.latency = 0.5
    settings = remote_settings.model_copy(update={"image_concurrency": 1})
    port, database = free_port(), tmp_path / "temporal.db"
    server = await start_dev_server(database_file=database, port=port, ui_port=None)
    worker = QuelProcess(
        "worker", settings_env(settings, temporal_address=f"127.0.0.1:{port}"), tmp_path / "worker.log"
    )
    try:
        async with harness(server.client, settings, workers=False) as h:
            before = await balances(h.db)
            job_id = await h.seed(JOB)
            worker.start()
            await h.start(job_id)
            while (await h.job_row(job_id))["completed_images"] < 1:
                await asyncio.sleep(0.05)
            # Mid-job: the next image is being drawn (latency 0.5 s) while the server goes away, so
            # its completion meets the outage; a fresh database would not know the workflow at all.
            await server.shutdown()
            await asyncio.sleep(OUTAGE_SECONDS)
            restarted = time.monotonic()
            server = await start_dev_server(database_file=database, port=port, ui_port=None)
            await asyncio.wait_for(server.client.get_workflow_handle(job_id).result(), timeout=120)
            print(f"temporal restart: job done {time.monotonic() - restarted:.1f}s after the server came back")
            await check_invariants(
                h.db,
                jobs={job_id: fixture_completes(JOB)},
                balances_before=before,
                price=settings.image_per_price,
                stored=fake_storage_keys(fake_storage),
                client=server.client,
            )
        assert worker.stop() == 0, "the worker outlived the outage and stopped cleanly"
    finally:
        worker.stop()
        await server.shutdown()
