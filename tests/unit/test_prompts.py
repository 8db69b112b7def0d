"""Prompt builders, wrappers and fixed texts (DOMAIN 7, 4.7, 6.2 C) as pure functions."""

from __future__ import annotations

import re

import pytest

from domain.generation.buckets import Bucket
from domain.generation.categories import (
    beauty,
    cartoon,
    cinema,
    eats,
    fashion,
    strategy_for,
)
from domain.generation.prompt_blocks import (
    PromptInput,
    RoleWording,
    Scene,
    Supplied,
    framing_key,
    inpaint_prompt,
    role_lines,
)
from domain.plan import Category

CALLER = "golden hour on a rooftop, wind in the hair"
ROLE_LINE = re.compile(r"^Reference Image (\d+) \(([A-Z /&0-9]+)\): ", re.MULTILINE)

SCENES = {
    Scene.WITH_MODEL: (
        Supplied(models=1, clothing=2, accessories=1, backgrounds=1),
        (Bucket.MODEL, Bucket.CLOTHING, Bucket.ACCESSORIES, Bucket.BACKGROUND),
    ),
    Scene.PRODUCTS_ONLY: (
        Supplied(clothing=1),
        (Bucket.MODEL, Bucket.CLOTHING),
    ),
    Scene.BACKGROUND_ONLY: (Supplied(backgrounds=1), (Bucket.MODEL, Bucket.BACKGROUND)),
    Scene.NOTHING: (Supplied(), ()),
}


def prompt_input(scene: Scene, aspect_ratio: str = "4:5", caller: str = CALLER) -> PromptInput:
    supplied, roles = SCENES[scene]
    # Without a real model, normalisation has put a stand-in in the model slot.
    stand_ins = frozenset() if scene is Scene.WITH_MODEL else frozenset({Bucket.MODEL})
    return PromptInput(
        roles=roles,
        supplied=supplied,
        caller_text=caller,
        aspect_ratio=aspect_ratio,
        stand_ins=stand_ins,
    )


def build(category: Category, prompt: PromptInput) -> str:
    return strategy_for(category).build_prompt(prompt)


# --- scenes and preambles ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("supplied", "scene"),
    [
        (Supplied(models=1, clothing=3, backgrounds=1), Scene.WITH_MODEL),
        (Supplied(accessories=1, backgrounds=1), Scene.PRODUCTS_ONLY),
        (Supplied(backgrounds=1), Scene.BACKGROUND_ONLY),
        (Supplied(), Scene.NOTHING),
    ],
)
def test_scene_follows_the_supplied_buckets(supplied: Supplied, scene: Scene) -> None:
    assert supplied.scene is scene


def preamble(category: Category, text: str) -> str:
    # Eats opens with its critical block and the caller's text; the preamble comes third.
    return text.split("\n\n")[2 if category is Category.EATS else 0]


@pytest.mark.parametrize("category", list(Category))
def test_each_scene_gets_its_own_preamble(category: Category) -> None:
    openings = {preamble(category, build(category, prompt_input(scene))) for scene in Scene}
    assert len(openings) == len(Scene)


def test_fashion_model_branch_protects_the_person() -> None:
    text = build(Category.FASHION, prompt_input(Scene.WITH_MODEL))
    assert text.startswith("You are an editorial fashion photographer")
    assert "LOCATION INTEGRATION:" in text


def test_fashion_products_branch_is_a_still_life_without_people() -> None:
    text = build(Category.FASHION, prompt_input(Scene.PRODUCTS_ONLY))
    assert text.startswith("You are a still-life photographer")
    assert "People, faces, hands" in text


def test_fashion_without_background_is_shot_in_a_studio() -> None:
    prompt = PromptInput(
        roles=(Bucket.MODEL, Bucket.CLOTHING),
        supplied=Supplied(models=1, clothing=1),
        caller_text=CALLER,
        aspect_ratio="1:1",
    )
    text = build(Category.FASHION, prompt)
    assert "studio" in text
    assert "LOCATION INTEGRATION" not in text


def test_cinema_task_counts_the_cast() -> None:
    prompt = PromptInput(
        roles=(Bucket.MODEL, Bucket.MODEL, Bucket.ACCESSORIES),
        supplied=Supplied(models=2, accessories=1),
        caller_text=CALLER,
        aspect_ratio="16:9",
    )
    text = build(Category.CINEMA, prompt)
    assert "exactly 2 people" in text
    assert "Person 2: copy face, age, gender and ethnicity from Reference Image 2" in text
    assert "Include the props from Reference Image 3" in text


@pytest.mark.parametrize(
    ("count", "wording"),
    [
        (1, "a single hero product"),
        (2, "two products"),
        (4, "four products"),
        (6, "all 6 products"),
    ],
)
def test_beauty_packshot_wording_depends_on_product_count(count: int, wording: str) -> None:
    prompt = PromptInput(
        roles=(Bucket.CLOTHING,),
        supplied=Supplied(clothing=count),
        caller_text=CALLER,
        aspect_ratio="1:1",
    )
    text = build(Category.BEAUTY, prompt)
    assert wording in text
    assert f"Show exactly {count} product" in text


