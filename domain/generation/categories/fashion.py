"""Fashion: a person wearing the referenced garments, or the garments alone."""

from __future__ import annotations

from domain.generation.buckets import Bucket, Buckets, TypeTable
from domain.generation.categories.strategy import CategoryStrategy
from domain.generation.prompt_blocks import (
    CINEMATIC_ANGLES,
    CINEMATIC_SHOTS,
    NO_LAYOUTS,
    ONE_FRAME,
    PromptInput,
    RoleWording,
    Scene,
    Supplied,
    bullets,
    join_blocks,
    role_lines,
    styling_block,
    unified_scene_combination,
)
from domain.plan import Category

# The legacy pipeline table accepted only `bg` and skipped `none`/`product`; those were
# bugs (DOMAIN 11 item 15), so single_batch and pipeline stages share one table.
TYPES: TypeTable = {
    "model": Bucket.MODEL,
    "background": Bucket.BACKGROUND,
    "bg": Bucket.BACKGROUND,
    "top": Bucket.CLOTHING,
    "pants": Bucket.CLOTHING,
    "outer": Bucket.CLOTHING,
    "shoes": Bucket.ACCESSORIES,
    "bag": Bucket.ACCESSORIES,
    "accessory": Bucket.ACCESSORIES,
    "acce": Bucket.ACCESSORIES,
    "none": Bucket.ACCESSORIES,
    "product": Bucket.ACCESSORIES,
}

NO_MODEL_NOTE = (
    "No human model was supplied: present the look on its own, without any person, as a styled product image."
)


def normalise(buckets: Buckets) -> Buckets:
    """Without a model, the first garment, accessory or background stands in the model slot."""
    if buckets.models:
        return buckets
    stand_in = buckets.first_of(Bucket.CLOTHING, Bucket.ACCESSORIES, Bucket.BACKGROUND)
    if stand_in is None:
        return buckets
    return buckets.with_stand_in(Bucket.MODEL, stand_in, NO_MODEL_NOTE)


def product_guard(supplied: Supplied) -> str | None:
    """Products without a person: forbid people outright, and with one product, extras."""
    if supplied.models or not supplied.products:
        return None
    no_people = (
        "PRODUCT-ONLY IMAGE: no person may appear - no face, hands, arms, legs or any other "
        "body part, and no mannequin."
    )
    if supplied.products == 1:
        return f"{no_people} Show this single item by itself; add no other product or accessory."
    return f"{no_people} Show only the referenced items; add nothing that is not in them."


wrap_combination = unified_scene_combination(CINEMATIC_ANGLES, CINEMATIC_SHOTS)


_ROLES: dict[Bucket, RoleWording] = {
    Bucket.MODEL: RoleWording(
        "MODEL",
        "the person to photograph. Keep this exact face, body shape and proportions.",
        stand_in="no person was supplied; this is the lead item of the look, repeated here "
        "as the anchor of the picture. Do not turn it into a person.",
    ),
    Bucket.CLOTHING: RoleWording(
        "CLOTHING",
        "every garment shown belongs to the look and must appear, with its colour, cut, fabric and details unchanged.",
    ),
    Bucket.ACCESSORIES: RoleWording(
        "ACCESSORIES",
        "use only the items visible here, each exactly once; if there is just one, it is shown on its own.",
    ),
    Bucket.BACKGROUND: RoleWording(
        "LOCATION INSPIRATION",
        "recreate the mood, light and character of this place around the subject; do not "
        "paste the photo in as a flat backdrop.",
    ),
}

