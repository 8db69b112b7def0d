"""Beauty: a close-up beauty portrait wearing the products, or the products themselves."""

from __future__ import annotations

from domain.generation.buckets import Bucket, Buckets, TypeTable
from domain.generation.categories.strategy import CategoryStrategy
from domain.generation.prompt_blocks import (
    NO_LAYOUTS,
    ONE_FRAME,
    PromptInput,
    RoleWording,
    Scene,
    bullets,
    join_blocks,
    role_lines,
    styling_block,
)
from domain.plan import Category

_PRODUCT_TYPES = (
    "product",
    "lipstick",
    "cream",
    "bottle",
    "compact",
    "cosmetic",
    "skincare",
    "makeup",
)

BATCH_TYPES: TypeTable = {
    "model": Bucket.MODEL,
    "background": Bucket.BACKGROUND,
    "bg": Bucket.BACKGROUND,
    **{name: Bucket.CLOTHING for name in _PRODUCT_TYPES},
    "brush": Bucket.ACCESSORIES,
    "tool": Bucket.ACCESSORIES,
    "acce": Bucket.ACCESSORIES,
}
# Pipeline stages count `acce` as a product (legacy behaviour, not a listed bug).
PIPELINE_TYPES: TypeTable = {**BATCH_TYPES, "acce": Bucket.CLOTHING}

NO_PRODUCT_NOTE = "No product image was supplied: take product colours and textures from the other references instead."


def normalise(buckets: Buckets) -> Buckets:
    """Without products, the model (else a tool, else the background) stands in for them;
    without a model the slot stays empty (product-only mode)."""
    if buckets.clothing:
        return buckets
    stand_in = buckets.first_of(Bucket.MODEL, Bucket.ACCESSORIES, Bucket.BACKGROUND)
    if stand_in is None:
        return buckets
    return buckets.with_stand_in(Bucket.CLOTHING, stand_in, NO_PRODUCT_NOTE)


def wrap_combination(angle: str, shot: str, prompt: str) -> str:
    # Beauty has no angle/shot vocabulary: the raw keys are passed on.
    return "\n".join(
        (
            f"SHOT TYPE: {shot}",
            f"CAMERA ANGLE: {angle}",
            f"SCENE: {prompt}",
            "",
            bullets(
                "TECHNICAL SPECS:",
                (
                    "High-end beauty campaign photography.",
                    "Even, flattering light that shows skin texture and every makeup detail.",
                ),
            ),
        )
    )


_MODEL_ROLE = RoleWording(
    "MODEL",
    "the face to photograph. Keep identity, features and skin tone exactly as shown.",
)
_BACKGROUND_ROLE = RoleWording(
    "MOOD / SETTING",
    "a mood reference only: re-render the scene in its spirit rather than reusing the photo.",
)
_TOOLS_ROLE = RoleWording("TOOLS", "brushes and tools that may appear as supporting props.")
_COPIED_PRODUCTS = (
    "no product image was supplied; this repeats another reference, so take only colour and texture cues from it."
)

_PORTRAIT_ROLES: dict[Bucket, RoleWording] = {
    Bucket.MODEL: _MODEL_ROLE,
    Bucket.CLOTHING: RoleWording(
        "PRODUCTS",
        "the makeup and colour reference: apply these shades and finishes to the face; the "
        "packaging itself does not appear.",
        stand_in=_COPIED_PRODUCTS,
    ),
    Bucket.ACCESSORIES: _TOOLS_ROLE,
    Bucket.BACKGROUND: _BACKGROUND_ROLE,
}
_PRODUCT_ROLES: dict[Bucket, RoleWording] = {
    **_PORTRAIT_ROLES,
    Bucket.CLOTHING: RoleWording(
        "PRODUCTS",
        "the products to photograph: reproduce packaging, labels, colours and finish exactly.",
        stand_in=_COPIED_PRODUCTS,
    ),
}