def test_beauty_grid_request_still_asks_for_one_photograph() -> None:
    prompt = PromptInput(
        roles=(Bucket.CLOTHING,),
        supplied=Supplied(clothing=3),
        caller_text="multiple products in a grid",
        aspect_ratio="1:1",
    )
    assert "not a grid of separate pictures" in build(Category.BEAUTY, prompt)


def test_beauty_portrait_lets_the_model_appear_but_packshots_forbid_people() -> None:
    portrait = build(Category.BEAUTY, prompt_input(Scene.WITH_MODEL))
    packshot = build(Category.BEAUTY, prompt_input(Scene.PRODUCTS_ONLY))
    assert "only person in the picture" in portrait
    assert "No people" not in portrait
    assert "No people, faces or hands" in packshot


# --- role lines --------------------------------------------------------------------------


@pytest.mark.parametrize("category", list(Category))
@pytest.mark.parametrize("scene", list(Scene))
def test_one_role_line_per_image_part_in_part_order(category: Category, scene: Scene) -> None:
    prompt = prompt_input(scene)
    numbers = [int(match.group(1)) for match in ROLE_LINE.finditer(build(category, prompt))]
    assert numbers == list(range(1, len(prompt.roles) + 1))


def test_role_lines_number_a_bucket_that_sends_several_parts() -> None:
    wording = {bucket: RoleWording(bucket.name, "x") for bucket in Bucket}
    prompt = PromptInput(
        roles=(Bucket.MODEL, Bucket.MODEL, Bucket.BACKGROUND),
        supplied=Supplied(models=2, backgrounds=1),
        caller_text="",
        aspect_ratio="1:1",
    )
    assert role_lines(prompt, wording).splitlines() == [
        "Reference Image 1 (MODEL 1): x",
        "Reference Image 2 (MODEL 2): x",
        "Reference Image 3 (BACKGROUND): x",
    ]


def test_a_stand_in_is_described_as_what_it_is() -> None:
    text = build(Category.FASHION, prompt_input(Scene.PRODUCTS_ONLY))
    first_line = next(line for line in text.splitlines() if line.startswith("Reference Image 1"))
    assert "no person was supplied" in first_line


def test_eats_labels_the_model_slot_as_the_main_dish() -> None:
    text = build(Category.EATS, prompt_input(Scene.WITH_MODEL))
    assert "Reference Image 1 (MAIN DISH): this is food, not a person" in text


# --- aspect and caller text --------------------------------------------------------------


@pytest.mark.parametrize("category", list(Category))
@pytest.mark.parametrize("ratio", ["16:9", "9:16", "1:1", "4:3", "21:9"])
def test_wide_block_only_for_16_9(category: Category, ratio: str) -> None:
    text = build(category, prompt_input(Scene.WITH_MODEL, aspect_ratio=ratio))
    assert ("16:9" in text) == (ratio == "16:9")


@pytest.mark.parametrize("ratio", ["1:1", "9:16"])
def test_eats_has_its_own_square_and_tall_blocks(ratio: str) -> None:
    assert ratio in build(Category.EATS, prompt_input(Scene.WITH_MODEL, aspect_ratio=ratio))


@pytest.mark.parametrize("category", [Category.FASHION, Category.BEAUTY, Category.CINEMA, Category.CARTOON])
@pytest.mark.parametrize("scene", list(Scene))
def test_caller_text_closes_the_prompt(category: Category, scene: Scene) -> None:
    assert build(category, prompt_input(scene)).endswith(CALLER)


def test_eats_puts_critical_block_and_caller_text_first() -> None:
    text = build(Category.EATS, prompt_input(Scene.WITH_MODEL))
    assert text.startswith("CRITICAL REQUIREMENTS:")
    assert text.index(CALLER) < text.index("You are a food photographer")


@pytest.mark.parametrize("category", list(Category))
def test_blank_caller_text_leaves_no_empty_heading(category: Category) -> None:
    text = build(category, prompt_input(Scene.WITH_MODEL, caller=" "))
    assert "ADDITIONAL STYLING" not in text


@pytest.mark.parametrize("category", list(Category))
def test_prompts_are_deterministic(category: Category) -> None:
    assert build(category, prompt_input(Scene.WITH_MODEL)) == build(category, prompt_input(Scene.WITH_MODEL))


# --- per-combination wrappers (single_batch) ---------------------------------------------


def test_fashion_wrapper_puts_angle_and_shot_before_the_prompt() -> None:
    text = fashion.wrap_combination("side", "middle", "city at night.")
    assert text.startswith("Clean 90-degree side profile, medium shot framed from the waist up. ")
    assert "city at night. Bring every reference together" in text


def test_profile_angle_is_a_front_facing_portrait_not_a_side_view() -> None:
    assert fashion.wrap_combination("profile", "full", "x").startswith("Formal front-facing")


