"""The typed plan of a job: what the workflow runs, stage after stage, image after image.

Built from the legacy row by `domain.job_input.build_plan`; small enough to live in
workflow history (prompts are stored once per stage, never per image).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Category(StrEnum):
    """Prompt and bucket family, chosen by `quel_production_path`."""

    FASHION = "fashion"
    BEAUTY = "beauty"
    EATS = "eats"
    CINEMA = "cinema"
    CARTOON = "cartoon"

    @classmethod
    def from_production_path(cls, path: str | None) -> Category:
        """NULL, empty and unknown paths all mean fashion, as in the legacy router."""
        try:
            return cls((path or "").strip().lower())
        except ValueError:
            return cls.FASHION


class JobKind(StrEnum):
    """What shape of work a job is; `modify` is detected by `maskDataUrl`, never stored."""

    SINGLE_BATCH = "single_batch"
    PIPELINE_STAGE = "pipeline_stage"
    SIMPLE_GENERAL = "simple_general"
    SIMPLE_PORTRAIT = "simple_portrait"
    MODIFY = "modify"


ASPECT_RATIOS: tuple[str, ...] = (
    "1:1",
    "2:3",
    "3:2",
    "3:4",
    "4:3",
    "4:5",
    "5:4",
    "9:16",
    "16:9",
    "21:9",
)
DEFAULT_ASPECT_RATIO = "16:9"
DEFAULT_PROMPT = "best quality, masterpiece"


@dataclass(frozen=True)
class InputRef:
    """A reference image named by the job: a `quel_attach` id and its legacy `type` tag."""

    attach_id: int
    type: str = ""


@dataclass(frozen=True)
class SlotPlan:
    """One output image. (stage, combo, index) is its identity (DECISIONS D6)."""

    combo: int
    index: int
    angle: str | None = None
    shot: str | None = None
    prompt_override: str | None = None
    """simple_portrait: the entry's `wrappingPrompt`; otherwise None (use the stage prompt)."""
    input_attach_id: int | None = None
    """simple_portrait: the entry's `mergedAttachId` (None = transparent placeholder)."""


@dataclass(frozen=True)
class StagePlan:
    index: int
    prompt: str
    aspect_ratio: str
    inputs: tuple[InputRef, ...] = ()
    slots: tuple[SlotPlan, ...] = ()
    camera_angle: str | None = None
    shot_type: str | None = None
    legacy_merged_attach_id: int | None = None
    """pipeline_stage `mergedImageAttachId`, used only when `inputs` is empty."""
    first_number: int = 0
    """Position of the first slot in the stage as planned: an adopted job's stage starts
    after the images another worker made, and each image keeps its place (its references)."""


@dataclass(frozen=True)
class ModifyPlan:
    """In-paint parameters that are small; the mask and reference data URLs stay in the row."""

    original_image_url: str
    original_attach_id: int | None
    prompt: str
    quantity: int
    aspect_ratio: str
    has_reference_image: bool = False


@dataclass(frozen=True)
class JobPlan:
    kind: JobKind
    category: Category
    stages: tuple[StagePlan, ...]
    user_id: str | None = None
    modify: ModifyPlan | None = None
    ignored_keys: tuple[str, ...] = field(default=())

    @property
    def total_images(self) -> int:
        return sum(len(stage.slots) for stage in self.stages)
