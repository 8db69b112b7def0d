"""The object-storage contract. Backends: `LocalFolderStorage` (embedded default) and
`SupabaseStorage` (production, async storage3)."""

from __future__ import annotations

from typing import Protocol

STORAGE_TIMEOUT_SECONDS = 30.0
"""One storage request, as the remote backend allows it."""


class ObjectStorage(Protocol):
    """Objects are addressed by a path relative to the bucket (e.g. `uploads/x.webp`).

    `download` raises `domain.errors.ObjectNotFound` for a missing object; `size` answers
    None for it, without reading the object; `upload` overwrites (upsert), so a retried upload
    of the same key is harmless."""

    bucket: str

    async def download(self, path: str) -> bytes: ...

    async def size(self, path: str) -> int | None: ...

    async def upload(self, path: str, data: bytes, *, content_type: str) -> None: ...

    async def delete(self, path: str) -> None: ...

    async def close(self) -> None: ...
