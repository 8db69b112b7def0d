"""The reference cache: one download per object while it fits (shared by readers at the same
time), least recently used evicted."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from clients.cached_storage import CachedReads
from domain.errors import ObjectNotFound
from tests.support.counting_storage import CountingStorage


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


async def test_reads_at_the_same_time_share_one_download(tmp_path: Path) -> None:
    storage = CountingStorage(tmp_path)
    await storage.upload("uploads/a.webp", b"a" * 10, content_type="image/webp")
    cache = CachedReads(storage)
    assert await asyncio.gather(*(cache.download("uploads/a.webp") for _ in range(3))) == [b"a" * 10] * 3
    assert storage.downloads == ["uploads/a.webp"]


async def test_a_missing_object_fails_every_reader_and_is_not_cached(tmp_path: Path) -> None:
    storage = CountingStorage(tmp_path)
    cache = CachedReads(storage)
    for _ in range(2):
        with pytest.raises(ObjectNotFound):
            await cache.download("uploads/none.webp")
    assert storage.downloads == ["uploads/none.webp"] * 2


async def test_cleared_cache_downloads_again(tmp_path: Path) -> None:
    storage = CountingStorage(tmp_path)
    await storage.upload("uploads/a.webp", b"a" * 10, content_type="image/webp")
    cache = CachedReads(storage)
    await cache.download("uploads/a.webp")
    cache.clear()
    await cache.download("uploads/a.webp")
    assert storage.downloads == ["uploads/a.webp"] * 2
