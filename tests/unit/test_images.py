"""Format sniffing, bucket merging and WebP conversion on real (tiny) images."""

from __future__ import annotations

import io
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from PIL import Image, ImageColor

from domain.errors import ImageRejected, InvalidJobInput
from domain.generation import images
from domain.generation.images import (
    GIF,
    GRID_MAX_SIDE,
    JPEG,
    PNG,
    TRANSPARENT_PIXEL_PNG,
    WEBP,
    grid_target,
    merge_bucket,
    prepare_reference,
    sniff_mime,
    to_webp,
)
from tests.support.photos import phone_photo


def encode(fmt: str, size: tuple[int, int] = (40, 30), mode: str = "RGB") -> bytes:
    colour = (200, 30, 30, 128) if mode == "RGBA" else (200, 30, 30)
    out = io.BytesIO()
    Image.new(mode, size, colour).save(out, format=fmt)
    return out.getvalue()


def opened(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data))


@pytest.mark.parametrize(("fmt", "mime"), [("PNG", PNG), ("JPEG", JPEG), ("WEBP", WEBP), ("GIF", GIF)])
def test_mime_is_read_from_magic_bytes(fmt: str, mime: str) -> None:
    assert sniff_mime(encode(fmt)) == mime


@pytest.mark.parametrize("data", [b"", b"RIFF", b"<html>not found</html>", b"RIFF1234WAVE"])
def test_unknown_bytes_have_no_mime(data: bytes) -> None:
    assert sniff_mime(data) is None


def test_placeholder_is_one_transparent_png_pixel() -> None:
    assert sniff_mime(TRANSPARENT_PIXEL_PNG) == PNG
    image = opened(TRANSPARENT_PIXEL_PNG).convert("RGBA")
    assert image.size == (1, 1)
    assert image.getpixel((0, 0))[3] == 0  # type: ignore[index]


@pytest.mark.parametrize(("fmt", "mime"), [("PNG", PNG), ("JPEG", JPEG), ("WEBP", WEBP)])
def test_single_image_passes_through_byte_identical(fmt: str, mime: str) -> None:
    data = encode(fmt)
    assert merge_bucket([data], "16:9") == (data, mime)


def test_single_gif_is_reencoded_as_png_because_the_generator_refuses_gif() -> None:
    data, mime = prepare_reference(encode("GIF"))
    assert mime == PNG
    assert opened(data).size == (40, 30)


def test_unreadable_reference_is_invalid_input() -> None:
    with pytest.raises(InvalidJobInput):
        prepare_reference(b"<html>404</html>")


def test_two_images_at_1_1_form_one_row_of_max_sized_cells() -> None:
    data, mime = merge_bucket([encode("PNG", (40, 30)), encode("WEBP", (20, 50))], "1:1")
    assert mime == PNG
    assert sniff_mime(data) == PNG
    assert opened(data).size == (80, 50)


def test_five_images_at_1_1_form_three_columns_and_two_rows() -> None:
    images = [encode("PNG", (10, 20)) for _ in range(5)]
    data, _ = merge_bucket(images, "1:1")
    assert opened(data).size == (30, 40)


def test_smaller_image_is_centred_on_a_transparent_cell() -> None:
    data, _ = merge_bucket([encode("PNG", (40, 40)), encode("PNG", (20, 20))], "1:1")
    grid = opened(data).convert("RGBA")
    assert grid.getpixel((41, 1))[3] == 0  # type: ignore[index]
    assert grid.getpixel((60, 20))[3] == 255  # type: ignore[index]


@pytest.mark.parametrize(
    ("ratio", "size"),
    [
        ("16:9", (1344, 768)),
        ("9:16", (768, 1344)),
        ("4:3", (1152, 896)),
        ("3:4", (896, 1152)),
        ("3:2", (1024, 1024)),
    ],
)
def test_grid_is_fitted_to_the_aspect_target(ratio: str, size: tuple[int, int]) -> None:
    assert grid_target(ratio) == size
    data, _ = merge_bucket([encode("PNG"), encode("JPEG")], ratio)
    assert opened(data).size == size


def test_square_ratio_keeps_the_grid_size() -> None:
    assert grid_target("1:1") is None


def test_letterbox_around_a_fitted_grid_is_transparent() -> None:
    data, _ = merge_bucket([encode("PNG", (40, 40)), encode("PNG", (40, 40))], "16:9")
    grid = opened(data).convert("RGBA")
    assert grid.size == (1344, 768)
    # An 80x40 grid scaled to 1344 wide is 672 tall: 48 transparent rows above it.
    assert grid.getpixel((600, 10))[3] == 0  # type: ignore[index]
    assert grid.getpixel((600, 384))[3] == 255  # type: ignore[index]


def test_unreadable_images_in_a_group_are_skipped() -> None:
    data, _ = merge_bucket([encode("PNG", (10, 10)), b"garbage"], "1:1")
    assert opened(data).size == (10, 10)


def test_a_group_with_no_readable_image_is_invalid_input() -> None:
    with pytest.raises(InvalidJobInput):
        merge_bucket([b"garbage", b"more garbage"], "1:1")
    with pytest.raises(InvalidJobInput):
        merge_bucket([b"garbage", b"more garbage"], "1:1")


