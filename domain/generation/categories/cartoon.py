"""Cartoon: a webtoon-style illustration of up to three characters."""

from __future__ import annotations

from domain.generation.buckets import Bucket, Buckets, TypeTable
from domain.generation.categories.cinema import normalise_cast
from domain.generation.categories.strategy import CategoryStrategy
from domain.generation.prompt_blocks import (
    PromptInput,
    RoleWording,
    Scene,
    as_sentence,
    bullets,
    join_blocks,
    role_lines,
    styling_block,
)
from domain.plan import Category

MAX_CHARACTERS = 3

# As cinema, without `actor`; `background` is accepted in pipeline stages too (bug fix).
TYPES: TypeTable = {
    **{name: Bucket.MODEL for name in ("model", "character", "face")},
    "background": Bucket.BACKGROUND,
    "bg": Bucket.BACKGROUND,
    **{name: Bucket.CLOTHING for name in ("top", "pants", "outer")},
    **{name: Bucket.ACCESSORIES for name in ("shoes", "bag", "accessory", "acce", "prop")},
}

NO_CHARACTER_NOTE = (
    "No character was supplied: illustrate the referenced objects or place on their own, without any character."
)


def normalise(buckets: Buckets) -> Buckets:
    return normalise_cast(buckets, NO_CHARACTER_NOTE)


def wrap_combination(angle: str, shot: str, prompt: str) -> str:
    # Cartoon has no angle/shot vocabulary: the raw keys are passed on.
    return f"{angle} view, {shot}. {as_sentence(prompt)}"


_ROLES: dict[Bucket, RoleWording] = {
    Bucket.MODEL: RoleWording(
        "CHARACTER",
        "redraw this character in the cartoon style, keeping their recognisable features, hair and proportions.",
        stand_in="no character was supplied; this is the key object to illustrate, not a person.",
    ),
    Bucket.CLOTHING: RoleWording(
        "OUTFIT",
        "the clothes to draw on the characters, restyled as cartoon art.",
        stand_in="the character reference again, for the outfit they wear.",
    ),
    Bucket.ACCESSORIES: RoleWording("PROPS", "items to draw into the scene in the same style."),
    Bucket.BACKGROUND: RoleWording(
        "BACKGROUND INSPIRATION",
        "loose inspiration for the setting; repaint it in the cartoon style, never paste it.",
    ),
}


def _preamble(prompt: PromptInput) -> str:
    style = "You are a webtoon artist creating one finished cartoon illustration."
    count = prompt.supplied.models
    if prompt.scene is Scene.WITH_MODEL and count == 1:
        return f"{style} Draw the character from the reference as the star of the panel."
    if prompt.scene is Scene.WITH_MODEL:
        return (
            f"{style} Paint all {count} characters into one scene together, under one "
            "colour palette and one lighting setup."
        )
    if prompt.scene is Scene.PRODUCTS_ONLY:
        return f"{style} Restyle the referenced items as cartoon art and feature them alone."
    if prompt.scene is Scene.BACKGROUND_ONLY:
        return f"{style} Paint the referenced place as a cartoon environment with no characters."
    return f"{style} Create it from the written brief alone."


_RULES = (
    bullets(
        "REQUIRED:",
        (
            "Clean line art, flat colour with soft cel shading, one consistent style.",
            "Characters keep the identity shown in their references.",
            "One continuous panel that fills the frame.",
        ),
    ),
    bullets(
        "FORBIDDEN:",
        (
            "Photorealistic rendering or pasted photo elements.",
            "Extra, missing or duplicated characters.",
            "Split panels, grids, collages, borders, speech bubbles or text.",
        ),
    ),
)

_WIDE_FRAME = bullets(
    "WIDE 16:9 PANEL:",
    (
        "Stage the scene across the full width, characters on the thirds.",
        "Never stretch or squash characters to fill the panel.",
    ),
)


def build_prompt(prompt: PromptInput) -> str:
    return join_blocks(
        _preamble(prompt),
        role_lines(prompt, _ROLES),
        *_RULES,
        _WIDE_FRAME if prompt.aspect_ratio == "16:9" else None,
        styling_block(prompt.caller_text),
    )


CARTOON = CategoryStrategy(
    category=Category.CARTOON,
    batch_types=TYPES,
    pipeline_types=TYPES,
    normalise=normalise,
    build_prompt=build_prompt,
    wrap_combination=wrap_combination,
    max_models=MAX_CHARACTERS,
)
