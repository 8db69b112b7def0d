"""Image bytes handling for generator requests: format sniffing, grid merge of a bucket,
the transparent placeholder, and WebP conversion of generated images (DOMAIN 5.4, 5.5)."""

from __future__ import annotations

import base64
import functools
import io
import math
from collections.abc import Sequence

from PIL import Image, ImageOps, UnidentifiedImageError

from domain.errors import ImageRejected, InvalidJobInput

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

# Grids are scaled to fit these canvases; 1:1 keeps the grid's own size (legacy rule).
_GRID_TARGETS: dict[str, tuple[int, int]] = {
    "16:9": (1344, 768),
    "9:16": (768, 1344),
    "4:3": (1152, 896),
    "3:4": (896, 1152),
}
_DEFAULT_GRID_TARGET = (1024, 1024)


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
    """Canvas a merged grid is fitted into; None for 1:1, where the grid keeps its size."""
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


# Every image of a stage merges the same references; decoding them and encoding the grid as
# PNG is the costliest step of preparing a request. A handful of entries covers the stages a
# worker has in flight, and bounds the input bytes the cache keeps alive.
@functools.lru_cache(maxsize=4)
def _merged_grid(images: tuple[bytes, ...], aspect_ratio: str) -> tuple[bytes, str]:
    decoded = [image for image in map(_decode, images) if image is not None]
    if not decoded:
        raise InvalidJobInput(f"none of the {len(images)} reference images of a group could be read")
    return _encode_png(_fit(_grid(decoded), grid_target(aspect_ratio))), PNG


def forget_merged_grids() -> None:
    _merged_grid.cache_clear()


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


def _decode(data: bytes) -> Image.Image | None:
    try:
        with Image.open(io.BytesIO(data)) as opened:
            opened.load()
            # Phone JPEGs store rotation in EXIF; apply it so grid cells are upright.
            return ImageOps.exif_transpose(opened)
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        return None


def _grid(images: Sequence[Image.Image]) -> Image.Image:
    cols = math.ceil(math.sqrt(len(images)))
    rows = math.ceil(len(images) / cols)
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
    image.save(out, format="PNG")
    return out.getvalue()
