"""Limits the issue sets: small histories, and generator concurrency per worker."""

from __future__ import annotations

import io

import pytest
from PIL import Image
from temporalio.client import Client

from domain.generation.images import GRID_MAX_SIDE
from quel.settings import Settings
from tests.fakes.gemini_server import FakeGemini
from tests.fakes.storage_server import FakeSupabaseStorage
from tests.support.harness import harness
from tests.support.photos import phone_photo
from tests.support.seed import fashion_job_of, fixture, input_paths

MAX_PAYLOAD_EVENT_BYTES = 16 * 1024
MAX_HISTORY_BYTES = 1024 * 1024


async def test_fifty_image_history_stays_small(client: Client, remote_settings: Settings) -> None:
    async with harness(client, remote_settings) as h:
        job_id = await h.seed("single_batch.fashion", job_input_data=fashion_job_of(50))
        handle = await h.start(job_id)
        result = await handle.result()
        assert result.completed_images == 50
        history = await handle.fetch_history()
    sizes = [event.ByteSize() for event in history.events]
    print(f"50 images: {len(history.events)} events, {sum(sizes)} bytes, largest event {max(sizes)} bytes")
    assert max(sizes) <= MAX_PAYLOAD_EVENT_BYTES, "no event (so no payload) above 16 KB"
    assert sum(sizes) < MAX_HISTORY_BYTES
    assert len(history.events) / 50 < 15, "events per image"


async def test_two_image_job_stays_under_fifteen_events_per_image(client: Client, remote_settings: Settings) -> None:
    """Database steps are local activities, so a job's fixed events do not dominate small jobs."""
    async with harness(client, remote_settings) as h:
        job_id = await h.seed("single_batch.eats")
        handle = await h.start(job_id)
        assert (await handle.result()).completed_images == 2
        history = await handle.fetch_history()
    assert len(history.events) / 2 < 15, [event.event_type for event in history.events]


@pytest.mark.parametrize("concurrency", [2, 3])
async def test_generator_calls_in_flight_never_exceed_the_limit_and_reach_it(
    client: Client, remote_settings: Settings, fake_gemini: FakeGemini, concurrency: int
) -> None:
    fake_gemini.latency = 0.3
    settings = remote_settings.model_copy(update={"image_concurrency": concurrency})
    async with harness(client, settings) as h:
        job_id = await h.seed("single_batch.fashion", job_input_data=fashion_job_of(10))
        result = await (await h.start(job_id)).result()
        assert result.completed_images == 10
    assert fake_gemini.max_in_flight == concurrency


async def test_square_stage_of_four_phone_photos_sends_gemini_a_capped_grid(
    client: Client, remote_settings: Settings, fake_gemini: FakeGemini, fake_storage: FakeSupabaseStorage
) -> None:
    clothing = {51002: "top", 51003: "pants", 51004: "shoes", 51005: "outer"}
    data = fixture("jobs/single_batch.fashion.json")["job_input_data"]
    square = {
        **data,
        "individualImageAttachIds": [{"attachId": attach_id, "type": kind} for attach_id, kind in clothing.items()],
        "combinations": [{"angle": "front", "shot": "full", "quantity": 1}],
        "aspectRatio": "1:1",
        "aspect-ratio": "1:1",
    }
    async with harness(client, remote_settings) as h:
        for number, attach_id in enumerate(clothing):
            colour = (60 * number, 90, 160)
            fake_storage.put_object("attachments", input_paths()[attach_id], phone_photo((colour, colour)))
        job_id = await h.seed("single_batch.fashion", job_input_data=square, total_images=1)
        assert (await (await h.start(job_id)).result()).completed_images == 1
    [call] = fake_gemini.calls
    # The other image parts are single photos standing in for the model and the background.
    [grid] = [part for part in call.parts if part.mime == "image/png"]
    assert grid.data is not None
    assert Image.open(io.BytesIO(grid.data)).size == (1536, GRID_MAX_SIDE)
