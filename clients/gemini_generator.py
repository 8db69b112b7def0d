"""`GeminiGenerator`: one `generateContent` call per image through google-genai, with
every failure mapped onto the domain's generator errors (DECISIONS D7).

The SDK never retries here: Temporal owns retries, so a call is exactly one HTTP
attempt and its failure is classified for Temporal to act on.
"""

from __future__ import annotations

import asyncio
import math
import re
from collections.abc import Mapping
from typing import Any

import httpx
import httpx2
from google import genai
from google.genai import errors, types

from domain.errors import (
    GeneratorAuthError,
    GeneratorError,
    GeneratorTransientError,
    ImageRejected,
)
from domain.generation.request import GeneratedImage, GeneratorRequest, ImagePart, Part

_API_VERSION = "v1beta"

# 408 is a timeout reported by the server, so it is retried like the rest.
_TRANSIENT_CODES = frozenset({408, 429, 500, 502, 503, 504})
_AUTH_CODES = frozenset({401, 403})

# The SDK sends through httpx2 by default and through httpx when
# GOOGLE_GENAI_HTTP_CLIENT=httpx; either one's transport failures are transient.
_TRANSPORT_ERRORS = (httpx.TransportError, httpx2.TransportError)

# Finish reasons that mean "the model simply finished"; anything else explains
# why a reply holds no image (SAFETY, PROHIBITED_CONTENT, IMAGE_SAFETY, ...).
_NORMAL_FINISH = frozenset({"STOP", "FINISH_REASON_UNSPECIFIED"})

_RETRY_DELAY = re.compile(r"^\s*(\d+(?:\.\d+)?)s\s*$")
_RETRY_INFO_TYPE = "type.googleapis.com/google.rpc.RetryInfo"

_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)


class GeminiGenerator:
    """Gemini Developer API backend of `clients.image_generator.ImageGenerator`."""

    name = "gemini"

    def __init__(
        self,
        *,
        api_key: str,
        model: str,
        base_url: str | None = None,
        timeout_seconds: float = 120.0,
    ) -> None:
        self._secret = api_key.strip()
        self._model = model
        self._timeout_seconds = timeout_seconds
        self._client = genai.Client(
            api_key=api_key,
            http_options=types.HttpOptions(
                base_url=base_url,
                api_version=_API_VERSION,
                timeout=max(1, round(timeout_seconds * 1000)),
                retry_options=types.HttpRetryOptions(attempts=1),
            ),
        )

    async def generate(self, request: GeneratorRequest) -> GeneratedImage:
        contents = [types.Content(role="user", parts=[_sdk_part(p) for p in request.parts])]
        config = types.GenerateContentConfig(
            image_config=types.ImageConfig(aspect_ratio=request.aspect_ratio),
            temperature=request.temperature,
        )
        try:
            # The SDK's timeout applies per read; this bounds the whole call.
            async with asyncio.timeout(self._timeout_seconds):
                response = await self._client.aio.models.generate_content(
                    model=self._model, contents=contents, config=config
                )
        except errors.APIError as error:
            failure: GeneratorError = error_from_api(
                code=error.code,
                status=error.status,
                message=redact(error.message or "", self._secret),
                headers=_headers_of(error),
                body=error.details,
            )
        except (TimeoutError, *_TRANSPORT_ERRORS) as error:
            message = transport_message(error, self._timeout_seconds)
            failure = GeneratorTransientError(redact(message, self._secret))
        except errors.UnknownApiResponseError:
            failure = GeneratorTransientError("gemini sent a reply that is not JSON")
        else:
            return image_from_response(response)
        # `from None`: the SDK error carries the raw request and reply, and Temporal
        # would store that cause chain in the workflow history (D10).
        raise failure from None

    async def close(self) -> None:
        self._client.close()
        await self._client.aio.aclose()


def _sdk_part(part: Part) -> types.Part:
    if isinstance(part, ImagePart):
        return types.Part(inline_data=types.Blob(data=part.data, mime_type=part.mime))
    return types.Part(text=part.text)


