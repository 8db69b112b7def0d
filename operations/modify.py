"""Submitting an in-paint (modify) job, as `POST /api/modify/submit` does (DOMAIN.md 4.6, DECISIONS D12).

The request is checked before anything is written: the Go server's required fields and quantity range
with its messages, then the port's input rules (D5), so a refused job never reaches the worker. Then the
production, the job and the prepaid charge are written in one transaction and the workflow is started.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg
import redis.asyncio as redis
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr
from pydantic.alias_generators import to_camel
from temporalio.client import Client
from temporalio.service import RPCError

from clients.api_store import ApiStore, ModifyOrder
from clients.job_store import JobStore
from clients.storage_paths import UnusablePath, validate_storage_path
from domain.errors import InvalidJobInput
from domain.generation.images import PNG, sniff_mime
from domain.job_ids import is_job_id
from domain.job_input import MAX_MODIFY_QUANTITY, MAX_TEXT_CHARS
from domain.legacy_values import describe
from domain.modify_sources import decode_data_url
from domain.plan import ASPECT_RATIOS, DEFAULT_ASPECT_RATIO
from operations.enqueue import push_like_the_producer
from operations.start import start_job_workflow

PRODUCTION_NAME_PROMPT_CHARS = 50
"""A longer prompt is cut to 47 characters and `...` in the production's name (DOMAIN.md 3.3)."""


class InvalidSubmission(ValueError):
    """The request is refused with a 400; the message names the field and the problem."""


