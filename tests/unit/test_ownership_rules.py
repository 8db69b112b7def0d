"""Who runs a job (D14): the claim rules, the adoption rules and the plan an adopted job keeps."""

from __future__ import annotations

from datetime import timedelta

import pytest

from domain.ownership import (
    FOREIGN_PROCESSING,
    AdoptAction,
    Claim,
    adopt_decision,
    claim_refusal,
    kept_attach_ids,
    remaining_plan,
)
from domain.plan import Category, JobKind, JobPlan, SlotPlan, StagePlan

JOB = "2310ef7e-42d3-49d6-ba9f-60dd1b7a10c6"
OURS = Claim(workflow_id=JOB)
ADOPTED = Claim(workflow_id=JOB, adopted=True, kept_attach_ids=(7, 8))
IDLE = timedelta(hours=1)


@pytest.mark.parametrize(
    ("status", "claim", "workflow_id", "refusal"),
    [
        ("pending", None, JOB, None),
        ("processing", OURS, JOB, None),
        ("processing", ADOPTED, JOB, None),
        ("pending", OURS, JOB, None),
        ("processing", None, JOB, FOREIGN_PROCESSING),
        ("processing", OURS, JOB.upper(), f"job is run by workflow {JOB!r}"),
        ("pending", OURS, JOB.upper(), f"job is run by workflow {JOB!r}"),
        ("completed", OURS, JOB, "job is already completed"),
        ("failed", None, JOB, "job is already failed"),
        (None, None, JOB, "job row not found"),
    ],
)
def test_claim_runs_only_pending_rows_and_rows_this_workflow_claimed(
    status: str | None, claim: Claim | None, workflow_id: str, refusal: str | None
) -> None:
    assert claim_refusal(status, claim, workflow_id) == refusal


@pytest.mark.parametrize(
    ("status", "claim", "idle", "force", "action", "reason_part"),
    [
        ("processing", None, IDLE, False, AdoptAction.ADOPT, ""),
        ("processing", None, None, False, AdoptAction.ADOPT, ""),
        ("processing", None, timedelta(seconds=20), False, AdoptAction.REFUSE, "still moving (updated 20s ago)"),
        ("processing", None, timedelta(seconds=20), True, AdoptAction.ADOPT, ""),
        ("processing", ADOPTED, timedelta(seconds=5), False, AdoptAction.RESTART, ""),
        ("processing", OURS, IDLE, True, AdoptAction.REFUSE, "already run by this project"),
        ("pending", None, IDLE, True, AdoptAction.REFUSE, "pending"),
        ("completed", ADOPTED, IDLE, True, AdoptAction.REFUSE, "already completed"),
        (None, None, None, True, AdoptAction.REFUSE, "not found"),
    ],
)
def test_adopt_takes_only_idle_foreign_processing_rows(
    status: str | None,
    claim: Claim | None,
    idle: timedelta | None,
    force: bool,
    action: AdoptAction,
    reason_part: str,
) -> None:
    decision = adopt_decision(status, claim, idle, force=force)
    assert decision.action is action
    assert reason_part in decision.reason


def test_kept_ids_are_the_positive_integers_of_the_array_once_in_order() -> None:
    assert kept_attach_ids([5, 3, 5, 9.0, "7", None, -1, 0, True, 2.5, 4]) == (5, 3, 9, 4)
    assert kept_attach_ids(None) == ()
    assert kept_attach_ids({"ids": [1]}) == ()


def _plan(*stage_sizes: int) -> JobPlan:
    stages = tuple(
        StagePlan(
            index=stage,
            prompt=f"stage {stage}",
            aspect_ratio="16:9",
            slots=tuple(SlotPlan(combo=stage, index=n) for n in range(size)),
        )
        for stage, size in enumerate(stage_sizes)
    )
    return JobPlan(kind=JobKind.PIPELINE_STAGE, category=Category.CINEMA, stages=stages)


def _identities(plan: JobPlan) -> list[tuple[int, int, int]]:
    return [(stage.index, slot.combo, slot.index) for stage in plan.stages for slot in stage.slots]


def test_remaining_plan_drops_the_first_made_images_and_keeps_the_rest_as_planned() -> None:
    plan = _plan(2, 3)
    rest = remaining_plan(plan, 3)
    assert rest.total_images == 2
    assert _identities(rest) == _identities(plan)[3:]
    assert [(stage.index, len(stage.slots), stage.first_number) for stage in rest.stages] == [(0, 0, 2), (1, 2, 1)]
    assert [stage.prompt for stage in rest.stages] == ["stage 0", "stage 1"]


def test_remaining_plan_with_nothing_or_everything_made() -> None:
    plan = _plan(2, 3)
    assert remaining_plan(plan, 0) == plan
    assert remaining_plan(plan, 5).total_images == 0
    assert remaining_plan(plan, 9).total_images == 0