def test_the_same_group_is_merged_once_per_aspect_ratio(monkeypatch: pytest.MonkeyPatch) -> None:
    decoded: list[int] = []
    real_decode = images._decode

    def counting_decode(data: bytes, **options: Any) -> Image.Image | None:
        decoded.append(len(data))
        return real_decode(data, **options)

    monkeypatch.setattr(images, "_decode", counting_decode)
    group = [encode("PNG", (10, 10)), encode("JPEG", (12, 12))]
    first = merge_bucket(group, "16:9")
    assert merge_bucket(list(group), "16:9") == first
    assert len(decoded) == 2, "the second image of the stage reuses the grid"
    assert opened(merge_bucket(group, "9:16")[0]).size == (768, 1344)
    assert len(decoded) == 4


def nearest_colour(pixel: Any) -> str:
    names = ["red", "green", "blue", "black", "white"]
    return min(names, key=lambda name: sum((a - b) ** 2 for a, b in zip(ImageColor.getrgb(name), pixel, strict=True)))


@pytest.fixture(scope="module")
def four_photos() -> list[bytes]:
    return [phone_photo((top, "white")) for top in ("red", "green", "blue", "black")]


@pytest.mark.parametrize("ratio", ["1:1", "16:9", "9:16", "4:3", "3:4", "3:2"])
def test_grid_of_four_phone_photos_is_capped_for_every_ratio(four_photos: list[bytes], ratio: str) -> None:
    images.forget_merged_grids()
    data, mime = merge_bucket(four_photos, ratio)
    assert mime == PNG
    assert max(opened(data).size) <= GRID_MAX_SIDE


def test_square_grid_keeps_its_shape_under_the_cap(four_photos: list[bytes]) -> None:
    images.forget_merged_grids()
    grid = opened(merge_bucket(four_photos, "1:1")[0]).convert("RGB")
    assert grid.size == (1536, 2048), "a 6000x8000 grid scaled by 2048/8000"
    # Each photo fills its cell: red over white, then green, blue, black, row by row.
    tops = [(384, 256), (1152, 256), (384, 1280), (1152, 1280)]
    assert [nearest_colour(grid.getpixel(point)) for point in tops] == ["red", "green", "blue", "black"]
    assert nearest_colour(grid.getpixel((384, 900))) == "white"


def test_grid_png_is_fast_compressed() -> None:
    data, _ = merge_bucket([encode("PNG", (40, 40)), encode("PNG", (40, 40))], "1:1")
    stream = data.index(b"IDAT") + 4
    # The FLEVEL bits of the zlib header: 0 is what levels 0 and 1 write, 2 Pillow's default of 6.
    assert data[stream + 1] >> 6 == 0


def test_rotated_phone_photos_are_laid_upright_in_a_capped_grid() -> None:
    images.forget_merged_grids()
    # Orientation 6: shown turned 90 degrees clockwise, so 4000x3000 with the red half on the right.
    turned = phone_photo(orientation=6)
    grid = opened(merge_bucket([turned, turned], "1:1")[0]).convert("RGB")
    assert grid.size == (2048, 768)
    assert nearest_colour(grid.getpixel((100, 384))) == "blue", "left of the first cell"
    assert nearest_colour(grid.getpixel((900, 384))) == "red", "right of the first cell"


def until(condition: Callable[[], bool], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.01)


def _waiting_for_a_result(thread: threading.Thread) -> bool:
    frame = sys._current_frames().get(thread.ident or 0)
    while frame is not None:
        if frame.f_code.co_name == "result" and "concurrent" in frame.f_code.co_filename:
            return True
        frame = frame.f_back
    return False


def test_a_grid_asked_for_while_it_is_built_is_built_once(monkeypatch: pytest.MonkeyPatch) -> None:
    images.forget_merged_grids()
    decoded: list[int] = []
    first_decode_may_finish = threading.Event()
    real_decode = images._decode

    def held_decode(data: bytes, **options: Any) -> Image.Image | None:
        decoded.append(len(data))
        if len(decoded) == 1:
            assert first_decode_may_finish.wait(10)
        return real_decode(data, **options)

    monkeypatch.setattr(images, "_decode", held_decode)
    group = [encode("PNG", (10, 10)), encode("JPEG", (12, 12))]
    results: list[tuple[bytes, str]] = []
    threads = [threading.Thread(target=lambda: results.append(merge_bucket(group, "1:1"))) for _ in range(2)]
    threads[0].start()
    until(lambda: bool(decoded))
    threads[1].start()
    # The second caller either waits for the first one's grid, or (without single flight) decodes.
    until(lambda: _waiting_for_a_result(threads[1]) or len(decoded) > 1)
    first_decode_may_finish.set()
    for thread in threads:
        thread.join(10)
    assert len(results) == 2 and results[0] == results[1]
    assert len(decoded) == 2, "one decode per image of the group, for both callers"


def test_png_with_alpha_converts_to_webp_keeping_size_and_alpha() -> None:
    webp = to_webp(encode("PNG", (16, 12), mode="RGBA"))
    assert sniff_mime(webp) == WEBP
    image = opened(webp)
    assert image.size == (16, 12)
    assert image.mode == "RGBA"


def test_jpeg_converts_to_webp() -> None:
    webp = to_webp(encode("JPEG", (16, 12)))
    assert sniff_mime(webp) == WEBP
    assert opened(webp).size == (16, 12)


def test_lower_quality_gives_a_smaller_webp() -> None:
    noisy = Image.effect_noise((64, 64), 80).convert("RGB")
    out = io.BytesIO()
    noisy.save(out, format="PNG")
    assert len(to_webp(out.getvalue(), quality=10)) < len(to_webp(out.getvalue()))


def test_unreadable_generator_output_is_rejected() -> None:
    with pytest.raises(ImageRejected) as caught:
        to_webp(b"not an image")
    assert caught.value.reason == "UNREADABLE_IMAGE"
