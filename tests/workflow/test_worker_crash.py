"""A worker process killed with SIGKILL in the middle of a job, then restarted: the job
completes with exactly one attach row, one ledger row and one storage object per image."""

from __future__ import annotations

import asyncio
import functools
from pathlib import Path

from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from quel.settings import Settings
from tests.fakes.gemini_server import FakeGemini
from tests.fakes.storage_server import FakeSupabaseStorage
from tests.support.harness import harness
from tests.support.processes import QuelProcess, settings_env
from tests.support.waiting import eventually, within


async def test_killed_worker_leaves_exactly_one_of_everything(
    client: Client,
    temporal_env: WorkflowEnvironment,
    remote_settings: Settings,
    fake_gemini: FakeGemini,
    fake_storage: FakeSupabaseStorage,
    tmp_path: Path,
) -> None:
    fake_gemini.latency = 0.4
    # One image at a time: after each recorded image the next one's call comes, and a kill can land in it.
    settings = remote_settings.model_copy(update={"image_concurrency": 1, "job_image_window": 1})
    env = settings_env(settings, temporal_address=temporal_env.client.service_client.config.target_host)
    worker = QuelProcess("worker", env, tmp_path / "worker.log")
    async with harness(client, settings, workers=False) as h:
        job_id = await h.seed("single_batch.fashion")
        worker.start()
        handle = await h.start(job_id)

        async def recorded(images: int) -> bool:
            return bool((await h.job_row(job_id))["completed_images"] >= images)

        kills_mid_call = 0
        try:
            for produced in (1, 2):
                await eventually(functools.partial(recorded, produced), timeout=60, what=f"{produced} recorded")
                # The risky moment: the next image's generation is in flight (latency 0.4 s).
                if await within(lambda: fake_gemini.in_flight > 0, timeout=10):
                    kills_mid_call += 1
                worker.kill()
                worker.start()
            result = await asyncio.wait_for(handle.result(), timeout=120)
        finally:
            worker.stop()
        assert kills_mid_call == 2, "a kill missed the generator call in flight"
        assert fake_gemini.call_count >= 4 + kills_mid_call, "each call cut by a kill was made again"
        row = await h.job_row(job_id)
        assert (result.status, row["job_status"], row["completed_images"]) == ("completed", "completed", 4)
        ids = row["generated_attach_ids"]
        assert len(set(ids)) == 4
        outputs = await h.db.fetch("SELECT attach_id FROM quel_temporal_outputs WHERE job_id = $1", job_id)
        assert sorted(r["attach_id"] for r in outputs) == sorted(ids)
        attaches = await h.db.fetchval(
            "SELECT count(*) FROM quel_attach WHERE attach_file_path LIKE '%/' || $1 || '/%'", job_id
        )
        assert attaches == 4
        ledger = await h.db.fetch("SELECT attach_idx FROM quel_credits WHERE production_idx = $1", row["production_id"])
        assert sorted(r["attach_idx"] for r in ledger) == sorted(ids)
        stored = [path for (_, path) in fake_storage.objects if f"/{job_id}/" in path]
        assert len(stored) == 4
