"""The image activity's reference cache lives as long as the worker has images to draw."""

from __future__ import annotations

import asyncio
import io
import uuid
from pathlib import Path

import redis.asyncio as redis
from PIL import Image
from temporalio.testing import ActivityEnvironment

from activities.contracts import GenerateImageRequest, ReferenceInput
from activities.image_activities import ImageActivities
from clients.cancel_flags import CancelFlags
from clients.offline_generator import OfflineGenerator
from domain.plan import Category, JobKind
from tests.support.counting_storage import CountingStorage

TOPS = ["uploads/top-1.png", "uploads/top-2.png"]


def png(colour: str) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (32, 32), colour).save(out, format="PNG")
    return out.getvalue()


def image_request(job_id: str, index: int) -> GenerateImageRequest:
    return GenerateImageRequest(
        job_id=job_id,
        stage=0,
        combo=0,
        index=index,
        image_number=index,
        category=Category.FASHION,
        kind=JobKind.SINGLE_BATCH,
        references=[ReferenceInput(attach_id, "top", path) for attach_id, path in enumerate(TOPS, start=1)],
        caller_prompt="studio",
        aspect_ratio="1:1",
        output_key=f"generated-images/user-x/{job_id}/s0-c0-{index}.webp",
    )


async def test_references_are_downloaded_once_per_busy_spell(tmp_path: Path, redis_client: redis.Redis) -> None:
    storage = CountingStorage(tmp_path)
    for path, colour in zip(TOPS, ["red", "blue"], strict=True):
        await storage.upload(path, png(colour), content_type="image/png")
    images = ImageActivities(storage, OfflineGenerator(latency_seconds=0.2), CancelFlags(redis_client), concurrency=2)
    environment = ActivityEnvironment()
    job_id = str(uuid.uuid4())

    await asyncio.gather(*(environment.run(images.generate_image, image_request(job_id, n)) for n in range(3)))
    references_read = [path for path in storage.downloads if path in TOPS]
    assert sorted(references_read) == TOPS, "three images at once share one download of each reference"

    await environment.run(images.generate_image, image_request(job_id, 3))
    references_read = [path for path in storage.downloads if path in TOPS]
    assert sorted(references_read) == sorted(TOPS * 2), "an idle worker kept no reference bytes"
