"""Image bytes handling for generator requests: format sniffing, grid merge of a bucket,
the transparent placeholder, and WebP conversion of generated images (DOMAIN 5.4, 5.5)."""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Sequence

from PIL import Image, ImageOps, UnidentifiedImageError

from domain.errors import ImageRejected, InvalidJobInput
from domain.generation.single_flight import SingleFlightCache

PNG = "image/png"
JPEG = "image/jpeg"
WEBP = "image/webp"
GIF = "image/gif"

# Formats the generator accepts as they are; anything else Pillow can read is re-encoded
# as PNG (Gemini does not take GIF).
_SENT_AS_IS = frozenset({PNG, JPEG, WEBP})

TRANSPARENT_PIXEL_PNG: bytes = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNgYGBgAAAABQABeqhXUAAAAABJRU5ErkJggg=="
)
"""A 1x1 fully transparent PNG, sent where the legacy worker had no image to send."""

# Grids are scaled to fit these canvases; 1:1 keeps the grid's own shape (legacy rule).
_GRID_TARGETS: dict[str, tuple[int, int]] = {
    "16:9": (1344, 768),
    "9:16": (768, 1344),
    "4:3": (1152, 896),
    "3:4": (896, 1152),
}
_DEFAULT_GRID_TARGET = (1024, 1024)

GRID_MAX_SIDE = 2048
"""D15: the long side of a merged grid, for every aspect ratio. The Go worker kept 1:1 grids at
full size: four phone photos made a 6000x8000 PNG of 80 MB, far over what Gemini takes inline."""

GRID_CACHE_BYTES = 64 * 1024 * 1024
"""What the merged-grid cache keeps alive: the inputs it is keyed by and the grids."""

# Level 1 of 9 (Pillow's default is 6): what is sent is encoded once and thrown away, so
# encoding time matters more than a few bytes.
_SENT_PNG_COMPRESS_LEVEL = 1

_ORIENTATION_TAG = 0x0112
_QUARTER_TURNS = frozenset({5, 6, 7, 8})
"""EXIF orientations that swap width and height."""


def sniff_mime(data: bytes) -> str | None:
    """The MIME type named by the file's magic bytes, or None when it is none of ours."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if data.startswith(b"\xff\xd8\xff"):
        return JPEG
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return WEBP
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return GIF
    return None


def grid_target(aspect_ratio: str) -> tuple[int, int] | None:
    """Canvas a merged grid is fitted into; None for 1:1, where the grid keeps its shape
    (capped at GRID_MAX_SIDE like every grid)."""
    if aspect_ratio == "1:1":
        return None
    return _GRID_TARGETS.get(aspect_ratio, _DEFAULT_GRID_TARGET)


def prepare_reference(data: bytes) -> tuple[bytes, str]:
    """One reference as sent: PNG, JPEG and WebP go through byte-identical with their real
    MIME type; other readable formats are re-encoded as PNG."""
    mime = sniff_mime(data)
    if mime in _SENT_AS_IS:
        return data, mime
    image = _decode(data)
    if image is None:
        raise InvalidJobInput(f"a reference image ({len(data)} bytes) is not a readable PNG, JPEG, WebP or GIF")
    return _encode_png(image), PNG


def merge_bucket(images: Sequence[bytes], aspect_ratio: str) -> tuple[bytes, str]:
    """One image standing for a whole bucket: a single image as it is, several as one grid."""
    if not images:
        raise ValueError("an empty bucket has nothing to merge")
    if len(images) == 1:
        return prepare_reference(images[0])
    return _merged_grid(tuple(images), aspect_ratio)


def _merged_grid(images: tuple[bytes, ...], aspect_ratio: str) -> tuple[bytes, str]:
    # Every image of a stage merges the same references; decoding them and encoding the grid is
    # the costliest step of preparing a request, so it is done once per stage and worker.
    return _merged_grids.get((images, aspect_ratio), lambda: _build_grid(images, aspect_ratio))


def forget_merged_grids() -> None:
    _merged_grids.clear()


def to_webp(data: bytes, quality: int = 90) -> bytes:
    """Re-encode a generated image of any format Pillow reads as lossy WebP."""
    out = io.BytesIO()
    _generated(data).save(out, format="WEBP", quality=quality)
    return out.getvalue()


def to_png(data: bytes) -> bytes:
    """In-paint results are stored as PNG; PNG replies are kept byte for byte."""
    if sniff_mime(data) == "image/png":
        return data
    out = io.BytesIO()
    _generated(data).save(out, format="PNG")
    return out.getvalue()


def _generated(data: bytes) -> Image.Image:
    image = _decode(data)
    if image is None:
        raise ImageRejected(
            "the generator returned bytes that are not a readable image",
            reason="UNREADABLE_IMAGE",
        )
    has_alpha = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
    return image.convert("RGBA" if has_alpha else "RGB")


def _decode(data: bytes, *, at_least: tuple[int, int] | None = None) -> Image.Image | None:
    """The upright image, or None when Pillow cannot read it. With `at_least`, a JPEG is decoded
    at the smallest of its built-in scales (1/2, 1/4, 1/8) that still covers that size: a
    12-megapixel photo bound for a 1024-pixel cell costs a sixteenth of a full decode."""
    try:
        with Image.open(io.BytesIO(data)) as opened:
            if at_least is not None:
                width, height = at_least
                if opened.getexif().get(_ORIENTATION_TAG) in _QUARTER_TURNS:
                    width, height = height, width
                opened.draft(opened.mode, (width, height))
            opened.load()
            # Phone JPEGs store rotation in EXIF; apply it so grid cells are upright.
            return ImageOps.exif_transpose(opened)
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        return None


def _upright_size(data: bytes) -> tuple[int, int] | None:
    """Width and height as shown (EXIF rotation applied), read from the header alone."""
    try:
        with Image.open(io.BytesIO(data)) as opened:
            width, height = opened.size
            turned = opened.getexif().get(_ORIENTATION_TAG) in _QUARTER_TURNS
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        return None
    return (height, width) if turned else (width, height)


def _build_grid(images: tuple[bytes, ...], aspect_ratio: str) -> tuple[bytes, str]:
    """Every readable image in its cell of a grid at most GRID_MAX_SIDE on its long side, each
    scaled down before it is laid (never the full-size grid), then fitted to the ratio's canvas."""
    headers = [(data, size) for data in images if (size := _upright_size(data)) is not None]
    scale = _grid_scale([size for _, size in headers])
    decoded = [
        (image, size) for data, size in headers if (image := _decode(data, at_least=_scaled(size, scale))) is not None
    ]
    if not decoded:
        raise InvalidJobInput(f"none of the {len(images)} reference images of a group could be read")
    # An image that failed to decode leaves fewer cells, so the layout is worked out again.
    scale = _grid_scale([size for _, size in decoded])
    cells = [_resized(image, _scaled(size, scale)) for image, size in decoded]
    return _encode_png(_fit(_grid(cells), grid_target(aspect_ratio))), PNG


