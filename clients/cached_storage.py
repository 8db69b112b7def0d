"""A read-through cache in front of object storage for reference images.

Every image of a stage sends the same references, so without it each image downloads them
again; the images that start together share one download. Reference objects are written once
(uploads, and the in-paint mask under a fixed key per job), so a cached copy never goes stale.
Bounded by total bytes, least recently used first out.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict

from clients.storage import ObjectStorage


class CachedReads:
    def __init__(self, storage: ObjectStorage, *, max_bytes: int = 128 * 1024 * 1024) -> None:
        self._storage = storage
        self._max_bytes = max_bytes
        self._entries: OrderedDict[str, bytes] = OrderedDict()
        self._bytes = 0
        self._loading: dict[str, asyncio.Task[bytes]] = {}

    async def download(self, path: str) -> bytes:
        cached = self._entries.get(path)
        if cached is not None:
            self._entries.move_to_end(path)
            return cached
        loading = self._loading.get(path)
        if loading is None:
            loading = asyncio.create_task(self._load(path))
            self._loading[path] = loading
            loading.add_done_callback(lambda _: self._loading.pop(path, None))
        # One waiter cancelled (its activity timed out) must not cancel the others' download.
        return await asyncio.shield(loading)

    def clear(self) -> None:
        self._entries.clear()
        self._bytes = 0

    async def _load(self, path: str) -> bytes:
        data = await self._storage.download(path)
        if len(data) <= self._max_bytes:
            self._entries[path] = data
            self._bytes += len(data)
            while self._bytes > self._max_bytes:
                _, evicted = self._entries.popitem(last=False)
                self._bytes -= len(evicted)
        return data
