"""Whole requests: part order, MIME labels, temperature, and the fixture job (DOMAIN 6.2)."""

from __future__ import annotations

import io
import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from domain.generation.categories.fashion import NO_MODEL_NOTE
from domain.generation.compose import (
    MERGED_REFERENCE_TYPE,
    ReferenceImage,
    SlotContext,
    compose_modify_request,
    compose_request,
)
from domain.generation.images import TRANSPARENT_PIXEL_PNG
from domain.generation.prompt_blocks import NO_REFERENCES_NOTE, VARIATION_REQUEST
from domain.generation.request import GeneratorRequest, ImagePart, TextPart
from domain.plan import Category, JobKind

SPEC_DIR = Path(os.environ.get("QUEL_SPEC_DIR", "/work/shared/spec"))
ROLE_LINE = re.compile(r"^Reference Image \d+ \(", re.MULTILINE)


def encode(fmt: str, colour: tuple[int, int, int], size: tuple[int, int] = (48, 32)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, format=fmt)
    return out.getvalue()


def webp(shade: int) -> bytes:
    return encode("WEBP", (shade, 100, 200))


def slot(category: Category, kind: JobKind, **extra: Any) -> SlotContext:
    values: dict[str, Any] = {
        "caller_prompt": "best quality, masterpiece",
        "aspect_ratio": "16:9",
    }
    values.update(extra)
    return SlotContext(category=category, kind=kind, **values)


def images(request: GeneratorRequest) -> list[ImagePart]:
    return [part for part in request.parts if isinstance(part, ImagePart)]


def layout(request: GeneratorRequest) -> list[tuple[str, str]]:
    return [(part.role, part.mime) if isinstance(part, ImagePart) else ("text", "") for part in request.parts]


def size_of(data: bytes) -> tuple[int, int]:
    return Image.open(io.BytesIO(data)).size


# --- the fixture job ---------------------------------------------------------------------


def load_fixture(name: str) -> dict[str, Any]:
    path = SPEC_DIR / "fixtures" / name
    if not path.exists():
        pytest.skip(f"spec fixtures not found at {path}")
    loaded: dict[str, Any] = json.loads(path.read_text())
    return loaded


def test_fashion_single_batch_fixture_matches_the_expected_gemini_parts() -> None:
    job = load_fixture("jobs/single_batch.fashion.json")
    expected = load_fixture("expected/single_batch.fashion.completed.json")
    data = job["job_input_data"]
    uploads = {entry["attachId"]: webp(shade) for shade, entry in enumerate(data["individualImageAttachIds"], start=10)}
    references = [
        ReferenceImage(data=uploads[entry["attachId"]], type=entry["type"])
        for entry in data["individualImageAttachIds"]
    ]
    requests = [
        compose_request(
            references,
            slot(
                Category.FASHION,
                JobKind.SINGLE_BATCH,
                caller_prompt=data["basePrompt"],
                aspect_ratio=data["aspect-ratio"],
                angle=combination["angle"],
                shot=combination["shot"],
            ),
        )
        for combination in data["combinations"]
        for _ in range(combination["quantity"])
    ]

    assert len(requests) == expected["gemini_calls"]
    for request in requests:
        assert len(request.parts) == len(expected["gemini_request_parts_in_order"])
        model, clothing, shoes, background, text = request.parts
        assert model == ImagePart(uploads[51001], "image/webp", "model")
        assert isinstance(clothing, ImagePart)
        assert (clothing.role, clothing.mime) == ("clothing", "image/png")
        assert size_of(clothing.data) == (1344, 768)
        assert shoes == ImagePart(uploads[51004], "image/webp", "accessories")
        assert background == ImagePart(uploads[51005], "image/webp", "background")
        assert isinstance(text, TextPart)
        assert "Reference Image 1 (MODEL)" in text.text
        assert "LOCATION INTEGRATION:" in text.text
        assert "WIDE 16:9 FRAME:" in text.text
        assert "가죽 자켓을 걸친 도심 야경 화보" in text.text
        assert request.temperature == expected["gemini_config"]["temperature"]
        assert request.aspect_ratio == expected["gemini_config"]["image_config"]["aspect_ratio"]
    assert requests[0] == requests[1]
    assert requests[2].prompt != requests[3].prompt


# --- multi-reference requests ------------------------------------------------------------


