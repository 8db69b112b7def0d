"""The generator activity, on the image task queue (at most IMAGE_CONCURRENCY per worker)."""

from __future__ import annotations

import asyncio

from temporalio import activity

from activities.contracts import GeneratedOutput, GenerateImageRequest, ReferenceInput
from activities.errors import application_errors, job_cancelled
from clients.cancel_flags import CancelFlags
from clients.image_generator import ImageGenerator
from clients.storage import ObjectStorage
from domain.errors import ObjectNotFound
from domain.generation.compose import ReferenceImage, SlotContext, compose_request
from domain.generation.images import to_webp

OUTPUT_MIME = "image/webp"


class ImageActivities:
    def __init__(self, storage: ObjectStorage, generator: ImageGenerator, cancel_flags: CancelFlags) -> None:
        self._storage = storage
        self._generator = generator
        self._cancel_flags = cancel_flags

    @activity.defn
    async def generate_image(self, request: GenerateImageRequest) -> GeneratedOutput:
        """Draws one output and stores it under its deterministic key (D6).

        The cancel flag is read before the call and after the reply: an image cancelled in
        between is discarded (D8). An object already stored by an earlier attempt is reused,
        so a retry after a crash does not pay for a second generation.
        """
        with application_errors():
            if await self._cancel_flags.is_set(request.job_id):
                raise job_cancelled(request.job_id)
            stored = await self._stored_size(request.output_key)
            if stored is not None:
                return GeneratedOutput(request.output_key, stored, OUTPUT_MIME)
            references, missing = await self._download(request.references)
            generator_request = await asyncio.to_thread(compose_request, references, _slot_context(request))
            image = await self._generator.generate(generator_request)
            if await self._cancel_flags.is_set(request.job_id):
                raise job_cancelled(request.job_id)
            webp = await asyncio.to_thread(to_webp, image.data)
            await self._storage.upload(request.output_key, webp, content_type=OUTPUT_MIME)
            return GeneratedOutput(request.output_key, len(webp), OUTPUT_MIME, missing)

    async def _stored_size(self, key: str) -> int | None:
        try:
            return len(await self._storage.download(key))
        except ObjectNotFound:
            return None

    async def _download(self, inputs: list[ReferenceInput]) -> tuple[list[ReferenceImage], list[int]]:
        """Missing objects are left out (as the legacy worker did) and reported back."""
        references: list[ReferenceImage] = []
        missing: list[int] = []
        for reference in inputs:
            try:
                data = await self._storage.download(reference.path)
            except ObjectNotFound:
                activity.logger.warning(
                    "input not in storage", extra={"attach_id": reference.attach_id, "path": reference.path}
                )
                missing.append(reference.attach_id)
                continue
            references.append(ReferenceImage(data=data, type=reference.type))
        return references, missing


def _slot_context(request: GenerateImageRequest) -> SlotContext:
    return SlotContext(
        category=request.category,
        kind=request.kind,
        caller_prompt=request.caller_prompt,
        aspect_ratio=request.aspect_ratio,
        angle=request.angle,
        shot=request.shot,
        camera_angle=request.camera_angle,
        shot_type=request.shot_type,
        image_number=request.image_number,
    )
