"""The one shape every category takes: its type tables, slot rules, normalisation, caller
text wrapper and prompt builder (DOMAIN 11 item 17: one pipeline, five strategies)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from domain.generation.buckets import (
    Bucket,
    Buckets,
    TaggedImage,
    TypeTable,
    categorise,
    one_slot,
)
from domain.generation.prompt_blocks import PromptInput, Supplied
from domain.plan import Category, JobKind


def _as_is(prompt: str, camera_angle: str | None, shot_type: str | None) -> str:
    return prompt


def _no_guard(supplied: Supplied) -> str | None:
    return None


@dataclass(frozen=True)
class CategoryStrategy:
    category: Category
    batch_types: TypeTable
    """Type tag to bucket for single_batch (and the simple kinds)."""
    pipeline_types: TypeTable
    normalise: Callable[[Buckets], Buckets]
    """Placeholder copies and appended sentences (DOMAIN 5.3), for non-empty buckets."""
    build_prompt: Callable[[PromptInput], str]
    wrap_combination: Callable[[str, str, str], str]
    """(angle, shot, caller prompt) to the caller text of one single_batch combination."""
    wrap_stage: Callable[[str, str | None, str | None], str] = _as_is
    """(stage prompt, cameraAngle, shotType) to the caller text of a pipeline stage."""
    batch_unknown: Bucket | None = None
    """Bucket for unknown type tags; None drops them."""
    pipeline_unknown: Bucket | None = None
    max_models: int = 1
    """Above 1, models form a cast: the first `max_models` are kept, extras dropped."""
    pipeline_rotation: frozenset[Bucket] = field(default=frozenset())
    """One-image buckets that, in pipeline stages, cycle through all their images by image
    number instead of keeping the last."""
    product_guard: Callable[[Supplied], str | None] = _no_guard
    """Prefix for the whole text, decided from what the caller supplied (fashion 7.2)."""

    def categorise(self, images: Sequence[TaggedImage], kind: JobKind) -> Buckets:
        if kind is JobKind.PIPELINE_STAGE:
            return categorise(images, self.pipeline_types, self.pipeline_unknown)
        return categorise(images, self.batch_types, self.batch_unknown)

    def select(self, buckets: Buckets, kind: JobKind, image_number: int) -> Buckets:
        """Reduce the one-image buckets (and the cast) to what one image is generated from."""

        def rotation(bucket: Bucket) -> int | None:
            rotates = kind is JobKind.PIPELINE_STAGE and bucket in self.pipeline_rotation
            return image_number if rotates else None

        if self.max_models > 1:
            models = buckets.models[: self.max_models]
        else:
            models = one_slot(buckets.models, rotate_by=rotation(Bucket.MODEL))
        backgrounds = one_slot(buckets.backgrounds, rotate_by=rotation(Bucket.BACKGROUND))
        return buckets.with_images(Bucket.MODEL, models).with_images(Bucket.BACKGROUND, backgrounds)

    def caller_text(
        self,
        kind: JobKind,
        prompt: str,
        *,
        angle: str | None = None,
        shot: str | None = None,
        camera_angle: str | None = None,
        shot_type: str | None = None,
    ) -> str:
        """The caller's prompt as the builder receives it: wrapped per combination in
        single_batch, per stage in pipelines (cinema only), untouched otherwise."""
        if kind is JobKind.SINGLE_BATCH:
            return self.wrap_combination(angle or "front", shot or "full", prompt)
        if kind is JobKind.PIPELINE_STAGE:
            return self.wrap_stage(prompt, camera_angle, shot_type)
        return prompt