def _headers_of(error: errors.APIError) -> Mapping[str, str]:
    headers = getattr(error.response, "headers", None)
    return headers if headers is not None else {}


def error_from_api(
    *,
    code: int,
    status: str | None,
    message: str,
    headers: Mapping[str, str],
    body: Any,
) -> GeneratorError:
    """Classify one failed HTTP reply per DECISIONS D7."""
    label = f"{code} {status}" if status else str(code)
    text = f"gemini answered {label}: {message or 'no message'}"
    if code in _AUTH_CODES:
        return GeneratorAuthError(f"{text} (the API key is invalid, revoked or not allowed)")
    if code in _TRANSIENT_CODES or code >= 500:
        return GeneratorTransientError(text, retry_after=retry_after_seconds(headers, body))
    return ImageRejected(text, reason=status or f"HTTP_{code}")


def retry_after_seconds(headers: Mapping[str, str], body: Any) -> float | None:
    """The server's suggested wait: a `Retry-After` header in seconds, else a
    google.rpc.RetryInfo `retryDelay` ("7s", "1.5s") in the error details."""
    header = _header(headers, "retry-after")
    if header is not None:
        try:
            seconds = float(header)
        except ValueError:
            seconds = math.nan  # an HTTP date; Google sends seconds, so use the details
        if math.isfinite(seconds):
            return max(0.0, seconds)
    for detail in _error_details(body):
        if detail.get("@type") == _RETRY_INFO_TYPE:
            match = _RETRY_DELAY.match(str(detail.get("retryDelay", "")))
            if match:
                return float(match[1])
    return None


def _header(headers: Mapping[str, str], name: str) -> str | None:
    # httpx headers ignore case; a plain dict (tests, other transports) may not.
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return None


def _error_details(body: Any) -> list[dict[str, Any]]:
    if not isinstance(body, dict):
        return []
    error = body.get("error", body)
    details = error.get("details") if isinstance(error, dict) else None
    return [d for d in details if isinstance(d, dict)] if isinstance(details, list) else []


def transport_message(error: BaseException, timeout_seconds: float) -> str:
    if isinstance(error, (TimeoutError, httpx.TimeoutException, httpx2.TimeoutException)):
        return f"gemini did not answer within {timeout_seconds:g}s"
    return f"could not reach gemini: {type(error).__name__}: {error}"


def image_from_response(response: types.GenerateContentResponse) -> GeneratedImage:
    """The first part with inline bytes, walking candidates and their parts in order
    (text parts are ignored); a reply without one rejects this image."""
    for candidate in response.candidates or []:
        parts = candidate.content.parts if candidate.content else None
        for part in parts or []:
            blob = part.inline_data
            if blob is not None and blob.data:
                return GeneratedImage(data=blob.data, mime=blob.mime_type or sniff_mime(blob.data))
    reason = rejection_reason(response)
    raise ImageRejected(f"gemini returned no image ({reason})", reason=reason)


def rejection_reason(response: types.GenerateContentResponse) -> str:
    """`promptFeedback.blockReason` if the prompt was blocked, else the first
    unusual finish reason, else NO_IMAGE."""
    feedback = response.prompt_feedback
    if feedback is not None and feedback.block_reason is not None:
        return _enum_name(feedback.block_reason)
    for candidate in response.candidates or []:
        if candidate.finish_reason is not None:
            reason = _enum_name(candidate.finish_reason)
            if reason not in _NORMAL_FINISH:
                return reason
    return "NO_IMAGE"


def _enum_name(value: Any) -> str:
    return str(getattr(value, "value", value))


def sniff_mime(data: bytes) -> str:
    """MIME type from the leading bytes, for replies that omit `mimeType`."""
    for magic, mime in _MAGIC:
        if data.startswith(magic):
            return mime
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return "application/octet-stream"


def redact(text: str, secret: str) -> str:
    """`text` with the API key blanked out, should a server or proxy echo it (D10)."""
    return text.replace(secret, "[redacted]") if secret else text
