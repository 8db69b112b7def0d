"""The in-paint job's own inputs (DOMAIN.md 4.6): a mask and an optional style reference sent
inline as data URLs, and the original picture named by attach id or by its storage URL."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

from domain.errors import InvalidJobInput


@dataclass(frozen=True)
class ModifySources:
    mask: bytes
    reference: bytes | None


def decode_data_url(value: str, key: str) -> bytes:
    """Everything up to the first comma is the header; the rest is base64 (legacy rule)."""
    _, comma, payload = value.partition(",")
    if not comma:
        raise InvalidJobInput(f"job_input_data.{key} is not a data URL (no comma)")
    try:
        data = base64.b64decode(payload, validate=False)
    except (binascii.Error, ValueError):
        raise InvalidJobInput(f"job_input_data.{key} is not valid base64") from None
    if not data:
        raise InvalidJobInput(f"job_input_data.{key} holds no image data")
    return data


def modify_sources(job_input_data: dict[str, Any]) -> ModifySources:
    mask = job_input_data.get("maskDataUrl")
    if not isinstance(mask, str) or not mask.strip():
        raise InvalidJobInput("job_input_data.maskDataUrl must be a non-empty data URL")
    reference = job_input_data.get("referenceImageDataUrl")
    return ModifySources(
        mask=decode_data_url(mask, "maskDataUrl"),
        reference=decode_data_url(reference, "referenceImageDataUrl")
        if isinstance(reference, str) and reference.strip()
        else None,
    )


def storage_path_from_public_url(url: str, *, bucket: str, allowed_host: str | None) -> str:
    """The object path of a public Storage URL of our bucket; any other URL is refused, so a
    row can never make the worker fetch an arbitrary address."""
    parts = urlsplit(url)
    marker = f"/storage/v1/object/public/{bucket}/"
    if parts.scheme not in ("http", "https") or marker not in parts.path:
        raise InvalidJobInput(f"original image URL {url!r} is not a public URL of the '{bucket}' bucket")
    if allowed_host is not None and parts.hostname != allowed_host:
        raise InvalidJobInput(f"original image URL {url!r} is not on the configured storage host {allowed_host}")
    return unquote(parts.path.split(marker, 1)[1])
