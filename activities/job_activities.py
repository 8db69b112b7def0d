"""Database-side activities of a job, on the main task queue."""

from __future__ import annotations

import asyncio
from dataclasses import replace

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.contracts import (
    ActivityName,
    FailureType,
    FinishJobRequest,
    RecordOutputRequest,
    ReferenceInput,
    ResolvedInput,
    ResolvedInputs,
    ResolveInputsRequest,
    StartedJob,
)
from activities.errors import database_errors
from activities.telemetry import count_credits, log_event
from clients.cancel_flags import CancelFlags
from clients.job_store import JobStore, OutputRecord
from clients.storage import ObjectStorage
from clients.storage_paths import NoFilePath, UnusablePath, resolve_attach_path, validate_storage_path
from domain.bounds import JobBounds
from domain.credits import require_balance
from domain.errors import InsufficientCredits, InvalidJobInput, NoPayer
from domain.job_ids import is_job_id
from domain.job_input import build_plan
from domain.modify_sources import modify_sources, storage_path_from_public_url
from domain.output_keys import OutputIdentity
from domain.ownership import remaining_plan
from domain.plan import Category, JobKind
from domain.priority import JobPriorities

MODIFY_INPUTS_PREFIX = "modify-inputs"
STAGED_CLEANUP_SECONDS = 5.0
"""How long the final step spends deleting an in-paint job's staged inputs; well inside its timeout."""


def staged_modify_inputs(job_id: str) -> tuple[str, str]:
    """Where an in-paint job's inline mask and reference are staged in the bucket."""
    folder = f"{MODIFY_INPUTS_PREFIX}/{job_id}"
    return f"{folder}/mask.png", f"{folder}/reference"


