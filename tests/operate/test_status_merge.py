"""How `quel status` merges the job row with the workflow's progress: the row is what the front end reads,
the workflow adds what the row does not hold yet."""

from __future__ import annotations

from datetime import UTC, datetime

from operations.status import JobRow, merge_status
from workflows.progress import JobProgress

JOB_ID = "70b20005-f88a-4117-864b-d48c0b4008c0"


def row(status: str, *, completed: int = 2, failed: int = 0, ids: tuple[int, ...] = (60001, 60002)) -> JobRow:
    return JobRow(
        job_status=status,
        total_images=4,
        completed_images=completed,
        failed_images=failed,
        generated_attach_ids=list(ids),
        error_message=None,
        started_at=datetime(2026, 11, 29, 5, 1, tzinfo=UTC),
        completed_at=None,
    )


def progress(status: str, *, total: int = 6, completed: int = 2, failed: int = 1) -> JobProgress:
    return JobProgress(
        job_id=JOB_ID,
        status=status,
        total_images=total,
        completed_images=completed,
        failed_images=failed,
        current_stage=1,
        stage_count=2,
        attach_ids=[60001, 60002][:completed],
    )


def test_running_job_counts_failures_from_the_workflow_before_the_row_has_them() -> None:
    view = merge_status(JOB_ID, row("processing"), None, progress("processing", failed=1))

    assert (view.job_status, view.failed_images, view.completed_images) == ("processing", 1, 2)
    assert (view.total_images, view.current_stage, view.stage_count) == (6, 1, 2)
    assert view.live_progress


def test_finished_job_takes_its_counts_from_the_row() -> None:
    view = merge_status(JOB_ID, row("completed", completed=5, failed=1), None, progress("completed", failed=0))

    assert (view.job_status, view.completed_images, view.failed_images) == ("completed", 5, 1)


def test_job_whose_workflow_did_not_answer_shows_the_row() -> None:
    view = merge_status(JOB_ID, row("processing", failed=0), None, None)

    assert (view.job_status, view.total_images, view.current_stage, view.live_progress) == (
        "processing",
        4,
        None,
        False,
    )
    assert view.started_at == "2026-11-29T05:01:00+00:00"


def test_workflow_without_a_row_shows_the_workflow() -> None:
    view = merge_status(JOB_ID, None, None, progress("skipped", total=0, completed=0, failed=0))

    assert (view.job_status, view.total_images, view.generated_attach_ids) == ("skipped", 0, [])
    assert view.started_at is None
