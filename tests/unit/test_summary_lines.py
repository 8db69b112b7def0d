"""The lines people read in the Temporal UI, counted from 1, short, and never empty."""

from __future__ import annotations

from dataclasses import replace

from clients.job_store import JobHeadline
from domain.outcome import JobStatus, Outcome
from domain.plan import SlotPlan, StagePlan
from operations.start import job_summary
from workflows import summaries

JOB_ID = "7b0e2a51-4c1d-4e7f-9a0b-1c2d3e4f5a6b"


ACME_JOB = JobHeadline(
    production_path="fashion",
    job_type="single_batch",
    total_images=4,
    org_name="Acme",
    member_name="Kim",
)


def stage(index: int, slots: int, camera_angle: str | None = None) -> StagePlan:
    images = tuple(SlotPlan(combo=0, index=n) for n in range(slots))
    return StagePlan(index=index, prompt="", aspect_ratio="1:1", slots=images, camera_angle=camera_angle)


def test_an_image_names_its_stage_view_and_place() -> None:
    first = stage(0, 4)
    front_full = SlotPlan(combo=0, index=2, angle="front", shot="full")
    assert summaries.generate_image(first, 2, front_full, 2) == "stage 1/2 · front/full · image 3 of 4"


def test_an_adopted_stage_counts_its_images_as_planned() -> None:
    rest, slot = replace(stage(0, 3), first_number=2), SlotPlan(combo=0, index=2)
    assert summaries.generate_image(rest, 1, slot, 2) == "stage 1/1 · combination 1 · image 3 of 5"


def test_an_image_without_a_view_of_its_own_takes_the_stage_one_or_its_combination() -> None:
    slot = SlotPlan(combo=1, index=0)
    assert summaries.generate_image(stage(1, 3, camera_angle="low"), 2, slot, 0) == "stage 2/2 · low · image 1 of 3"
    assert summaries.generate_image(stage(0, 3), 1, slot, 0) == "stage 1/1 · combination 2 · image 1 of 3"


def test_records_name_their_image_and_the_stage_only_when_there_are_several() -> None:
    assert summaries.record_output(stage(0, 4), 1, 2) == "record image 3"
    assert summaries.record_output(stage(1, 4), 2, 0) == "record image 1 · stage 2/2"


def test_finish_says_how_the_job_ended_and_how_much_it_made() -> None:
    assert summaries.finish(Outcome(JobStatus.COMPLETED, 0, None), 4, 4) == "finish: completed 4/4"
    assert summaries.finish(Outcome(JobStatus.FAILED, 0, "bad input"), 0, 0) == "finish: failed"


def test_a_job_summary_names_path_type_images_and_payer() -> None:
    assert job_summary(JOB_ID, ACME_JOB) == "fashion · single_batch · 4 images · org Acme"
    assert job_summary(JOB_ID, replace(ACME_JOB, org_name=None)) == "fashion · single_batch · 4 images · member Kim"
    no_names = replace(ACME_JOB, production_path=None, total_images=1, org_name=None, member_name=None)
    assert job_summary(JOB_ID, no_names) == "single_batch · 1 image"


def test_a_long_name_is_cut_and_a_missing_row_still_gives_a_summary() -> None:
    long = job_summary(JOB_ID, replace(ACME_JOB, org_name="A" * 200))
    assert long.endswith("org " + "A" * 39 + "…")
    assert job_summary(JOB_ID, None) == "job 7b0e2a51 · no job row when it was started"
