"""A SIGKILL exactly between upload and attach insert, with the storage fake holding an upload's reply.

While the reply is held, the object exists in storage and the worker that uploaded it has not
heard back, so its generate activity has not finished and no attach row can exist yet.
"""

from __future__ import annotations

import asyncio

from tests.fakes.storage_server import FakeSupabaseStorage
from tests.support.harness import Harness
from tests.support.processes import QuelProcess


async def kill_between_upload_and_attach(h: Harness, worker: QuelProcess, storage: FakeSupabaseStorage) -> str:
    """The generate activity stores its object, and the worker dies before it hears the
    reply: the activity never completes, so record_output (the attach insert) never ran."""
    storage.hold_next_upload("generated-images/")
    key = await asyncio.to_thread(storage.wait_until_holding, 180)
    assert not await h.db.fetchval("SELECT 1 FROM quel_temporal_outputs WHERE output_key = $1", key)
    worker.kill()
    storage.release_upload()
    return key
