"""The storage fake with one more fault: keep the object of an upload, but hold the reply.

While the reply is held, the object exists in storage and the worker that uploaded it has not
heard back, so its generate activity has not finished and no attach row can exist yet: a
SIGKILL at that moment lands exactly between upload and attach insert.
"""

from __future__ import annotations

import asyncio
import threading
from urllib.parse import unquote, urlsplit

from tests.fakes.storage_server import HOLD_LIMIT_SECONDS, FakeSupabaseStorage, _Reply
from tests.support.harness import Harness
from tests.support.processes import QuelProcess


class HoldingStorage(FakeSupabaseStorage):
    def __init__(self, service_key: str) -> None:
        super().__init__(service_key)
        self._hold_lock = threading.Lock()
        self._hold_prefix: str | None = None
        self._held_path: str | None = None
        self._holding = threading.Event()
        self._released = threading.Event()

    def hold_next_upload(self, prefix: str) -> None:
        """The next successful upload under `prefix` is stored, then its reply waits for `release()`."""
        with self._hold_lock:
            self._released.clear()
            self._holding.clear()
            self._held_path = None
            self._hold_prefix = prefix

    def wait_until_holding(self, timeout: float) -> str:
        """Blocks (call it in a thread) until an upload is held; returns the object's path."""
        assert self._holding.wait(timeout), "no upload arrived to hold"
        assert self._held_path is not None
        return self._held_path

    def release(self) -> None:
        with self._hold_lock:
            self._hold_prefix = None
        self._released.set()

    def answer(self, method: str, raw_path: str, headers: dict[str, str], body: bytes) -> _Reply:
        reply = super().answer(method, raw_path, headers, body)
        if method in ("POST", "PUT") and reply.status == 200 and self._take_hold(raw_path):
            self._released.wait(HOLD_LIMIT_SECONDS)
        return reply

    def _take_hold(self, raw_path: str) -> bool:
        _, _, path = unquote(urlsplit(raw_path).path).removeprefix("/storage/v1/object/").partition("/")
        with self._hold_lock:
            if self._hold_prefix is None or not path.startswith(self._hold_prefix):
                return False
            self._hold_prefix = None
            self._held_path = path
        self._holding.set()
        return True


async def kill_between_upload_and_attach(h: Harness, worker: QuelProcess, storage: HoldingStorage) -> str:
    """The generate activity stores its object, and the worker dies before it hears the
    reply: the activity never completes, so record_output (the attach insert) never ran."""
    storage.hold_next_upload("generated-images/")
    key = await asyncio.to_thread(storage.wait_until_holding, 180)
    assert not await h.db.fetchval("SELECT 1 FROM quel_temporal_outputs WHERE output_key = $1", key)
    worker.kill()
    storage.release()
    return key
