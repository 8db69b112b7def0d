"""Generator calls take turns one interval apart, whichever worker makes them (DECISIONS D13)."""

from __future__ import annotations

import asyncio
import itertools
import uuid

import pytest
import redis.asyncio as redis
from temporalio.testing import ActivityEnvironment

from activities.image_activities import ImageActivities
from clients.call_spacing import CallSpacing, turn_key
from clients.cancel_flags import CancelFlags
from clients.gemini_generator import GeminiGenerator
from clients.supabase_storage import SupabaseStorage
from tests.fakes.gemini_server import FakeGemini
from tests.fakes.storage_server import FakeSupabaseStorage
from tests.stack.test_image_activities import png, product_request
from tests.support.processes import free_port
from tests.support.remote import GEMINI_KEY, STORAGE_KEY

CALLS_PER_SECOND = 5.0
INTERVAL = 1 / CALLS_PER_SECOND


async def test_calls_of_two_workers_at_once_are_given_turns_one_interval_apart(redis_client: redis.Redis) -> None:
    key = turn_key(f"images-{uuid.uuid4().hex[:8]}")
    workers = [CallSpacing(redis_client, CALLS_PER_SECOND, key=key) for _ in range(2)]
    waits = sorted(await asyncio.gather(*(workers[n % 2].wait_turn() for n in range(6))))
    assert waits[0] == pytest.approx(0, abs=0.02), "the first call of an idle spell goes at once"
    gaps = [later - earlier for earlier, later in itertools.pairwise(waits)]
    assert gaps == pytest.approx([INTERVAL] * 5, abs=0.05), waits


async def test_the_turns_of_another_image_queue_are_its_own(redis_client: redis.Redis) -> None:
    busy = CallSpacing(redis_client, CALLS_PER_SECOND, key=turn_key("images-busy"))
    other = CallSpacing(redis_client, CALLS_PER_SECOND, key=turn_key("images-other"))
    await asyncio.gather(*(busy.wait_turn() for _ in range(3)))
    assert await other.wait_turn() == pytest.approx(0, abs=0.02)


async def test_without_a_turn_nothing_is_sent_to_the_generator(
    redis_client: redis.Redis, fake_storage: FakeSupabaseStorage, fake_gemini: FakeGemini
) -> None:
    """Redis gone when the turn is taken: the attempt fails before anything is paid for, and
    Temporal retries it."""
    storage = SupabaseStorage(fake_storage.url, STORAGE_KEY, "attachments")
    generator = GeminiGenerator(api_key=GEMINI_KEY, model="m", base_url=fake_gemini.base_url, timeout_seconds=5)
    unreachable = redis.Redis(port=free_port(), socket_connect_timeout=1)
    spacing = CallSpacing(unreachable, CALLS_PER_SECOND, key=turn_key("images-gone"))
    images = ImageActivities(storage, generator, CancelFlags(redis_client), concurrency=1, spacing=spacing)
    fake_storage.put_object("attachments", "uploads/product-0.png", png("red"), "image/png")
    try:
        with pytest.raises(Exception, match=r"(?i)connect"):
            await ActivityEnvironment().run(images.generate_image, product_request("j-gone", ["uploads/product-0.png"]))
    finally:
        await unreachable.aclose()
        await generator.close()
        await storage.close()
    assert fake_gemini.call_count == 0
