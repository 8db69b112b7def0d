"""Cinema: a live-action film still with a cast of up to three people."""

from __future__ import annotations

from domain.generation.buckets import Bucket, Buckets, TypeTable
from domain.generation.categories.strategy import CategoryStrategy
from domain.generation.prompt_blocks import (
    PromptInput,
    RoleWording,
    Scene,
    bullets,
    framing_phrase,
    join_blocks,
    role_lines,
    styling_block,
)
from domain.plan import Category

MAX_CAST = 3

# The legacy pipeline table accepted only `bg`; accepting `background` there fixes a bug.
TYPES: TypeTable = {
    **{name: Bucket.MODEL for name in ("model", "character", "actor", "face")},
    "background": Bucket.BACKGROUND,
    "bg": Bucket.BACKGROUND,
    **{name: Bucket.CLOTHING for name in ("top", "pants", "outer")},
    **{name: Bucket.ACCESSORIES for name in ("shoes", "bag", "accessory", "acce", "prop")},
}

NO_CAST_NOTE = "No actor was supplied: frame the scene around the referenced objects or place, with no people in it."

ANGLES: dict[str, str] = {
    "front": "front-facing, looking into the lens",
    "side": "side profile at 90 degrees",
    "profile": "formal front-facing portrait",
    "back": "rear view",
}
SHOTS: dict[str, str] = {
    "tight": "close-up from the shoulders up",
    "middle": "medium shot from the waist up",
    "full": "full shot from head to toe",
}
_STAGE_PREFIX_LIMIT = 50


def normalise_cast(buckets: Buckets, no_cast_note: str) -> Buckets:
    """Cinema and cartoon: a cast with no wardrobe or props doubles as the wardrobe
    reference; with no cast, the first garment, prop or background stands in for it.

    Copies are only made from images the caller supplied in that role, so a lone
    background is not sent three times as cast, wardrobe and location."""
    if buckets.models:
        if buckets.clothing or buckets.accessories:
            return buckets
        return buckets.with_stand_in(Bucket.CLOTHING, buckets.models[0])
    stand_in = buckets.first_of(Bucket.CLOTHING, Bucket.ACCESSORIES, Bucket.BACKGROUND)
    if stand_in is None:
        return buckets
    return buckets.with_stand_in(Bucket.MODEL, stand_in, no_cast_note)


def normalise(buckets: Buckets) -> Buckets:
    return normalise_cast(buckets, NO_CAST_NOTE)


_TECHNICAL_SPECS = bullets(
    "TECHNICAL SPECS:",
    (
        "A fully photorealistic frame from a live-action film set.",
        "Natural, motivated light with real shadows.",
        "Real skin, fabric and surface texture; no illustration or CGI look.",
        "Believable lens behaviour and depth of field.",
        "Follow the shot type and camera angle above exactly.",
    ),
)


def _shot_block(shot: str, angle: str, scene: str, *, framing: bool) -> str:
    lines = [f"SHOT TYPE: {shot}"]
    if framing:
        lines.append(f"FRAMING: {shot}")
    lines += [f"CAMERA ANGLE: {angle}", f"SCENE: {scene}", "", _TECHNICAL_SPECS]
    return "\n".join(lines)


def wrap_combination(angle: str, shot: str, prompt: str) -> str:
    shot_phrase = framing_phrase(shot, SHOTS, "Full body shot")
    angle_phrase = framing_phrase(angle, ANGLES, "Front view")
    return _shot_block(shot_phrase, angle_phrase, prompt, framing=True)


def strip_framing_prefix(prompt: str) -> str:
    """Drop a short leading "X, Y. " (the front end's angle/shot echo) from a stage prompt."""
    head, separator, rest = prompt.partition(". ")
    if separator and len(head) + len(separator) < _STAGE_PREFIX_LIMIT and "," in head:
        return rest.lstrip()
    return prompt


def wrap_stage(prompt: str, camera_angle: str | None, shot_type: str | None) -> str:
    """Stages carry free-text camera settings ("Low Angle", "CU"), passed on verbatim."""
    camera_angle = (camera_angle or "").strip()
    shot_type = (shot_type or "").strip()
    if not (camera_angle and shot_type):
        return prompt
    return _shot_block(shot_type, camera_angle, strip_framing_prefix(prompt), framing=False)


