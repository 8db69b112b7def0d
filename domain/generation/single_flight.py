"""A memo for costly pure results shared by threads: one build per key at a time, bounded by bytes."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from concurrent.futures import Future
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class SingleFlightCache(Generic[K, V]):
    """Threads that miss on a key being built wait for that build instead of starting their own,
    and share its result or its exception (an exception is not kept). Results are kept while the
    bytes `size_of` counts for them fit in `max_bytes`, least recently used out first."""

    def __init__(self, *, max_bytes: int, size_of: Callable[[K, V], int]) -> None:
        self._max_bytes = max_bytes
        self._size_of = size_of
        self._lock = threading.Lock()
        self._done: OrderedDict[K, tuple[V, int]] = OrderedDict()
        self._building: dict[K, Future[V]] = {}
        self._bytes = 0

    def get(self, key: K, build: Callable[[], V]) -> V:
        with self._lock:
            done = self._done.get(key)
            if done is not None:
                self._done.move_to_end(key)
                return done[0]
            building = self._building.get(key)
            if building is None:
                self._building[key] = mine = Future[V]()
        if building is not None:
            return building.result()
        try:
            value = build()
        except BaseException as error:
            with self._lock:
                del self._building[key]
            mine.set_exception(error)
            raise
        with self._lock:
            del self._building[key]
            self._keep(key, value)
        mine.set_result(value)
        return value

    def clear(self) -> None:
        with self._lock:
            self._done.clear()
            self._bytes = 0

    def _keep(self, key: K, value: V) -> None:
        size = self._size_of(key, value)
        if size > self._max_bytes:
            return
        self._done[key] = (value, size)
        self._bytes += size
        while self._bytes > self._max_bytes:
            _, (_, evicted) = self._done.popitem(last=False)
            self._bytes -= evicted