_PREAMBLES: dict[Scene, str] = {
    Scene.WITH_MODEL: (
        "You are an editorial fashion photographer shooting a campaign image. The person in "
        "the model reference is the talent: their face, body and proportions are not to be "
        "altered in any way. Give them a natural, dynamic pose and let the picture tell a "
        "small story around the outfit."
    ),
    Scene.PRODUCTS_ONLY: (
        "You are a still-life photographer shooting fashion products. Photograph exactly the "
        "garments and accessories in the references, as they are, with no people and no "
        "invented items."
    ),
    Scene.BACKGROUND_ONLY: (
        "You are an environmental photographer. Build the picture around the location "
        "reference and capture its mood, light and atmosphere."
    ),
    Scene.NOTHING: ("You are a fashion photographer. Create the picture from the written brief alone."),
}

_LOCATION_INTEGRATION = bullets(
    "LOCATION INTEGRATION:",
    (
        ("Light the person as the location is lit: same direction, softness and colour temperature."),
        "Feet rest on the ground with believable contact shadows; nothing floats.",
        "Camera height, perspective and lens match the location, so the person is to scale.",
        "Let the surroundings tint skin and fabric with their ambient colour.",
        (
            "Depth of field and grain are consistent across person and place: it must look "
            "shot on location, never composited."
        ),
    ),
)

_REQUIRED_FORBIDDEN: dict[Scene, tuple[tuple[str, ...], tuple[str, ...]]] = {
    Scene.WITH_MODEL: (
        (
            "The same face and body as the model reference.",
            "Every referenced garment and accessory worn together.",
            "Realistic fabric drape, folds and texture.",
        ),
        (
            "Changing the model's face, age, body or skin tone.",
            "Extra people or a duplicated model.",
            "Missing, swapped or invented garments, logos or accessories.",
        ),
    ),
    Scene.PRODUCTS_ONLY: (
        (
            "Exactly the referenced items, in their true colours and materials.",
            "Sharp detail on stitching, texture and hardware.",
        ),
        (
            "People, faces, hands, body parts or mannequins.",
            "Products that are not in the references.",
        ),
    ),
    Scene.BACKGROUND_ONLY: (
        ("A photograph faithful to the mood and light of the location.",),
        ("Unrelated subjects that pull focus from the place.",),
    ),
    Scene.NOTHING: (
        ("A photograph that follows the written brief closely.",),
        ("Elements the brief does not ask for.",),
    ),
}

_WIDE_FRAME = bullets(
    "WIDE 16:9 FRAME:",
    (
        "Compose a cinematic widescreen shot that uses the whole width.",
        "Place the subject off-centre, on a third, and let the setting fill the rest.",
        "Never stretch, squash or distort the subject to fill the frame.",
    ),
)


def _composition(prompt: PromptInput) -> str:
    has_background = prompt.has(Bucket.BACKGROUND)
    if not has_background:
        return (
            "COMPOSITION: a clean studio set with a seamless backdrop, a soft key light and "
            "gentle fill; the subject is sharp and wholly in frame."
        )
    if prompt.scene is Scene.WITH_MODEL:
        return _LOCATION_INTEGRATION
    if prompt.scene is Scene.PRODUCTS_ONLY:
        return (
            "COMPOSITION: style the products within the location, with shadows and "
            "reflections that belong to the scene."
        )
    return "COMPOSITION: the location itself is the subject; frame it at its most evocative."


def build_prompt(prompt: PromptInput) -> str:
    required, forbidden = _REQUIRED_FORBIDDEN[prompt.scene]
    return join_blocks(
        _PREAMBLES[prompt.scene],
        role_lines(prompt, _ROLES),
        _composition(prompt),
        bullets("REQUIRED:", (*required, ONE_FRAME)),
        bullets("FORBIDDEN:", (*forbidden, *NO_LAYOUTS)),
        _WIDE_FRAME if prompt.aspect_ratio == "16:9" else None,
        styling_block(prompt.caller_text),
    )


FASHION = CategoryStrategy(
    category=Category.FASHION,
    batch_types=TYPES,
    pipeline_types=TYPES,
    normalise=normalise,
    build_prompt=build_prompt,
    wrap_combination=wrap_combination,
    product_guard=product_guard,
)
