"""An in-paint job stages its inline mask and reference in the bucket for the image activities;
once its final status is written they are deleted, on either storage backend, and a re-run
stages them again from the row."""

from __future__ import annotations

from pathlib import Path

from temporalio.client import Client

from activities.job_activities import staged_modify_inputs
from quel.settings import Settings
from tests.fakes.storage_server import FakeSupabaseStorage
from tests.support.harness import Harness, harness, reset_to_first_task
from workflows.production_job import ProductionJobWorkflow


async def _run_modify_job(h: Harness) -> str:
    job_id = await h.seed("modify")
    handle = await h.start(job_id)
    result = await handle.result()
    assert (result.status, result.completed_images) == ("completed", 2)
    return job_id


def _staging(storage: FakeSupabaseStorage, job_id: str) -> list[tuple[str, str]]:
    """Uploads of the job's staged inputs and deletes naming the bucket, in order."""
    mask, reference = staged_modify_inputs(job_id)
    return [
        (request.method, request.path.rsplit("/", 1)[-1])
        for request in storage.requests
        if (request.method != "GET" and request.path.endswith((mask, reference))) or request.method == "DELETE"
    ]


async def test_supabase_staged_inputs_are_deleted_once_final_and_staged_again_by_a_rerun(
    client: Client, remote_settings: Settings, fake_storage: FakeSupabaseStorage
) -> None:
    async with harness(client, remote_settings) as h:
        job_id = await _run_modify_job(h)
        assert not [path for (_, path) in fake_storage.objects if path.startswith(f"modify-inputs/{job_id}/")]
        # The fixture has no reference image: its delete finds nothing, and succeeds.
        assert _staging(fake_storage, job_id) == [
            ("POST", "mask.png"),
            ("DELETE", "attachments"),
            ("DELETE", "attachments"),
        ]
        finished = await h.job_row(job_id)

        # The runbook's re-run: the row back to pending, the workflow reset to its first task.
        await h.db.execute("UPDATE quel_production_jobs SET job_status = 'pending' WHERE job_id = $1", job_id)
        await reset_to_first_task(client, job_id)
        rerun = await client.get_workflow_handle_for(ProductionJobWorkflow.run, job_id).result()
        assert (rerun.status, sorted(rerun.attach_ids)) == ("completed", sorted(finished["generated_attach_ids"]))
        assert _staging(fake_storage, job_id)[3:] == [
            ("POST", "mask.png"),
            ("DELETE", "attachments"),
            ("DELETE", "attachments"),
        ]
        assert not [path for (_, path) in fake_storage.objects if path.startswith(f"modify-inputs/{job_id}/")]


async def test_local_folder_staged_inputs_are_deleted_once_final(client: Client, settings: Settings) -> None:
    async with harness(client, settings) as h:
        job_id = await _run_modify_job(h)
    folder = Path(settings.storage_dir) / settings.storage_bucket / "modify-inputs" / job_id
    assert not [path for path in folder.rglob("*") if path.is_file()]
