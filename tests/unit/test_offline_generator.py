"""OfflineGenerator: deterministic, shaped by the request, and plainly labelled."""

from __future__ import annotations

import io
import time

import pytest
from PIL import Image

from clients.offline_generator import (
    LABEL,
    OfflineGenerator,
    background_colour,
    canvas_size,
    prompt_excerpt,
    render,
)
from domain.errors import ImageRejected
from domain.generation.request import GeneratorRequest, ImagePart, TextPart


def _png(colour: tuple[int, int, int], size: tuple[int, int] = (64, 48)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, format="PNG")
    return buffer.getvalue()


RED = (250, 10, 10)
REQUEST = GeneratorRequest(
    parts=(
        ImagePart(data=_png(RED), mime="image/png", role="model"),
        ImagePart(data=b"not an image at all", mime="image/png", role="clothing"),
        TextPart("a model in a long coat on a rainy street at night"),
    ),
    aspect_ratio="16:9",
    temperature=0.45,
)


def _decode(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def _count(image: Image.Image, colour: tuple[int, int, int]) -> int:
    colours = image.getcolors(image.width * image.height) or []
    return sum(count for count, value in colours if value == colour)


@pytest.mark.asyncio
async def test_same_request_gives_byte_identical_png() -> None:
    generator = OfflineGenerator()

    first = await generator.generate(REQUEST)
    second = await OfflineGenerator().generate(REQUEST)

    assert first.data == second.data
    assert first.mime == "image/png"
    assert first.data.startswith(b"\x89PNG\r\n\x1a\n")


def test_different_prompts_give_different_pictures() -> None:
    other = GeneratorRequest(parts=(*REQUEST.parts[:2], TextPart("a bowl of ramen")), aspect_ratio="16:9")

    assert render(other) != render(REQUEST)
    assert background_colour("a bowl of ramen") != background_colour(REQUEST.prompt)


@pytest.mark.parametrize(
    ("ratio", "size"),
    [("16:9", (768, 432)), ("9:16", (432, 768)), ("1:1", (768, 768)), ("4:5", (614, 768))],
)
def test_canvas_has_long_side_768_in_the_requested_ratio(ratio: str, size: tuple[int, int]) -> None:
    assert canvas_size(ratio) == size
    request = GeneratorRequest(parts=(TextPart("x"),), aspect_ratio=ratio)
    assert _decode(render(request)).size == size


@pytest.mark.parametrize("ratio", ["", "16x9", "0:1", "a:b", "16:"])
def test_malformed_aspect_ratio_is_rejected_like_gemini_would(ratio: str) -> None:
    with pytest.raises(ImageRejected) as caught:
        canvas_size(ratio)

    assert caught.value.reason == "INVALID_ARGUMENT"


def test_output_is_labelled_as_offline_in_pixels_and_metadata() -> None:
    image = _decode(render(REQUEST)).convert("RGB")
    background = background_colour(REQUEST.prompt)

    band = image.crop((0, 0, image.width, 60))
    drawn = band.width * band.height - _count(band, background)

    assert "not AI output" in LABEL
    assert drawn > 500
    assert _decode(render(REQUEST)).info["Description"] == LABEL


def test_reference_images_show_as_thumbnails() -> None:
    without_refs = GeneratorRequest(parts=(REQUEST.parts[2],), aspect_ratio="16:9")

    def red_pixels(data: bytes) -> int:
        strip = _decode(data).convert("RGB").crop((0, 300, 768, 432))
        return _count(strip, RED)

    assert red_pixels(render(REQUEST)) > 1000
    assert red_pixels(render(without_refs)) == 0


def test_long_prompt_is_cut_to_its_first_words() -> None:
    prompt = " ".join(f"word{i}" for i in range(40))

    excerpt = prompt_excerpt(prompt)

    assert excerpt.startswith("word0 word1")
    assert "word15" in excerpt
    assert "word16" not in excerpt
    assert excerpt.endswith("…")


@pytest.mark.asyncio
async def test_latency_is_waited_before_answering() -> None:
    generator = OfflineGenerator(latency_seconds=0.2)

    started = time.monotonic()
    await generator.generate(REQUEST)

    assert time.monotonic() - started >= 0.2
    assert generator.name == "offline"
    await generator.close()
