"""The image activity's reference cache lives as long as the worker has images to draw."""

from __future__ import annotations

import asyncio
import io
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import redis.asyncio as redis
from PIL import Image
from temporalio.testing import ActivityEnvironment

from activities.contracts import GenerateImageRequest, ReferenceInput
from activities.image_activities import ImageActivities
from clients.cancel_flags import CancelFlags
from clients.gemini_generator import GeminiGenerator
from clients.offline_generator import OfflineGenerator
from clients.supabase_storage import SupabaseStorage
from domain.plan import Category, JobKind
from tests.fakes.gemini_server import FakeGemini
from tests.fakes.storage_server import FakeSupabaseStorage
from tests.support.counting_storage import CountingStorage
from tests.support.remote import GEMINI_KEY, STORAGE_KEY
from tests.support.waiting import eventually

TOPS = ["uploads/top-1.png", "uploads/top-2.png"]


def png(colour: str) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (32, 32), colour).save(out, format="PNG")
    return out.getvalue()


def image_request(
    job_id: str,
    index: int,
    *,
    paths: list[str] = TOPS,
    input_type: str = "top",
    category: Category = Category.FASHION,
    kind: JobKind = JobKind.SINGLE_BATCH,
) -> GenerateImageRequest:
    return GenerateImageRequest(
        job_id=job_id,
        stage=0,
        combo=0,
        index=index,
        image_number=index,
        category=category,
        kind=kind,
        references=[ReferenceInput(attach_id, input_type, path) for attach_id, path in enumerate(paths, start=1)],
        caller_prompt="studio",
        aspect_ratio="1:1",
        output_key=f"generated-images/user-x/{job_id}/s0-c0-{index}.webp",
    )


async def test_references_are_downloaded_once_per_busy_spell(tmp_path: Path, redis_client: redis.Redis) -> None:
    storage = CountingStorage(tmp_path)
    for path, colour in zip(TOPS, ["red", "blue"], strict=True):
        await storage.upload(path, png(colour), content_type="image/png")
    generator = OfflineGenerator(latency_seconds=0.2)
    images = ImageActivities(storage, generator, CancelFlags(redis_client), concurrency=2, idle_seconds=60)
    environment = ActivityEnvironment()
    job_id = str(uuid.uuid4())

    await asyncio.gather(*(environment.run(images.generate_image, image_request(job_id, n)) for n in range(3)))
    references_read = [path for path in storage.downloads if path in TOPS]
    assert sorted(references_read) == TOPS, "three images at once share one download of each reference"

    await environment.run(images.generate_image, image_request(job_id, 3))
    references_read = [path for path in storage.downloads if path in TOPS]
    assert sorted(references_read) == TOPS, "the next image of the job, an instant later, found them kept"


async def test_an_idle_worker_keeps_no_reference_bytes(tmp_path: Path, redis_client: redis.Redis) -> None:
    storage = CountingStorage(tmp_path)
    for path, colour in zip(TOPS, ["red", "blue"], strict=True):
        await storage.upload(path, png(colour), content_type="image/png")
    images = ImageActivities(storage, OfflineGenerator(), CancelFlags(redis_client), concurrency=2, idle_seconds=0)
    environment = ActivityEnvironment()
    job_id = str(uuid.uuid4())

    await environment.run(images.generate_image, image_request(job_id, 0))
    await asyncio.sleep(0)  # the forgetting, due at once, runs on the loop's next turn
    await environment.run(images.generate_image, image_request(job_id, 1))
    references_read = [path for path in storage.downloads if path in TOPS]
    assert sorted(references_read) == sorted(TOPS * 2), "the worker, idle in between, kept no reference bytes"


@pytest.fixture
async def remote_images(
    fake_storage: FakeSupabaseStorage, fake_gemini: FakeGemini, redis_client: redis.Redis
) -> AsyncIterator[ImageActivities]:
    storage = SupabaseStorage(fake_storage.url, STORAGE_KEY, "attachments")
    generator = GeminiGenerator(api_key=GEMINI_KEY, model="m", base_url=fake_gemini.base_url, timeout_seconds=5)
    yield ImageActivities(storage, generator, CancelFlags(redis_client), concurrency=2)
    await generator.close()
    await storage.close()


def product_request(job_id: str, paths: list[str]) -> GenerateImageRequest:
    """Every reference its own part of the request, in order (DOMAIN: simple_general)."""
    return image_request(
        job_id, 0, paths=paths, input_type="product", category=Category.BEAUTY, kind=JobKind.SIMPLE_GENERAL
    )


async def test_references_download_at_once_and_keep_their_order(
    remote_images: ImageActivities, fake_storage: FakeSupabaseStorage, fake_gemini: FakeGemini
) -> None:
    paths = [f"uploads/product-{n}.png" for n in range(3)]
    for path, colour in zip(paths, ["red", "green", "blue"], strict=True):
        fake_storage.put_object("attachments", path, png(colour), "image/png")
    fake_storage.hold_downloads()
    running = asyncio.create_task(ActivityEnvironment().run(remote_images.generate_image, product_request("j1", paths)))

    await eventually(
        lambda: fake_storage.downloads_in_flight == len(paths) or running.done(),
        timeout=10,
        what="every reference downloading at once",
    )
    fake_storage.release_downloads()
    await running
    [call] = fake_gemini.calls
    assert [part.data for part in call.parts if part.data is not None] == [png(c) for c in ["red", "green", "blue"]]


async def test_an_output_stored_by_an_earlier_attempt_is_sized_not_downloaded(
    remote_images: ImageActivities, fake_storage: FakeSupabaseStorage, fake_gemini: FakeGemini
) -> None:
    request = product_request("j2", ["uploads/product-0.png"])
    fake_storage.put_object("attachments", request.output_key, b"w" * 1000, "image/webp")
    output = await ActivityEnvironment().run(remote_images.generate_image, request)
    assert (output.output_key, output.size) == (request.output_key, 1000)
    assert fake_gemini.call_count == 0
    reads = [r.path for r in fake_storage.requests if r.method == "GET"]
    assert reads == [f"/storage/v1/object/info/attachments/{request.output_key}"], "only the details, not the bytes"