_PORTRAIT_PREAMBLE = (
    "You are a beauty photographer shooting a close-up beauty portrait. Frame the face and "
    "shoulders only, with the face filling 60 to 80 percent of the picture. The products "
    "define the makeup look and colours; they are not placed in the shot."
)
_OTHER_PREAMBLES: dict[Scene, str] = {
    Scene.BACKGROUND_ONLY: (
        "You are a beauty photographer creating an atmospheric setting shot in the mood of "
        "the reference, ready to carry a cosmetics campaign."
    ),
    Scene.NOTHING: ("You are a beauty photographer. Create the picture from the written brief alone."),
}

_ARRANGEMENTS = {
    1: "a single hero product, centred and filling the frame with confidence",
    2: "two products arranged as a balanced pair",
    3: "three products in a relaxed triangular grouping",
    4: "four products in a tidy, varied-height group",
}


def _product_preamble(count: int, caller_text: str) -> str:
    arrangement = _ARRANGEMENTS.get(count, f"all {count} products grouped together")
    text = (
        "You are a cosmetics product photographer shooting a packshot: "
        f"{arrangement}. Show exactly {count} product{'s' if count != 1 else ''} - count them."
    )
    lowered = caller_text.lower()
    if count > 1 and ("grid" in lowered or "multiple products" in lowered):
        text += (
            " Every product is clearly visible side by side within one photograph; this is "
            "not a grid of separate pictures."
        )
    return text


def _preamble(prompt: PromptInput) -> str:
    if prompt.scene is Scene.WITH_MODEL:
        return _PORTRAIT_PREAMBLE
    if prompt.scene is Scene.PRODUCTS_ONLY:
        return _product_preamble(max(prompt.supplied.clothing, 1), prompt.caller_text)
    return _OTHER_PREAMBLES[prompt.scene]


_BACKGROUND_BLOCK = bullets(
    "SETTING:",
    (
        "Rebuild the setting from the mood reference as one fully rendered scene.",
        ("Ground the subject with contact shadows, light wrap on its edges and colour bleeding from the surroundings."),
    ),
)

_WIDE_FRAME = bullets(
    "WIDE 16:9 FRAME:",
    (
        ("Use the full width: keep the subject on a third and give the rest to soft, on-theme space."),
        "Never stretch or distort the subject to fill the frame.",
    ),
)


def _style_guide(scene: Scene) -> str:
    people = (
        "The supplied model is the only person in the picture."
        if scene is Scene.WITH_MODEL
        else "No people, faces or hands in the picture."
    )
    return bullets(
        "BEAUTY STYLE GUIDE:",
        (
            "Luxurious, clean and modern: premium beauty-editorial quality.",
            "Soft gradients, glossy highlights and true-to-product colour.",
            people,
        ),
    )


def build_prompt(prompt: PromptInput) -> str:
    roles = _PORTRAIT_ROLES if prompt.scene is Scene.WITH_MODEL else _PRODUCT_ROLES
    return join_blocks(
        _preamble(prompt),
        role_lines(prompt, roles),
        _BACKGROUND_BLOCK if prompt.has(Bucket.BACKGROUND) else None,
        bullets("SINGLE FRAME:", (ONE_FRAME, *(f"Never: {rule}" for rule in NO_LAYOUTS))),
        _style_guide(prompt.scene),
        _WIDE_FRAME if prompt.aspect_ratio == "16:9" else None,
        styling_block(prompt.caller_text),
    )


BEAUTY = CategoryStrategy(
    category=Category.BEAUTY,
    batch_types=BATCH_TYPES,
    pipeline_types=PIPELINE_TYPES,
    normalise=normalise,
    build_prompt=build_prompt,
    wrap_combination=wrap_combination,
    batch_unknown=Bucket.CLOTHING,
    pipeline_unknown=Bucket.CLOTHING,
    pipeline_rotation=frozenset({Bucket.BACKGROUND}),
)
