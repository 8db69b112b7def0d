"""The one line the Temporal UI shows for each activity of a job, so its timeline reads as a story
(`claim job`, `stage 1/2 · front/full · image 3 of 4`, `record image 3`, `finish: completed 4/4`)
instead of a row of identical bars. Stages and images count from 1, as people count them."""

from __future__ import annotations

from domain.outcome import Outcome
from domain.plan import SlotPlan, StagePlan

CLAIM = "claim job"
PREPARE_MODIFY = "prepare in-paint inputs"
REQUEST_CANCEL = "cancel: set the cancel flag"


def _stage(stage: StagePlan, stage_count: int) -> str:
    return f"stage {stage.index + 1}/{stage_count}"


def resolve_inputs(stage: StagePlan, stage_count: int) -> str:
    return f"find inputs · {_stage(stage, stage_count)}"


def generate_image(stage: StagePlan, stage_count: int, slot: SlotPlan, number: int) -> str:
    """`number`: the image's place in its stage as planned, from 0 (an adopted job's stage may
    start after the images another worker made)."""
    view = "/".join(part for part in (slot.angle or stage.camera_angle, slot.shot or stage.shot_type) if part)
    combination = view or f"combination {slot.combo + 1}"
    planned = stage.first_number + len(stage.slots)
    return f"{_stage(stage, stage_count)} · {combination} · image {number + 1} of {planned}"


def record_output(stage: StagePlan, stage_count: int, number: int) -> str:
    image = f"record image {number + 1}"
    return image if stage_count == 1 else f"{image} · {_stage(stage, stage_count)}"


def finish(outcome: Outcome, produced: int, total: int) -> str:
    return f"finish: {outcome.status.value} {produced}/{total}" if total else f"finish: {outcome.status.value}"
