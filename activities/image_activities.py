"""The generator activity, on the image task queue (at most IMAGE_CONCURRENCY calls per worker)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from temporalio import activity
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_not_exception_type,
    stop_after_attempt,
    stop_after_delay,
    wait_exponential,
)

from activities.contracts import ActivityName, GeneratedOutput, GenerateImageRequest, ReferenceInput
from activities.errors import application_errors, job_cancelled
from activities.heartbeat import heartbeating
from activities.telemetry import count_generated, excerpt, log_event, record_generator_latency
from clients.cached_storage import CachedReads
from clients.call_spacing import CallSpacing
from clients.cancel_flags import CancelFlags
from clients.image_generator import ImageGenerator
from clients.storage import STORAGE_TIMEOUT_SECONDS, ObjectStorage
from domain.errors import InvalidJobInput, ObjectNotFound
from domain.generation.compose import ReferenceImage, SlotContext, compose_modify_request, compose_request
from domain.generation.images import forget_merged_grids, to_png, to_webp
from domain.generation.request import GeneratorRequest
from domain.plan import JobKind

HEARTBEAT_SECONDS = 2.0
"""Well inside the workflow's heartbeat timeout for this activity."""

IDLE_SECONDS = 1.0
"""How long the image worker stays without an activity before it drops its cached inputs."""


def prepared_ahead(concurrency: int) -> int:
    """Image activities a worker holds beyond its generator slots, a quarter of them. While the
    calls run, those images download and compose their requests, so a freed slot is refilled at
    once instead of idling through a poll and a preparation: calls started together end together,
    and a wide worker would otherwise leave many slots waiting each round. An image held ahead
    was dispatched a whole call before it runs, so it holds back an in-paint or another payer's
    image dispatched after it (D13); a narrow worker, whose slots a preparation hardly idles,
    holds none (bench/high_concurrency.py, bench/dispatch.py)."""
    return concurrency // 4


UPLOAD_ATTEMPTS = 4
UPLOAD_RETRY_SECONDS = 30.0
"""No upload attempt starts later than this after the first one."""
UPLOAD_MAX_SECONDS = UPLOAD_RETRY_SECONDS + STORAGE_TIMEOUT_SECONDS
"""The longest the upload of one reply can take, its retries included."""


def output_mime(kind: JobKind) -> str:
    """Generated images are WebP (quality 90); in-paint results PNG, as the legacy worker stored them."""
    return "image/png" if kind is JobKind.MODIFY else "image/webp"


