"""The reference cache: one download per object while it fits, least recently used evicted."""

from __future__ import annotations

from pathlib import Path

from clients.cached_storage import CachedReads
from clients.local_storage import LocalFolderStorage


class CountingStorage(LocalFolderStorage):
    def __init__(self, root: Path) -> None:
        super().__init__(root, "attachments")
        self.downloads: list[str] = []

    async def download(self, path: str) -> bytes:
        self.downloads.append(path)
        return await super().download(path)


async def test_repeated_reads_download_once(tmp_path: Path) -> None:
    storage = CountingStorage(tmp_path)
    await storage.upload("uploads/a.webp", b"a" * 10, content_type="image/webp")
    cache = CachedReads(storage)
    assert [await cache.download("uploads/a.webp") for _ in range(3)] == [b"a" * 10] * 3
    assert storage.downloads == ["uploads/a.webp"]


async def test_least_recently_used_is_evicted_past_the_byte_limit(tmp_path: Path) -> None:
    storage = CountingStorage(tmp_path)
    for name in "abc":
        await storage.upload(f"uploads/{name}", name.encode() * 10, content_type="image/webp")
    cache = CachedReads(storage, max_bytes=20)
    for name in "abac":  # "a" used again, so "b" is the one to go when "c" arrives
        await cache.download(f"uploads/{name}")
    await cache.download("uploads/a")
    await cache.download("uploads/b")
    assert storage.downloads == ["uploads/a", "uploads/b", "uploads/c", "uploads/b"]
