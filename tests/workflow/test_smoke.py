from __future__ import annotations

from temporalio.client import Client

from quel.settings import Settings
from tests.support.harness import harness


async def test_single_batch_fashion_completes(client: Client, settings: Settings) -> None:
    async with harness(client, settings) as h:
        job_id = await h.seed("single_batch.fashion")
        handle = await h.start(job_id)
        result = await handle.result()
        assert result.status == "completed"