class ImageActivities:
    def __init__(
        self,
        storage: ObjectStorage,
        generator: ImageGenerator,
        cancel_flags: CancelFlags,
        *,
        concurrency: int,
        spacing: CallSpacing | None = None,
        idle_seconds: float = IDLE_SECONDS,
    ) -> None:
        self._idle_seconds = idle_seconds
        self._spacing = spacing
        self._storage = storage
        self._references = CachedReads(storage)
        self._generator = generator
        self._generator_slots = asyncio.Semaphore(concurrency)
        self._cancel_flags = cancel_flags
        self._running = 0
        self._forgetting: asyncio.TimerHandle | None = None
        self.max_activities = concurrency + prepared_ahead(concurrency)
        """What the image worker may run at once: the generator slots and the images prepared ahead."""

    @activity.defn(name=ActivityName.GENERATE_IMAGE)
    async def generate_image(self, request: GenerateImageRequest) -> GeneratedOutput:
        """Draws one output and stores it under its deterministic key (D6).

        The cancel flag is read before the call and after the reply: an image cancelled in
        between is discarded (D8). An object already stored by an earlier attempt is reused,
        so a retry after a crash does not pay for a second generation. A reply is paid for, so
        nothing after it throws it away lightly: the upload is retried here, and a flag that
        cannot be read counts as not set (as the legacy worker read it).
        """
        self._running += 1
        if self._forgetting is not None:
            self._forgetting.cancel()
            self._forgetting = None
        try:
            with application_errors():
                async with heartbeating(HEARTBEAT_SECONDS):
                    return await self._generate(request)
        finally:
            self._running -= 1
            if not self._running:
                # Not at once: between two images of a job the worker is often idle for an instant.
                self._forgetting = asyncio.get_running_loop().call_later(self._idle_seconds, self._forget_inputs)

    def _forget_inputs(self) -> None:
        """An idle worker keeps no image bytes: the next job brings its own inputs."""
        self._forgetting = None
        self._references.clear()
        forget_merged_grids()

    async def _generate(self, request: GenerateImageRequest) -> GeneratedOutput:
        if await self._cancel_flags.is_set(request.job_id):
            raise job_cancelled(request.job_id)
        earlier = await self._storage.size(request.output_key)
        if earlier is not None:
            return GeneratedOutput(request.output_key, earlier, output_mime(request.kind))
        where = {"job_id": request.job_id, "stage": request.stage, "combo": request.combo, "image": request.index}
        references, missing = await self._download(request.references, where)
        generator_request = await asyncio.to_thread(_compose, references, request)
        async with self._generator_slots:
            turn = {"turn_wait": round(await self._spacing.wait_turn(), 3)} if self._spacing else {}
            # It may have waited a whole call for the slot: a cancel in between is honoured.
            if await self._cancel_flags.is_set(request.job_id):
                raise job_cancelled(request.job_id)
            started = time.monotonic()
            image = await self._generator.generate(generator_request)
            latency = time.monotonic() - started
        record_generator_latency(request.category.value, latency)
        log_event(
            "generator called",
            generator=self._generator.name,
            prompt=excerpt(generator_request.prompt),
            parts=len(generator_request.parts),
            aspect_ratio=generator_request.aspect_ratio,
            seconds=round(latency, 3),
            **turn,
            **where,
        )
        if await self._cancelled_after_reply(request.job_id, where):
            raise job_cancelled(request.job_id)
        mime = output_mime(request.kind)
        stored = await asyncio.to_thread(to_png if mime == "image/png" else to_webp, image.data)
        await self._upload(request.output_key, stored, mime, where)
        count_generated(request.category.value)
        return GeneratedOutput(request.output_key, len(stored), mime, missing)

    async def _cancelled_after_reply(self, job_id: str, where: dict[str, Any]) -> bool:
        cancelled = await self._cancel_flags.is_set_if_readable(job_id)
        if cancelled is None:
            activity.logger.warning("cancel flag unreadable after the reply; image kept", extra=where)
        return bool(cancelled)

    async def _upload(self, key: str, data: bytes, mime: str, where: dict[str, Any]) -> None:
        """Retried here rather than by Temporal, whose retry would pay for the image again.
        A path refused as unsafe (ValueError) never becomes acceptable, so it is not retried."""
        async for attempt in AsyncRetrying(
            retry=retry_if_not_exception_type(ValueError),
            stop=stop_after_attempt(UPLOAD_ATTEMPTS) | stop_after_delay(UPLOAD_RETRY_SECONDS),
            wait=wait_exponential(multiplier=0.5, max=8),
            before_sleep=lambda state: _log_upload_retry(state, where),
            reraise=True,
        ):
            with attempt:
                await self._storage.upload(key, data, content_type=mime)

    async def _download(
        self, inputs: list[ReferenceInput], where: dict[str, Any]
    ) -> tuple[list[ReferenceImage], list[int]]:
        """All at once, kept in their order; missing objects are left out (as the legacy worker
        did) and reported back."""
        downloads = await asyncio.gather(*(self._download_one(reference, where) for reference in inputs))
        pairs = list(zip(inputs, downloads, strict=True))
        references = [ReferenceImage(data=data, type=ref.type) for ref, data in pairs if data is not None]
        return references, [ref.attach_id for ref, data in pairs if data is None]

    async def _download_one(self, reference: ReferenceInput, where: dict[str, Any]) -> bytes | None:
        try:
            data = await self._references.download(reference.path)
        except ObjectNotFound:
            activity.logger.warning(
                "input not in storage", extra={"attach_id": reference.attach_id, "path": reference.path, **where}
            )
            return None
        log_event("input downloaded", attach_id=reference.attach_id, bytes=len(data), **where)
        return data


def _log_upload_retry(state: RetryCallState, where: dict[str, Any]) -> None:
    error = state.outcome.exception() if state.outcome else None
    details = {**where, "attempt": state.attempt_number, "error": str(error)}
    activity.logger.warning("upload failed; retrying", extra=details)


def _compose(references: list[ReferenceImage], request: GenerateImageRequest) -> GeneratorRequest:
    if request.kind is not JobKind.MODIFY:
        return compose_request(references, _slot_context(request))
    by_role = {reference.type: reference.data for reference in references}
    if "original" not in by_role or "mask" not in by_role:
        raise InvalidJobInput("the in-paint job's original image or mask is missing from storage")
    return compose_modify_request(
        by_role["original"], by_role["mask"], request.caller_prompt, by_role.get("reference"), request.aspect_ratio
    )


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