@pytest.mark.parametrize(
    ("alias", "key"),
    [("full body", "full"), ("Close Up", "tight"), ("close-up", "tight")],
)
def test_front_end_shot_spellings_map_to_known_shots(alias: str, key: str) -> None:
    assert framing_key(alias) == key
    assert fashion.wrap_combination("front", alias, "x") == fashion.wrap_combination("front", key, "x")


def test_unknown_angle_and_shot_fall_back_to_front_full_body() -> None:
    assert fashion.wrap_combination("sideways", "wide", "x").startswith("Front view, full body shot. ")


def test_eats_only_angles_and_shots_are_known_to_eats_only() -> None:
    assert eats.wrap_combination("overhead", "hero-shot", "x").startswith(
        "Top-down overhead flat lay, a dramatic hero shot"
    )
    assert fashion.wrap_combination("overhead", "hero-shot", "x").startswith("Front view, full body shot. ")


def test_beauty_wrapper_is_a_labelled_block_with_raw_keys() -> None:
    text = beauty.wrap_combination("three-quarter", "macro lips", "soft pink gloss")
    assert text.splitlines()[:3] == [
        "SHOT TYPE: macro lips",
        "CAMERA ANGLE: three-quarter",
        "SCENE: soft pink gloss",
    ]
    assert "TECHNICAL SPECS:" in text


def test_cinema_wrapper_maps_keys_and_repeats_the_shot_as_framing() -> None:
    lines = cinema.wrap_combination("back", "tight", "rain").splitlines()
    assert lines[:4] == [
        "SHOT TYPE: close-up from the shoulders up",
        "FRAMING: close-up from the shoulders up",
        "CAMERA ANGLE: rear view",
        "SCENE: rain",
    ]


def test_cartoon_wrapper_is_a_short_prefix_of_raw_keys() -> None:
    assert cartoon.wrap_combination("side", "tight", "a cat naps.") == "side view, tight. a cat naps."


# --- pipeline stage wrapper (cinema) -----------------------------------------------------


def test_cinema_stage_strips_the_short_prefix_and_wraps_without_framing() -> None:
    text = cinema.wrap_stage("Eye Level, MS. Two detectives argue.", "Eye Level", "MS")
    assert text.splitlines()[:3] == [
        "SHOT TYPE: MS",
        "CAMERA ANGLE: Eye Level",
        "SCENE: Two detectives argue.",
    ]
    assert "FRAMING" not in text


@pytest.mark.parametrize(("angle", "shot"), [("Eye Level", None), (None, "MS"), (" ", "MS")])
def test_cinema_stage_without_both_settings_keeps_the_prompt(angle: str | None, shot: str | None) -> None:
    prompt = "Eye Level, MS. Two detectives argue."
    assert cinema.wrap_stage(prompt, angle, shot) == prompt


@pytest.mark.parametrize(
    "prompt",
    [
        "Two detectives argue. Rain falls.",
        "A very long opening sentence, with a comma, that runs past fifty characters. Rest.",
    ],
)
def test_only_a_short_comma_prefix_is_stripped(prompt: str) -> None:
    assert cinema.strip_framing_prefix(prompt) == prompt


@pytest.mark.parametrize("category", [Category.FASHION, Category.BEAUTY, Category.EATS, Category.CARTOON])
def test_other_pipeline_stages_use_the_prompt_as_is(category: Category) -> None:
    prompt = "Eye Level, MS. Two detectives argue."
    assert strategy_for(category).wrap_stage(prompt, "Eye Level", "MS") == prompt


# --- fashion product-only guard ----------------------------------------------------------


def test_no_guard_when_a_model_is_supplied() -> None:
    assert fashion.product_guard(Supplied(models=1, clothing=2)) is None


def test_no_guard_without_products() -> None:
    assert fashion.product_guard(Supplied(backgrounds=1)) is None


def test_single_product_guard_demands_the_item_alone() -> None:
    guard = fashion.product_guard(Supplied(accessories=1, backgrounds=1))
    assert guard is not None
    assert "no person may appear" in guard
    assert "single item by itself" in guard


def test_several_products_guard_forbids_extra_items() -> None:
    guard = fashion.product_guard(Supplied(clothing=2, accessories=1))
    assert guard is not None
    assert "only the referenced items" in guard


@pytest.mark.parametrize("category", [Category.BEAUTY, Category.EATS, Category.CINEMA, Category.CARTOON])
def test_only_fashion_has_a_product_guard(category: Category) -> None:
    assert strategy_for(category).product_guard(Supplied(clothing=1)) is None


# --- in-paint ----------------------------------------------------------------------------


def test_inpaint_prompt_limits_the_change_to_the_masked_element() -> None:
    text = inpaint_prompt("make the jacket red", has_reference=False)
    assert "make this change: make the jacket red." in text
    assert "Leave everything outside that area exactly as it is" in text
    assert "style guide" not in text


def test_empty_inpaint_prompt_asks_for_a_seamless_fill() -> None:
    assert "blends seamlessly" in inpaint_prompt("  ", has_reference=False)


def test_inpaint_reference_is_a_style_guide() -> None:
    assert "The third image is a style guide" in inpaint_prompt("x", has_reference=True)
