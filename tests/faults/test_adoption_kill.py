"""The worker SIGKILLed while it finishes a job adopted from the Go worker (D14): the job still
ends with the Go worker's images kept and exactly the missing ones made and charged once."""

from __future__ import annotations

import asyncio

from temporalio.client import Client

from operations.adopt import adopt_jobs
from quel.settings import Settings
from tests.fakes.gemini_server import FakeGemini
from tests.fakes.storage_server import FakeSupabaseStorage
from tests.faults.held_storage import kill_between_upload_and_attach
from tests.support.foreign import assert_adopted, job_counts, seed_foreign_job
from tests.support.harness import harness
from tests.support.processes import QuelProcess
from workflows.production_job import ProductionJobWorkflow


async def test_worker_killed_during_an_adoption_changes_no_count(
    client: Client,
    remote_settings: Settings,
    fake_gemini: FakeGemini,
    fake_storage: FakeSupabaseStorage,
    worker: QuelProcess,
) -> None:
    fake_gemini.latency = 0.3
    async with harness(client, remote_settings, workers=False) as h:
        job = await seed_foreign_job(h.db)
        worker.start()
        try:
            [report] = await adopt_jobs(
                client, h.resources.store, [job.job_id], task_queue=remote_settings.temporal_task_queue
            )
            assert not report.refused
            held_key = await kill_between_upload_and_attach(h, worker, fake_storage)
            worker.start()
            handle = client.get_workflow_handle_for(ProductionJobWorkflow.run, job.job_id)
            result = await asyncio.wait_for(handle.result(), timeout=120)
        finally:
            worker.stop()
        assert result.status == "completed"
        assert_adopted(await job_counts(h.db, job), job)
    assert f"/{job.job_id}/" in held_key, "the kill landed inside the adopted job's window"
    assert len(fake_storage.uploads_of(held_key)) == 1, "the retry after the kill reused the stored object"
