"""Eats: food photography with a main dish as the hero.

Buckets keep their shared positions: model = main dish, clothing = ingredients and sides,
accessories = toppings and garnish."""

from __future__ import annotations

from domain.generation.buckets import Bucket, Buckets, TypeTable
from domain.generation.categories.strategy import CategoryStrategy
from domain.generation.prompt_blocks import (
    CINEMATIC_ANGLES,
    CINEMATIC_SHOTS,
    NO_LAYOUTS,
    PromptInput,
    RoleWording,
    Scene,
    bullets,
    join_blocks,
    role_lines,
    styling_block,
    unified_scene_combination,
)
from domain.plan import Category

PIPELINE_TYPES: TypeTable = {
    "model": Bucket.MODEL,
    "food": Bucket.MODEL,
    "dish": Bucket.MODEL,
    "main": Bucket.MODEL,
    "background": Bucket.BACKGROUND,
    "bg": Bucket.BACKGROUND,
    "ingredient": Bucket.CLOTHING,
    "side": Bucket.CLOTHING,
    "topping": Bucket.ACCESSORIES,
    "garnish": Bucket.ACCESSORIES,
    "prop": Bucket.ACCESSORIES,
}
# single_batch also understands the fashion tags the front end reuses for food.
BATCH_TYPES: TypeTable = {
    **PIPELINE_TYPES,
    "product": Bucket.MODEL,
    **{name: Bucket.CLOTHING for name in ("top", "pants", "outer")},
    **{name: Bucket.ACCESSORIES for name in ("shoes", "bag", "accessory", "acce")},
}

NO_DISH_NOTE = "No main dish image was supplied: build the dish around the other food references."

ANGLES: dict[str, str] = {
    **CINEMATIC_ANGLES,
    "overhead": "Top-down overhead flat lay",
    "45-degree": "Classic 45-degree diagonal view of the plate",
    "macro": "Extreme macro close-up on the food's texture",
}
SHOTS: dict[str, str] = {
    **CINEMATIC_SHOTS,
    "full-plate": "the whole dish in frame",
    "hero-shot": "a dramatic hero shot with the dish dominating the frame",
    "detail": "a tight close-up on the ingredients",
    "context": "a wider lifestyle shot that shows the table setting",
}


def normalise(buckets: Buckets) -> Buckets:
    """Without a main dish, the first ingredient, topping or background stands in for it.
    A real dish with no ingredients doubles as the ingredient reference."""
    if buckets.models:
        if buckets.clothing:
            return buckets
        return buckets.with_stand_in(Bucket.CLOTHING, buckets.models[0])
    stand_in = buckets.first_of(Bucket.CLOTHING, Bucket.ACCESSORIES, Bucket.BACKGROUND)
    if stand_in is None:
        return buckets
    return buckets.with_stand_in(Bucket.MODEL, stand_in, NO_DISH_NOTE)


wrap_combination = unified_scene_combination(ANGLES, SHOTS)


_ROLES: dict[Bucket, RoleWording] = {
    Bucket.MODEL: RoleWording(
        "MAIN DISH",
        "this is food, not a person. Reproduce this dish faithfully as the hero of the shot.",
        stand_in="no main dish was supplied; treat this item as the centrepiece of the plate.",
    ),
    Bucket.CLOTHING: RoleWording(
        "INGREDIENTS / SIDES",
        "every item shown must appear, as an ingredient of the dish or as a side.",
        stand_in="this repeats the main dish; keep its ingredients clearly recognisable.",
    ),
    Bucket.ACCESSORIES: RoleWording(
        "TOPPINGS / GARNISH",
        "finish the dish with these, in natural amounts.",
    ),
    Bucket.BACKGROUND: RoleWording(
        "RESTAURANT / SETTING INSPIRATION",
        "re-create the ambience of this place around the dish; the food stays the hero.",
    ),
}

_CRITICAL = bullets(
    "CRITICAL REQUIREMENTS:",
    (
        "Shoot from a natural food-photography angle.",
        "Photorealistic and appetising: fresh, glistening, with true colours.",
        "Plated with the care of a professional chef.",
        "Exactly one dish is the hero of the picture.",
        "One continuous photograph: no split, collage, grid or borders.",
    ),
)

_PREAMBLES: dict[Scene, str] = {
    Scene.WITH_MODEL: (
        "You are a food photographer shooting a menu hero image of the main dish, with its "
        "ingredients and garnish around it."
    ),
    Scene.PRODUCTS_ONLY: (
        "You are a food photographer. Compose one finished dish from the ingredient and "
        "garnish references and photograph it as the hero."
    ),
    Scene.BACKGROUND_ONLY: (
        "You are a food photographer. Set a beautifully plated dish that suits the setting "
        "reference and photograph it there."
    ),
    Scene.NOTHING: ("You are a food photographer. Create the picture from the written brief alone."),
}

_SETTING = (
    "SETTING: re-render the restaurant or table from the setting reference in full, with "
    "matching light and reflections on plate and cutlery; the dish stays sharp and central."
)

_ASPECT_BLOCKS: dict[str, str] = {
    "1:1": bullets(
        "SQUARE 1:1 FRAME:",
        ("Centre the plate with even breathing room on every side.",),
    ),
    "16:9": bullets(
        "WIDE 16:9 FRAME:",
        (
            "Let the table run across the full width, with the dish on a third.",
            "Never stretch the plate into an oval.",
        ),
    ),
    "9:16": bullets(
        "TALL 9:16 FRAME:",
        (
            "Use the height: dish in the lower two thirds, setting rising behind it.",
            "Never stretch the plate to fill the height.",
        ),
    ),
}

_STYLE_GUIDE = bullets(
    "FOOD STYLE GUIDE:",
    (
        "Soft directional light with gentle highlights on sauces and glazes.",
        "Shallow depth of field that keeps the dish crisp.",
        "Props and tableware that support the food without competing with it.",
    ),
)


def build_prompt(prompt: PromptInput) -> str:
    # Eats leads with its critical block and the caller's text, unlike the other categories.
    return join_blocks(
        _CRITICAL,
        styling_block(prompt.caller_text),
        _PREAMBLES[prompt.scene],
        role_lines(prompt, _ROLES),
        _SETTING if prompt.has(Bucket.BACKGROUND) else None,
        _ASPECT_BLOCKS.get(prompt.aspect_ratio),
        _STYLE_GUIDE,
        bullets(
            "EDGE TO EDGE:",
            (
                "The photograph fills the frame with no margins.",
                *(f"Never: {r}" for r in NO_LAYOUTS),
            ),
        ),
    )


EATS = CategoryStrategy(
    category=Category.EATS,
    batch_types=BATCH_TYPES,
    pipeline_types=PIPELINE_TYPES,
    normalise=normalise,
    build_prompt=build_prompt,
    wrap_combination=wrap_combination,
    pipeline_unknown=Bucket.CLOTHING,
    pipeline_rotation=frozenset({Bucket.MODEL, Bucket.BACKGROUND}),
)
