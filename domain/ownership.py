"""Who runs a job (DECISIONS D14): a run of this project only touches a row this project
claimed; rows another worker left `processing` wait for `quel adopt`.

Pure rules; `clients.job_store` applies them under the row's lock.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import timedelta
from enum import StrEnum
from typing import Any

from domain.plan import JobPlan

FOREIGN_PROCESSING = "job is processing under another worker; `quel adopt` takes it over"
STILL_MOVING = timedelta(minutes=1)
"""A row updated more recently than this is probably still being worked on."""


@dataclass(frozen=True)
class Claim:
    """This project's record of owning a job (`quel_temporal_claims`)."""

    workflow_id: str
    """The only workflow that may run the job: another id naming the same job is refused."""
    adopted: bool = False
    kept_attach_ids: tuple[int, ...] = ()
    """Adopted jobs: the images the other worker had made, which count as produced."""


def claim_refusal(status: str | None, claim: Claim | None, workflow_id: str) -> str | None:
    """Why workflow `workflow_id` must leave the job alone, or None when it may run it."""
    if status is None:
        return "job row not found"
    if status not in ("pending", "processing"):
        return f"job is already {status}"
    if claim is not None and claim.workflow_id != workflow_id:
        return f"job is run by workflow {claim.workflow_id!r}"
    if claim is None and status == "processing":
        return FOREIGN_PROCESSING
    return None


class AdoptAction(StrEnum):
    ADOPT = "adopt"
    """A foreign `processing` row: claim it and run the images still missing."""
    RESTART = "restart"
    """Adopted before and still `processing`: make sure its workflow runs (a no-op if it does)."""
    REFUSE = "refuse"


@dataclass(frozen=True)
class AdoptDecision:
    action: AdoptAction
    reason: str = ""


def adopt_decision(status: str | None, claim: Claim | None, idle: timedelta | None, *, force: bool) -> AdoptDecision:
    """What `quel adopt` does with a job whose row is `status`, untouched for `idle` (None:
    never updated)."""
    if status is None:
        return AdoptDecision(AdoptAction.REFUSE, "job row not found")
    if status == "pending":
        return AdoptDecision(AdoptAction.REFUSE, "job is pending, no worker holds it: push it with `quel enqueue`")
    if status != "processing":
        return AdoptDecision(AdoptAction.REFUSE, f"job is already {status}")
    if claim is not None and claim.adopted:
        return AdoptDecision(AdoptAction.RESTART, "adopted before")
    if claim is not None:
        return AdoptDecision(AdoptAction.REFUSE, f"job is already run by this project (workflow {claim.workflow_id!r})")
    if idle is not None and idle < STILL_MOVING and not force:
        seconds = max(int(idle.total_seconds()), 0)
        return AdoptDecision(
            AdoptAction.REFUSE, f"job is still moving (updated {seconds}s ago); --force takes it over anyway"
        )
    return AdoptDecision(AdoptAction.ADOPT)


def kept_attach_ids(generated_attach_ids: Any) -> tuple[int, ...]:
    """The other worker's outputs as listed in `generated_attach_ids`: each positive integer
    once, in order; anything else in the array is not an image id."""
    if not isinstance(generated_attach_ids, list):
        return ()
    kept: dict[int, None] = {}
    for value in generated_attach_ids:
        if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value) or value <= 0:
            continue
        kept.setdefault(int(value), None)
    return tuple(kept)


def remaining_plan(plan: JobPlan, made: int) -> JobPlan:
    """The plan without its first `made` images, in plan order (stage, then slot).

    The other worker's outputs carry no stage or combination, so which slots they were is
    unknown; their count is what is taken off. The slots left keep their identities and
    places, so the same adoption run again generates and charges the same images. A stage
    left without images stays, empty, so stages keep their numbers."""
    stages = []
    to_drop = max(made, 0)
    for stage in plan.stages:
        dropped = min(to_drop, len(stage.slots))
        to_drop -= dropped
        stages.append(replace(stage, slots=stage.slots[dropped:], first_number=stage.first_number + dropped))
    return replace(plan, stages=tuple(stages))