def _grid_shape(count: int) -> tuple[int, int]:
    cols = math.ceil(math.sqrt(count))
    return cols, math.ceil(count / cols)


def _grid_scale(sizes: Sequence[tuple[int, int]]) -> float:
    """The factor that brings the full-size grid of these images within GRID_MAX_SIDE (at most 1)."""
    if not sizes:
        return 1.0
    cols, rows = _grid_shape(len(sizes))
    long_side = max(cols * max(w for w, _ in sizes), rows * max(h for _, h in sizes))
    return min(1.0, GRID_MAX_SIDE / long_side)


def _scaled(size: tuple[int, int], scale: float) -> tuple[int, int]:
    # Rounded down: the cells, laid side by side, never pass GRID_MAX_SIDE.
    return max(1, math.floor(size[0] * scale)), max(1, math.floor(size[1] * scale))


def _resized(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    if image.size == size:
        return image
    return image.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)


def _grid(images: Sequence[Image.Image]) -> Image.Image:
    cols, rows = _grid_shape(len(images))
    cell_w = max(image.width for image in images)
    cell_h = max(image.height for image in images)
    canvas = Image.new("RGBA", (cols * cell_w, rows * cell_h), (0, 0, 0, 0))
    for position, image in enumerate(images):
        row, col = divmod(position, cols)
        x = col * cell_w + (cell_w - image.width) // 2
        y = row * cell_h + (cell_h - image.height) // 2
        canvas.paste(image.convert("RGBA"), (x, y))
    return canvas


def _fit(grid: Image.Image, target: tuple[int, int] | None) -> Image.Image:
    if target is None:
        return grid
    target_w, target_h = target
    scale = min(target_w / grid.width, target_h / grid.height)
    size = (max(1, round(grid.width * scale)), max(1, round(grid.height * scale)))
    scaled = grid.resize(size, Image.Resampling.NEAREST)
    canvas = Image.new("RGBA", target, (0, 0, 0, 0))
    canvas.paste(scaled, ((target_w - size[0]) // 2, (target_h - size[1]) // 2))
    return canvas


def _encode_png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG", compress_level=_SENT_PNG_COMPRESS_LEVEL)
    return out.getvalue()


_merged_grids: SingleFlightCache[tuple[tuple[bytes, ...], str], tuple[bytes, str]] = SingleFlightCache(
    max_bytes=GRID_CACHE_BYTES,
    size_of=lambda key, grid: sum(map(len, key[0])) + len(grid[0]),
)