def test_part_mime_is_the_real_format_of_each_reference() -> None:
    references = [
        ReferenceImage(encode("JPEG", (1, 2, 3)), "model"),
        ReferenceImage(encode("PNG", (4, 5, 6)), "bag"),
        ReferenceImage(webp(7), "background"),
    ]
    request = compose_request(references, slot(Category.FASHION, JobKind.SINGLE_BATCH))
    assert layout(request) == [
        ("model", "image/jpeg"),
        ("accessories", "image/png"),
        ("background", "image/webp"),
        ("text", ""),
    ]
    assert request.temperature == 0.45


@pytest.mark.parametrize("category", list(Category))
@pytest.mark.parametrize("kind", [JobKind.SINGLE_BATCH, JobKind.PIPELINE_STAGE])
def test_role_lines_match_image_parts(category: Category, kind: JobKind) -> None:
    references = [
        ReferenceImage(webp(1), "model"),
        ReferenceImage(webp(2), "top"),
        ReferenceImage(webp(3), "prop"),
        ReferenceImage(webp(4), "background"),
    ]
    request = compose_request(references, slot(category, kind))
    assert len(ROLE_LINE.findall(request.prompt)) == len(images(request))


@pytest.mark.parametrize("category", list(Category))
@pytest.mark.parametrize("kind", [JobKind.SINGLE_BATCH, JobKind.PIPELINE_STAGE])
def test_no_references_gives_a_text_only_request(category: Category, kind: JobKind) -> None:
    request = compose_request([], slot(category, kind, caller_prompt="a red bicycle"))
    assert len(request.parts) == 1
    assert isinstance(request.parts[0], TextPart)
    assert NO_REFERENCES_NOTE in request.prompt
    assert "a red bicycle" in request.prompt
    assert request.temperature == 0.45


def test_fashion_products_only_sends_the_product_as_model_stand_in_with_a_guard() -> None:
    shoe = webp(9)
    request = compose_request([ReferenceImage(shoe, "shoes")], slot(Category.FASHION, JobKind.SINGLE_BATCH))
    assert [(part.role, part.data) for part in images(request)] == [
        ("model", shoe),
        ("accessories", shoe),
    ]
    assert request.prompt.startswith("PRODUCT-ONLY IMAGE")
    assert "single item by itself" in request.prompt
    assert "You are a still-life photographer" in request.prompt
    assert request.prompt.endswith(NO_MODEL_NOTE)


@pytest.mark.parametrize("tag", ["background", "bg"])
@pytest.mark.parametrize("category", [Category.FASHION, Category.CINEMA, Category.CARTOON])
def test_pipeline_stages_accept_background_and_bg(category: Category, tag: str) -> None:
    references = [ReferenceImage(webp(1), "model"), ReferenceImage(webp(2), tag)]
    request = compose_request(references, slot(category, JobKind.PIPELINE_STAGE))
    assert "background" in [part.role for part in images(request)]


def test_cinema_sends_at_most_three_cast_members_and_copies_the_first_into_clothing() -> None:
    cast = [ReferenceImage(webp(shade), "actor") for shade in (1, 2, 3, 4)]
    request = compose_request(cast, slot(Category.CINEMA, JobKind.SINGLE_BATCH))
    assert [part.role for part in images(request)] == [
        "model",
        "model",
        "model",
        "clothing",
    ]
    assert images(request)[3].data == cast[0].data
    assert "exactly 3 people" in request.prompt


def test_cinema_stage_prompt_is_stripped_and_wrapped() -> None:
    request = compose_request(
        [ReferenceImage(webp(1), "actor")],
        slot(
            Category.CINEMA,
            JobKind.PIPELINE_STAGE,
            caller_prompt="Low Angle, CU. He looks up at the rain.",
            camera_angle="Low Angle",
            shot_type="CU",
            aspect_ratio="9:16",
        ),
    )
    assert "SCENE: He looks up at the rain." in request.prompt
    assert "Low Angle, CU." not in request.prompt


@pytest.mark.parametrize("image_number", [0, 1])
def test_eats_pipeline_rotates_dish_and_setting_per_image(image_number: int) -> None:
    dishes = [webp(1), webp(2)]
    settings = [webp(3), webp(4)]
    references = [
        ReferenceImage(dishes[0], "food"),
        ReferenceImage(dishes[1], "food"),
        ReferenceImage(webp(5), "ingredient"),
        ReferenceImage(settings[0], "bg"),
        ReferenceImage(settings[1], "background"),
    ]
    request = compose_request(
        references,
        slot(Category.EATS, JobKind.PIPELINE_STAGE, image_number=image_number),
    )
    parts = images(request)
    assert [part.role for part in parts] == ["model", "clothing", "background"]
    assert parts[0].data == dishes[image_number]
    assert parts[2].data == settings[image_number]
    assert "No main dish" not in request.prompt


