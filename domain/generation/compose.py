"""From reference images and one slot of the plan to one generator request (DOMAIN 6.2).

The same pipeline serves every category: categorise by type tag, reduce the one-image
slots for this image, normalise, merge each bucket into one part, then build the text
with the category's prompt builder."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from domain.generation.buckets import MERGED_REFERENCE_TYPE, Bucket, Buckets
from domain.generation.categories import CategoryStrategy, strategy_for
from domain.generation.images import (
    PNG,
    TRANSPARENT_PIXEL_PNG,
    merge_bucket,
    prepare_reference,
)
from domain.generation.prompt_blocks import (
    NO_REFERENCES_NOTE,
    VARIATION_REQUEST,
    PromptInput,
    Supplied,
    inpaint_prompt,
    join_blocks,
)
from domain.generation.request import GeneratorRequest, ImagePart, Part, TextPart
from domain.plan import Category, JobKind

MULTI_REFERENCE_TEMPERATURE = 0.45

__all__ = [
    "MERGED_REFERENCE_TYPE",
    "MULTI_REFERENCE_TEMPERATURE",
    "ReferenceImage",
    "SlotContext",
    "compose_modify_request",
    "compose_request",
]


@dataclass(frozen=True)
class ReferenceImage:
    data: bytes
    type: str
    """Legacy type tag, already lowercased and trimmed (`model`, `top`, `background`...).
    A pipeline stage's legacy `mergedImageAttachId` uses `MERGED_REFERENCE_TYPE`."""


@dataclass(frozen=True)
class SlotContext:
    category: Category
    kind: JobKind
    caller_prompt: str
    """basePrompt, stage prompt, wrappingPrompt or prompt, already defaulted."""
    aspect_ratio: str
    angle: str | None = None
    shot: str | None = None
    camera_angle: str | None = None
    shot_type: str | None = None
    image_number: int = 0
    """Index of this image within its stage; rotates dishes and backgrounds in pipelines."""


def compose_request(references: Sequence[ReferenceImage], slot: SlotContext) -> GeneratorRequest:
    strategy = strategy_for(slot.category)
    if slot.kind in (JobKind.SINGLE_BATCH, JobKind.PIPELINE_STAGE):
        return _multi_reference(strategy, references, slot)
    if slot.kind in (JobKind.SIMPLE_GENERAL, JobKind.SIMPLE_PORTRAIT):
        return _single_reference(strategy, references, slot)
    raise ValueError(f"{slot.kind} requests are built by compose_modify_request")


def compose_modify_request(
    original: bytes,
    mask_png: bytes,
    prompt: str,
    reference: bytes | None,
    aspect_ratio: str,
) -> GeneratorRequest:
    """In-paint: the instruction first, then the original, the mask and the style reference."""
    images = [("original", original), ("mask", mask_png)]
    if reference is not None:
        images.append(("reference", reference))
    parts: list[Part] = [TextPart(inpaint_prompt(prompt, has_reference=reference is not None))]
    for role, data in images:
        sent, mime = prepare_reference(data)
        parts.append(ImagePart(data=sent, mime=mime, role=role))
    return GeneratorRequest(parts=tuple(parts), aspect_ratio=aspect_ratio)


def _multi_reference(
    strategy: CategoryStrategy, references: Sequence[ReferenceImage], slot: SlotContext
) -> GeneratorRequest:
    chosen = strategy.select(strategy.categorise(references, slot.kind), slot.kind, slot.image_number)
    # The preamble and the fashion guard follow what the caller supplied, not the
    # stand-in copies: a products-only job gets the still-life preamble even though its
    # product also fills the model slot (legacy took the "has model" branch there).
    supplied = Supplied.of(chosen)
    # Normalisation runs after the per-image rotation (the legacy order left a false
    # "no main dish" sentence in eats pipelines that did have dishes).
    buckets = chosen.with_note(NO_REFERENCES_NOTE) if chosen.is_empty else strategy.normalise(chosen)
    images = _bucket_parts(buckets, slot.aspect_ratio)
    prompt = PromptInput(
        roles=tuple(Bucket(part.role) for part in images),
        supplied=supplied,
        caller_text=strategy.caller_text(
            slot.kind,
            slot.caller_prompt,
            angle=slot.angle,
            shot=slot.shot,
            camera_angle=slot.camera_angle,
            shot_type=slot.shot_type,
        ),
        aspect_ratio=slot.aspect_ratio,
        stand_ins=buckets.stand_ins,
    )
    text = join_blocks(strategy.product_guard(supplied), strategy.build_prompt(prompt), *buckets.notes)
    return GeneratorRequest(
        parts=(*images, TextPart(text)),
        aspect_ratio=slot.aspect_ratio,
        temperature=MULTI_REFERENCE_TEMPERATURE,
    )


def _bucket_parts(buckets: Buckets, aspect_ratio: str) -> list[ImagePart]:
    """Cast members one part each, the list buckets merged into one part each."""
    parts = []
    for model in buckets.models:
        data, mime = prepare_reference(model)
        parts.append(ImagePart(data=data, mime=mime, role=Bucket.MODEL.value))
    for bucket in (Bucket.CLOTHING, Bucket.ACCESSORIES, Bucket.BACKGROUND):
        if images := buckets.of(bucket):
            data, mime = merge_bucket(images, aspect_ratio)
            parts.append(ImagePart(data=data, mime=mime, role=bucket.value))
    return parts


def _single_reference(
    strategy: CategoryStrategy, references: Sequence[ReferenceImage], slot: SlotContext
) -> GeneratorRequest:
    """Text first, then every reference as its own part, or a transparent pixel for none."""
    supplied = Supplied.of(strategy.categorise(references, slot.kind))
    text = join_blocks(strategy.product_guard(supplied), f"{slot.caller_prompt}\n\n{VARIATION_REQUEST}")
    images = [prepare_reference(reference.data) for reference in references] or [(TRANSPARENT_PIXEL_PNG, PNG)]
    parts: list[Part] = [TextPart(text)]
    parts += [ImagePart(data=data, mime=mime, role="reference") for data, mime in images]
    return GeneratorRequest(parts=tuple(parts), aspect_ratio=slot.aspect_ratio)
