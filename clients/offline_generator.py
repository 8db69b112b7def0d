"""`OfflineGenerator`: a local stand-in for Gemini that draws a plain, deterministic
picture from the request, so jobs run end to end without a key or network.

The picture says in large letters that it is not AI output, so it can never be
mistaken for a real result. The same request always yields the same PNG bytes.
"""

from __future__ import annotations

import asyncio
import hashlib
import io

from PIL import Image, ImageDraw, ImageFont
from PIL.PngImagePlugin import PngInfo

from domain.errors import ImageRejected
from domain.generation.request import GeneratedImage, GeneratorRequest, ImagePart

LABEL = "OFFLINE GENERATOR — not AI output"
LONG_SIDE = 768
PROMPT_WORDS = 16

_PAD = 16
_RGB = tuple[int, int, int]
_Font = ImageFont.FreeTypeFont | ImageFont.ImageFont


class OfflineGenerator:
    """Offline backend of `clients.image_generator.ImageGenerator`."""

    name = "offline"

    def __init__(self, *, latency_seconds: float = 0.0) -> None:
        self._latency_seconds = latency_seconds

    async def generate(self, request: GeneratorRequest) -> GeneratedImage:
        if self._latency_seconds > 0:
            await asyncio.sleep(self._latency_seconds)
        # Decoding references and encoding PNG is CPU work; keep the event loop free.
        data = await asyncio.to_thread(render, request)
        return GeneratedImage(data=data, mime="image/png")

    async def close(self) -> None:
        """Nothing to release; present to satisfy the generator contract."""


def canvas_size(aspect_ratio: str) -> tuple[int, int]:
    """(width, height) with the long side `LONG_SIDE`; a ratio Gemini would refuse
    is refused here too, with the same reason."""
    width_part, sep, height_part = aspect_ratio.partition(":")
    try:
        ratio_w, ratio_h = int(width_part), int(height_part)
    except ValueError:
        ratio_w = ratio_h = 0
    if not sep or ratio_w <= 0 or ratio_h <= 0:
        raise ImageRejected(f"aspect ratio {aspect_ratio!r} is not of the form W:H", reason="INVALID_ARGUMENT")
    if ratio_w >= ratio_h:
        return LONG_SIDE, max(1, round(LONG_SIDE * ratio_h / ratio_w))
    return max(1, round(LONG_SIDE * ratio_w / ratio_h)), LONG_SIDE


def background_colour(prompt: str) -> _RGB:
    """A colour picked by the prompt, so different prompts look different at a glance."""
    digest = hashlib.sha256(prompt.encode()).digest()
    return digest[0], digest[1], digest[2]


def prompt_excerpt(prompt: str) -> str:
    words = prompt.split()
    excerpt = " ".join(words[:PROMPT_WORDS])
    return excerpt + (" …" if len(words) > PROMPT_WORDS else "")


def render(request: GeneratorRequest) -> bytes:
    width, height = canvas_size(request.aspect_ratio)
    background = background_colour(request.prompt)
    ink = _readable_ink(background)
    canvas = Image.new("RGB", (width, height), background)
    draw = ImageDraw.Draw(canvas)
    text_width = width - 2 * _PAD

    title_size = _size_fitting(LABEL, text_width, max_size=max(10, height // 12))
    title_font = ImageFont.load_default(size=title_size)
    _draw_label(draw, (_PAD, _PAD), title_font, ink)

    body_font = ImageFont.load_default(size=max(10, title_size * 2 // 3))
    body = "\n".join(_wrap(prompt_excerpt(request.prompt), body_font, text_width))
    body_top = _PAD + int(title_font.getbbox(LABEL)[3]) + _PAD
    draw.multiline_text((_PAD, body_top), body, fill=ink, font=body_font)

    images = [p for p in request.parts if isinstance(p, ImagePart)]
    _draw_thumbnails(canvas, images, ink)

    # The label also goes into the file's metadata, for tools that read text chunks.
    metadata = PngInfo()
    metadata.add_itxt("Description", LABEL)
    buffer = io.BytesIO()
    canvas.save(buffer, format="PNG", pnginfo=metadata)
    return buffer.getvalue()


def _readable_ink(background: _RGB) -> _RGB:
    red, green, blue = background
    luminance = 0.299 * red + 0.587 * green + 0.114 * blue
    return (0, 0, 0) if luminance > 140 else (255, 255, 255)


def _size_fitting(text: str, max_width: int, *, max_size: int) -> int:
    probe = ImageFont.load_default(size=100)
    size = int(100 * max_width / max(1.0, probe.getlength(text)))
    return max(6, min(size, max_size))


def _draw_label(draw: ImageDraw.ImageDraw, origin: tuple[int, int], font: _Font, ink: _RGB) -> None:
    """The built-in font has no em dash, so the dash in `LABEL` is drawn as a rule."""
    left_text, _, right_text = LABEL.partition("—")
    x, y = origin
    draw.text((x, y), left_text, fill=ink, font=font)
    x += int(font.getlength(left_text))
    _, x_top, _, x_bottom = font.getbbox("x")
    dash_y = y + int((x_top + x_bottom) / 2)
    dash_width = int(font.getlength("M"))
    thickness = max(1, int((x_bottom - x_top) / 7))
    draw.line((x, dash_y, x + dash_width, dash_y), fill=ink, width=thickness)
    draw.text((x + dash_width, y), right_text, fill=ink, font=font)


def _wrap(text: str, font: _Font, max_width: int) -> list[str]:
    lines: list[str] = []
    for word in text.split():
        candidate = f"{lines[-1]} {word}" if lines else word
        if lines and font.getlength(candidate) <= max_width:
            lines[-1] = candidate
        else:
            lines.append(word)
    return lines


def _draw_thumbnails(canvas: Image.Image, images: list[ImagePart], ink: _RGB) -> None:
    """One square cell per reference image along the bottom, in request order."""
    if not images:
        return
    width, height = canvas.size
    count = len(images)
    cell = min(height // 4, (width - _PAD * (count + 1)) // count)
    if cell < 4:
        return
    top = height - _PAD - cell
    draw = ImageDraw.Draw(canvas)
    for position, part in enumerate(images):
        left = _PAD + position * (cell + _PAD)
        draw.rectangle((left - 1, top - 1, left + cell, top + cell), outline=ink)
        thumbnail = _thumbnail(part.data, cell)
        if thumbnail is None:
            # Undecodable reference: a crossed box, so the count still shows.
            draw.line((left, top, left + cell - 1, top + cell - 1), fill=ink)
            draw.line((left, top + cell - 1, left + cell - 1, top), fill=ink)
            continue
        offset = ((cell - thumbnail.width) // 2, (cell - thumbnail.height) // 2)
        canvas.paste(thumbnail, (left + offset[0], top + offset[1]))


def _thumbnail(data: bytes, cell: int) -> Image.Image | None:
    try:
        with Image.open(io.BytesIO(data)) as source:
            image = source.convert("RGB")
    except (OSError, ValueError, Image.DecompressionBombError):
        return None
    image.thumbnail((cell, cell))
    return image