def test_eats_without_dish_promotes_an_ingredient_and_says_so() -> None:
    ingredient = webp(6)
    request = compose_request(
        [ReferenceImage(ingredient, "ingredient")],
        slot(Category.EATS, JobKind.SINGLE_BATCH),
    )
    assert [(part.role, part.data) for part in images(request)] == [
        ("model", ingredient),
        ("clothing", ingredient),
    ]
    assert "No main dish image was supplied" in request.prompt


def test_legacy_merged_stage_image_is_sent_as_clothing() -> None:
    request = compose_request(
        [ReferenceImage(webp(1), MERGED_REFERENCE_TYPE)],
        slot(Category.BEAUTY, JobKind.PIPELINE_STAGE),
    )
    assert [part.role for part in images(request)] == ["clothing"]


def test_single_batch_wraps_the_caller_prompt_with_the_combination() -> None:
    request = compose_request(
        [ReferenceImage(webp(1), "model")],
        slot(Category.FASHION, JobKind.SINGLE_BATCH, angle="back", shot="tight"),
    )
    assert "View from directly behind the subject, close-up framed from the shoulders up." in (request.prompt)


def test_same_input_gives_the_same_request() -> None:
    references = [ReferenceImage(webp(1), "top"), ReferenceImage(webp(2), "pants")]
    context = slot(Category.FASHION, JobKind.SINGLE_BATCH)
    assert compose_request(references, context) == compose_request(references, context)


# --- single-reference requests -----------------------------------------------------------


def test_simple_general_sends_text_first_then_every_upload() -> None:
    uploads = [encode("JPEG", (1, 1, 1)), webp(2)]
    request = compose_request(
        [ReferenceImage(data, "") for data in uploads],
        slot(Category.BEAUTY, JobKind.SIMPLE_GENERAL, caller_prompt="dewy skin"),
    )
    assert layout(request) == [
        ("text", ""),
        ("reference", "image/jpeg"),
        ("reference", "image/webp"),
    ]
    assert request.prompt == f"dewy skin\n\n{VARIATION_REQUEST}"
    assert request.temperature is None


def test_simple_portrait_sends_its_merged_image() -> None:
    merged = encode("PNG", (3, 3, 3))
    request = compose_request(
        [ReferenceImage(merged, "")],
        slot(Category.FASHION, JobKind.SIMPLE_PORTRAIT, aspect_ratio="3:4"),
    )
    assert images(request) == [ImagePart(merged, "image/png", "reference")]
    assert request.aspect_ratio == "3:4"


@pytest.mark.parametrize("kind", [JobKind.SIMPLE_GENERAL, JobKind.SIMPLE_PORTRAIT])
def test_simple_request_without_image_sends_the_transparent_pixel(
    kind: JobKind,
) -> None:
    request = compose_request([], slot(Category.FASHION, kind))
    assert images(request) == [ImagePart(TRANSPARENT_PIXEL_PNG, "image/png", "reference")]


def test_fashion_simple_general_with_products_only_gets_the_guard() -> None:
    request = compose_request(
        [ReferenceImage(webp(1), "top"), ReferenceImage(webp(2), "bag")],
        slot(Category.FASHION, JobKind.SIMPLE_GENERAL),
    )
    assert request.prompt.startswith("PRODUCT-ONLY IMAGE")
    assert "only the referenced items" in request.prompt


def test_modify_kind_is_refused_by_compose_request() -> None:
    with pytest.raises(ValueError, match="compose_modify_request"):
        compose_request([], slot(Category.FASHION, JobKind.MODIFY))


# --- modify ------------------------------------------------------------------------------


def test_modify_sends_text_original_mask_and_reference() -> None:
    original = encode("JPEG", (9, 9, 9))
    mask = encode("PNG", (255, 255, 255), size=(4, 4))
    reference = webp(8)
    request = compose_modify_request(original, mask, "red jacket", reference, "4:3")
    assert layout(request) == [
        ("text", ""),
        ("original", "image/jpeg"),
        ("mask", "image/png"),
        ("reference", "image/webp"),
    ]
    assert [part.data for part in images(request)] == [original, mask, reference]
    assert "red jacket" in request.prompt
    assert "style guide" in request.prompt
    assert request.temperature is None
    assert request.aspect_ratio == "4:3"


def test_modify_without_reference_or_prompt_fills_the_mask() -> None:
    request = compose_modify_request(encode("PNG", (1, 1, 1)), encode("PNG", (0, 0, 0)), "", None, "16:9")
    assert [part.role for part in images(request)] == ["original", "mask"]
    assert "blends seamlessly" in request.prompt
    assert "style guide" not in request.prompt
