"""The object-storage contract. Backends: `LocalFolderStorage` (embedded default) and
`SupabaseStorage` (production, async storage3)."""

from __future__ import annotations

from typing import Protocol


class ObjectStorage(Protocol):
    """Objects are addressed by a path relative to the bucket (e.g. `uploads/x.webp`).

    `download` raises `domain.errors.ObjectNotFound` for a missing object; `upload`
    overwrites (upsert), so a retried upload of the same key is harmless."""

    bucket: str

    async def download(self, path: str) -> bytes: ...

    async def upload(self, path: str, data: bytes, *, content_type: str) -> None: ...

    async def delete(self, path: str) -> None: ...

    async def close(self) -> None: ...