class JobActivities:
    def __init__(
        self,
        store: JobStore,
        storage: ObjectStorage,
        cancel_flags: CancelFlags,
        *,
        price: int,
        image_task_queue: str,
        storage_host: str | None,
        priorities: JobPriorities,
        bounds: JobBounds,
    ) -> None:
        self._store = store
        self._storage = storage
        self._cancel_flags = cancel_flags
        self._price = price
        self._image_task_queue = image_task_queue
        self._storage_host = storage_host
        self._priorities = priorities
        self._bounds = bounds

    @activity.defn(name=ActivityName.START_JOB)
    async def start_job(self, job_id: str) -> StartedJob:
        """Claims the row (D1, D14), plans it (D5), picks the payer and checks the balance (D3).
        An adopted job is planned without the images the other worker made (they are kept).

        A job that cannot run comes back with `failure` set (not as an error), so the workflow
        still tags it with its search attributes before failing it."""
        with database_errors():
            if not is_job_id(job_id):
                return StartedJob(job_id=job_id, skipped_reason=f"job id {job_id!r} is not a UUID")
            info = activity.info()
            owner = info.workflow_id or job_id
            claim = await self._store.claim(job_id, workflow_id=owner, run_id=info.workflow_run_id)
            if claim.row is None:
                return StartedJob(job_id=job_id, skipped_reason=claim.reason)
            row = claim.row
            tagged = StartedJob(
                job_id=job_id,
                job_type=row.job_type,
                production_path=Category.from_production_path(row.quel_production_path).value,
                org_id=row.org_id or "",
                member_id=row.quel_member_id or "",
            )
            kept = list(claim.kept_attach_ids)
            try:
                plan = remaining_plan(build_plan(row), len(kept))
                log_event(
                    "job received",
                    job_id=job_id,
                    job_type=plan.kind.value,
                    category=plan.category.value,
                    total_images=plan.total_images + len(kept),
                    kept_images=len(kept),
                    stages=len(plan.stages),
                )
                prepaid = plan.kind is JobKind.MODIFY
                payer = None if prepaid else await self._store.find_payer(row, plan.user_id)
                if payer is not None:
                    require_balance(payer, images=plan.total_images, price=self._price)
            except (InvalidJobInput, NoPayer, InsufficientCredits) as error:
                log_event("job refused", job_id=job_id, reason=str(error))
                return replace(tagged, failure=str(error), failure_type=type(error).__name__)
            return replace(
                tagged,
                job_type=plan.kind.value,
                member_id=row.quel_member_id or plan.user_id or "",
                plan=plan,
                payer=payer,
                owner=row.quel_member_id or plan.user_id,
                price=self._price,
                image_task_queue=self._image_task_queue,
                priority=self._priorities.key(interactive=prepaid),
                kept_attach_ids=kept,
                bounds=self._bounds,
            )

    @activity.defn(name=ActivityName.RESOLVE_INPUTS)
    async def resolve_inputs(self, request: ResolveInputsRequest) -> ResolvedInputs:
        """Finds each input's storage path; a refused path is invalid input (D5)."""
        with database_errors():
            rows = await self._store.attach_rows(sorted(set(request.attach_ids)))
            inputs: list[ResolvedInput] = []
            unavailable: dict[int, str] = {}
            for attach_id in request.attach_ids:
                row = rows.get(attach_id)
                if row is None:
                    unavailable[attach_id] = "no quel_attach row"
                    continue
                try:
                    inputs.append(
                        ResolvedInput(attach_id, resolve_attach_path(row.attach_file_path, row.attach_directory))
                    )
                except NoFilePath as error:
                    unavailable[attach_id] = str(error)
                except UnusablePath as error:
                    raise InvalidJobInput(f"attach {attach_id}: {error}") from None
            for attach_id, reason in unavailable.items():
                activity.logger.warning("input unavailable", extra={"attach_id": attach_id, "reason": reason})
            return ResolvedInputs(inputs=inputs, unavailable=unavailable)

    @activity.defn(name=ActivityName.PREPARE_MODIFY_INPUTS)
    async def prepare_modify_inputs(self, job_id: str) -> list[ReferenceInput]:
        """Stores the in-paint job's inline mask and reference under fixed keys, so the image
        activity reads them from storage like any other input and history stays small."""
        with database_errors():
            row = await self._store.load(job_id)
            if row is None:
                raise InvalidJobInput("job row not found")
            plan = build_plan(row)
            assert plan.modify is not None
            sources = modify_sources(row.job_input_data)
            original = await self._original_path(plan.modify.original_attach_id, plan.modify.original_image_url)
            inputs = [ReferenceInput(plan.modify.original_attach_id or 0, "original", original)]
            mask, reference = staged_modify_inputs(job_id)
            await self._storage.upload(mask, sources.mask, content_type="image/png")
            inputs.append(ReferenceInput(0, "mask", mask))
            if sources.reference is not None:
                await self._storage.upload(reference, sources.reference, content_type="application/octet-stream")
                inputs.append(ReferenceInput(0, "reference", reference))
            return inputs

    async def _original_path(self, attach_id: int | None, url: str) -> str:
        if attach_id is None:
            path = storage_path_from_public_url(url, bucket=self._storage.bucket, allowed_host=self._storage_host)
            try:
                return validate_storage_path(path)
            except UnusablePath as error:
                raise InvalidJobInput(f"original image URL: {error}") from None
        row = (await self._store.attach_rows([attach_id])).get(attach_id)
        if row is None:
            raise InvalidJobInput(f"original image attach {attach_id} has no quel_attach row")
        try:
            return resolve_attach_path(row.attach_file_path, row.attach_directory)
        except UnusablePath as error:
            raise InvalidJobInput(f"original image attach {attach_id}: {error}") from None

    @activity.defn(name=ActivityName.RECORD_OUTPUT)
    async def record_output(self, request: RecordOutputRequest) -> int:
        """Attach row, charge and progress for one output; once per output identity."""
        with database_errors():
            recorded = await self._store.record_output(
                OutputRecord(
                    identity=OutputIdentity(request.job_id, request.stage, request.combo, request.index),
                    output_key=request.output_key,
                    file_size=request.size,
                    mime=request.mime,
                    payer=request.payer,
                    price=request.price,
                    link_to_production=request.link_to_production,
                )
            )
        where = {"job_id": request.job_id, "stage": request.stage, "combo": request.combo, "image": request.index}
        log_event("attach created", attach_id=recorded.attach_id, path=request.output_key, **where)
        if recorded.charged and request.payer is not None:
            count_credits(request.price, request.payer.kind.value)
        log_event("progress", completed_images=recorded.completed_images, **where)
        return recorded.attach_id

    @activity.defn(name=ActivityName.REQUEST_CANCEL)
    async def request_cancel(self, job_id: str) -> None:
        """Sets the legacy flag that every image activity of the job checks (D8)."""
        with database_errors():
            await self._cancel_flags.set(job_id)

    async def _delete_staged_inputs(self, job_id: str) -> None:
        """Removes what `prepare_modify_inputs` staged (a re-run stages it again from the row). A
        missing object counts as deleted, so a repeated finish is harmless. Best effort within a
        few seconds: objects left behind change nothing in how the job ended, and the step must
        stay well inside the finish's own timeout."""
        try:
            async with asyncio.timeout(STAGED_CLEANUP_SECONDS):
                for path in staged_modify_inputs(job_id):
                    await self._storage.delete(path)
        except Exception as error:
            activity.logger.warning(
                "in-paint inputs left in storage",
                extra={"job_id": job_id, "reason": f"{type(error).__name__}: {error}"},
            )

    @activity.defn(name=ActivityName.FINISH_JOB)
    async def finish_job(self, request: FinishJobRequest) -> None:
        """The job row first, on its own: it is what the front end reads and what makes the job final.
        The production row last and best-effort, as the legacy worker wrote it: when the database
        refuses it (DOMAIN 3.1: an enum without `user_cancelled`), the job stays final and the
        failure says so; the workflow then fails, visibly, with that reason."""
        with database_errors():
            owner = activity.info().workflow_id if request.claim_unknown else None
            await self._store.finish_job_row(request.job_id, request.outcome, only_if_claimed_by=owner)
            # After the row is final, so the refund counts what the job really produced (D12).
            refund = await self._store.refund_unproduced(request.job_id)
        if refund is not None:
            log_event(
                "refund",
                job_id=request.job_id,
                images=refund.images,
                credits=refund.amount,
                payer=refund.payer.kind.value,
            )
        if request.staged_inputs:
            # Before the production row, which may refuse its status: the job row is final either way.
            await self._delete_staged_inputs(request.job_id)
        try:
            with database_errors():
                await self._store.finish_production(request.job_id, request.outcome.status)
        except ApplicationError as error:
            raise ApplicationError(
                f"the job is {request.outcome.status.value}, but its production row was not updated: {error.message}",
                type=FailureType.PRODUCTION_NOT_UPDATED,
                non_retryable=True,
            ) from error
