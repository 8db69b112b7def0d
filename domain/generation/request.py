"""What an image generator is asked and what it answers. Shared by Gemini and the
offline generator, built by `domain.generation.compose`."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ImagePart:
    data: bytes
    mime: str
    role: str = ""
    """Bucket the image came from (`model`, `clothing`, ...); for logs and tests only."""


@dataclass(frozen=True)
class TextPart:
    text: str


Part = ImagePart | TextPart


@dataclass(frozen=True)
class GeneratorRequest:
    parts: tuple[Part, ...]
    aspect_ratio: str
    temperature: float | None = None

    @property
    def prompt(self) -> str:
        return "\n".join(p.text for p in self.parts if isinstance(p, TextPart))


@dataclass(frozen=True)
class GeneratedImage:
    data: bytes
    mime: str