class ModifyRequest(BaseModel):
    """The request body (DOMAIN.md 4.6), typed but not yet checked: any field may be missing. Unknown
    keys are ignored, as the Go server's decoder did."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore", frozen=True)

    image_url: StrictStr | None = None
    mask_data_url: StrictStr | None = None
    prompt: StrictStr | None = None
    attach_id: StrictInt | None = None
    user_id: StrictStr | None = Field(
        None, description="The submitting member; taken from the token with API_AUTH=supabase-jwt."
    )
    reference_image: StrictStr | None = None
    quantity: StrictInt | None = None
    original_production_id: StrictStr | None = None
    aspect_ratio: StrictStr | None = None


@dataclass(frozen=True)
class ModifySubmission:
    """A submission that passed every check; `user_id` is the member who submits (and pays)."""

    image_url: str
    mask_data_url: str
    prompt: str
    attach_id: int
    user_id: str
    reference_image: str | None
    quantity: int
    original_production_id: str
    aspect_ratio: str

    def job_input_data(self) -> dict[str, Any]:
        """The legacy modify keys (DOMAIN.md 4.6), as the Go endpoint stored them."""
        return {
            "originalImageUrl": self.image_url,
            "originalAttachId": self.attach_id,
            "originalProductionId": self.original_production_id,
            "maskDataUrl": self.mask_data_url,
            "prompt": self.prompt,
            "referenceImageDataUrl": self.reference_image,
            "quantity": self.quantity,
            "aspect-ratio": self.aspect_ratio,
            "userId": self.user_id,
            "quelMemberId": self.user_id,
        }

    def production_name(self, now: datetime) -> str:
        if not self.prompt:
            return f"Modify - {now:%Y-%m-%d %H:%M}"
        if len(self.prompt) > PRODUCTION_NAME_PROMPT_CHARS:
            return f"Modify - {self.prompt[: PRODUCTION_NAME_PROMPT_CHARS - 3]}..."
        return f"Modify - {self.prompt}"


@dataclass(frozen=True)
class SubmittedJob:
    job_id: str
    production_id: str
    total_images: int


async def submit_modify_job(
    submission: ModifySubmission,
    *,
    store: ApiStore,
    jobs: JobStore,
    client: Client,
    redis_client: redis.Redis,
    price: int,
    task_queue: str,
    queue: str,
    priority: int,
) -> SubmittedJob:
    """Prepays and stores the job, then starts its workflow (workflow id = job id). The job is paid
    for once committed, so a start that fails puts the id on the producer's queue instead: the bridge
    starts it when Temporal (or the database, for the summary) is back."""
    order = ModifyOrder(
        member_id=submission.user_id,
        attach_id=submission.attach_id,
        images=submission.quantity,
        production_name=submission.production_name(datetime.now(UTC)),
        prompt=submission.prompt,
        job_input_data=submission.job_input_data(),
    )
    prepaid = await store.submit_modify(order, price=price)
    try:
        headline = await jobs.headline(prepaid.job_id)
        await start_job_workflow(client, prepaid.job_id, task_queue=task_queue, headline=headline, priority=priority)
    except (RPCError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
        await push_like_the_producer(redis_client, queue, prepaid.job_id)
    return SubmittedJob(prepaid.job_id, prepaid.production_id, submission.quantity)


def check_submission(request: ModifyRequest, *, storage_base_url: str) -> ModifySubmission:
    """The submission, or `InvalidSubmission` for the first problem found (the Go checks come first)."""
    missing = [
        name
        for name, value in (
            ("imageUrl", request.image_url),
            ("maskDataUrl", request.mask_data_url),
            ("attachId", request.attach_id),
            ("userId", request.user_id),
        )
        if not value
    ]
    if missing:
        raise InvalidSubmission(f"Missing required fields: {', '.join(missing)}")
    assert request.image_url and request.mask_data_url and request.attach_id and request.user_id
    quantity = request.quantity or 0
    if not 1 <= quantity <= MAX_MODIFY_QUANTITY:
        raise InvalidSubmission(f"Quantity must be between 1 and {MAX_MODIFY_QUANTITY}")
    if request.attach_id < 0:
        raise InvalidSubmission(f"attachId must be a positive attachment id, got {request.attach_id}")
    if not is_job_id(request.user_id):
        raise InvalidSubmission(f"userId must be a member id (a UUID), got {describe(request.user_id)}")
    aspect_ratio = (request.aspect_ratio or "").strip() or DEFAULT_ASPECT_RATIO
    if aspect_ratio not in ASPECT_RATIOS:
        raise InvalidSubmission(f"aspectRatio {describe(aspect_ratio)} is not one of {', '.join(ASPECT_RATIOS)}")
    prompt = (request.prompt or "").strip()
    if len(prompt) > MAX_TEXT_CHARS:
        raise InvalidSubmission(f"prompt has {len(prompt)} characters; at most {MAX_TEXT_CHARS} are allowed")
    _check_image_url(request.image_url, storage_base_url)
    _check_mask(request.mask_data_url)
    reference = request.reference_image or None
    if reference is not None:
        _check_reference(reference)
    return ModifySubmission(
        image_url=request.image_url,
        mask_data_url=request.mask_data_url,
        prompt=prompt,
        attach_id=request.attach_id,
        user_id=request.user_id,
        reference_image=reference,
        quantity=quantity,
        original_production_id=(request.original_production_id or "").strip(),
        aspect_ratio=aspect_ratio,
    )


def _check_image_url(url: str, storage_base_url: str) -> None:
    if not url.startswith(storage_base_url):
        raise InvalidSubmission(f"imageUrl {describe(url)} is not in our bucket: it must start with {storage_base_url}")
    try:
        validate_storage_path(url.removeprefix(storage_base_url).split("?", 1)[0])
    except UnusablePath as error:
        raise InvalidSubmission(f"imageUrl: {error}") from None


def _image_bytes(value: str, field: str) -> bytes:
    if not value.startswith("data:"):
        raise InvalidSubmission(f"{field} must be a data URL (data:image/...;base64,...)")
    try:
        return decode_data_url(value, field)
    except InvalidJobInput as error:
        raise InvalidSubmission(str(error).removeprefix("job_input_data.")) from None


def _check_mask(value: str) -> None:
    if not value.startswith("data:image/png;base64,"):
        raise InvalidSubmission("maskDataUrl must be a PNG data URL (data:image/png;base64,...)")
    if sniff_mime(_image_bytes(value, "maskDataUrl")) != PNG:
        raise InvalidSubmission("maskDataUrl does not hold a PNG image")


def _check_reference(value: str) -> None:
    if sniff_mime(_image_bytes(value, "referenceImage")) is None:
        raise InvalidSubmission("referenceImage does not hold a PNG, JPEG, WebP or GIF image")
