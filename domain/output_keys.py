"""Deterministic identity and storage key of every output image (DECISIONS D6)."""

from __future__ import annotations

from dataclasses import dataclass

GENERATED_PREFIX = "generated-images"


@dataclass(frozen=True)
class OutputIdentity:
    job_id: str
    stage: int
    combo: int
    index: int
    extension: str = "webp"
    """Generated images are stored as WebP; in-paint results as PNG, like the legacy worker."""

    @property
    def file_name(self) -> str:
        return f"s{self.stage}-c{self.combo}-{self.index}.{self.extension}"

    def storage_key(self, owner: str | None) -> str:
        """`owner` is the member the legacy path is named after; unknown owners share one folder."""
        return f"{GENERATED_PREFIX}/user-{owner or 'unknown'}/{self.job_id}/{self.file_name}"
