"""Input photos as users upload them."""

from __future__ import annotations

import io

from PIL import Image

Colour = str | tuple[int, int, int]


def phone_photo(colours: tuple[Colour, Colour] = ("red", "blue"), *, orientation: int | None = None) -> bytes:
    """A 12-megapixel JPEG (3000x4000), as a phone takes them, its top half one colour and its
    bottom half the other; `orientation` is its EXIF orientation tag."""
    photo = Image.new("RGB", (3000, 4000), colours[1])
    photo.paste(colours[0], (0, 0, 3000, 2000))
    exif = Image.Exif()
    if orientation is not None:
        exif[0x0112] = orientation
    out = io.BytesIO()
    photo.save(out, format="JPEG", quality=80, exif=exif)
    return out.getvalue()
