"""The image-generator contract. Backends: `GeminiGenerator` (google-genai) and
`OfflineGenerator` (local, deterministic, labelled as offline in its output)."""

from __future__ import annotations

from typing import Protocol

from domain.generation.request import GeneratedImage, GeneratorRequest


class ImageGenerator(Protocol):
    """Raises `GeneratorTransientError`, `ImageRejected` or `GeneratorAuthError`
    (domain.errors); never a library-specific exception."""

    name: str

    async def generate(self, request: GeneratorRequest) -> GeneratedImage: ...

    async def close(self) -> None: ...