def _task(prompt: PromptInput) -> str:
    cast = prompt.supplied.models
    if prompt.scene is Scene.WITH_MODEL:
        people = "one person" if cast == 1 else f"exactly {cast} people"
        return f"[TASK]\nA single still from a live-action film showing {people}."
    if prompt.scene is Scene.PRODUCTS_ONLY:
        return "[TASK]\nA cinematic product shot of the referenced items, with no people."
    if prompt.scene is Scene.BACKGROUND_ONLY:
        return "[TASK]\nA cinematic establishing shot of the referenced location, with no people."
    return "[TASK]\nA cinematic film still created from the written brief."


def _subjects(prompt: PromptInput) -> str | None:
    if prompt.scene is not Scene.WITH_MODEL:
        return None
    lines = [
        f"Person {k}: copy face, age, gender and ethnicity from Reference Image {position}, and keep their body shape."
        for k, position in enumerate(prompt.positions(Bucket.MODEL), start=1)
    ]
    if len(lines) > 1:
        lines.append("They share one scene and interact naturally, lit by the same light.")
    return "[SUBJECTS]\n" + "\n".join(lines)


def _attire(prompt: PromptInput) -> str:
    lines = []
    for position in prompt.positions(Bucket.CLOTHING):
        if Bucket.CLOTHING in prompt.stand_ins:
            lines.append(f"Keep the outfits worn in Reference Image {position}.")
        elif prompt.scene is Scene.WITH_MODEL:
            lines.append(f"Dress the cast in the clothing from Reference Image {position}.")
        else:
            lines.append(f"Feature the clothing from Reference Image {position}.")
    for position in prompt.positions(Bucket.ACCESSORIES):
        lines.append(f"Include the props from Reference Image {position}, used naturally.")
    return "[ATTIRE & PROPS]\n" + ("\n".join(lines) or "Wardrobe and props suit the scene.")


def _environment(prompt: PromptInput) -> str:
    positions = prompt.positions(Bucket.BACKGROUND)
    if positions:
        where = f"Stage the scene in the location of Reference Image {positions[0]}, matching its light and atmosphere."
    else:
        where = "Choose a fitting cinematic location with motivated light."
    return f"[ENVIRONMENT & LIGHTING]\n{where}"


_ROLES: dict[Bucket, RoleWording] = {
    Bucket.MODEL: RoleWording(
        "ACTOR",
        "a cast member; their identity must be preserved exactly.",
        stand_in="no actor was supplied; this is the key object of the shot, not a person.",
    ),
    Bucket.CLOTHING: RoleWording(
        "WARDROBE",
        "clothing for the cast.",
        stand_in="the cast reference again, for the outfits they wear.",
    ),
    Bucket.ACCESSORIES: RoleWording("PROPS", "props and accessories used in the scene."),
    Bucket.BACKGROUND: RoleWording("LOCATION", "the place where the scene is filmed."),
}

_STYLE = "[STYLE]\nPhotorealistic cinema still, 35mm film grain, natural colour grade."
_WIDE = "[WIDESCREEN 16:9]\nAn anamorphic-style wide composition that uses the full width."
_NEGATIVE = bullets(
    "[STRICT NEGATIVE CONSTRAINTS]",
    (
        "No distorted faces, hands or anatomy.",
        "No missing, extra or duplicated people.",
        "No split screen, collage, grid or borders.",
        "No illustration, cartoon or CGI look; no text or watermarks.",
    ),
)


def build_prompt(prompt: PromptInput) -> str:
    return join_blocks(
        _task(prompt),
        "[REFERENCES]\n" + role_lines(prompt, _ROLES) if prompt.roles else None,
        _subjects(prompt),
        _attire(prompt),
        _environment(prompt),
        _STYLE,
        _WIDE if prompt.aspect_ratio == "16:9" else None,
        _NEGATIVE,
        styling_block(prompt.caller_text, heading="[ADDITIONAL STYLING]"),
    )


CINEMA = CategoryStrategy(
    category=Category.CINEMA,
    batch_types=TYPES,
    pipeline_types=TYPES,
    normalise=normalise,
    build_prompt=build_prompt,
    wrap_combination=wrap_combination,
    wrap_stage=wrap_stage,
    max_models=MAX_CAST,
)
