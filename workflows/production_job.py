"""`ProductionJobWorkflow`: one run per job id, the durable replacement of the legacy job loop.

Claim and plan the job, then run its stages strictly one after another, the images of a
stage in parallel on the image task queue, at most a window of them at once (D15). Each
produced image is recorded (attach row, charge, progress) in one idempotent activity. The job
row always ends in a final status; when even that cannot be written, the run fails visibly.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import TypeVar, cast

from temporalio import workflow
from temporalio.common import Priority, RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, CancelledError, RetryState, TimeoutError

with workflow.unsafe.imports_passed_through():
    from activities.contracts import (
        ActivityName,
        FailureType,
        FinishJobRequest,
        GeneratedOutput,
        GenerateImageRequest,
        RecordOutputRequest,
        ReferenceInput,
        ResolvedInputs,
        ResolveInputsRequest,
        StartedJob,
    )
    from domain.bounds import JobBounds
    from domain.job_ids import canonical_job_id
    from domain.outcome import JobStatus, Outcome, decide_outcome
    from domain.output_keys import OutputIdentity
    from domain.plan import Category, JobKind, JobPlan, SlotPlan, StagePlan
    from workflows import search_attributes as sa
    from workflows import summaries
    from workflows.progress import JobProgress, JobResult

DATABASE_STEPS_LOCAL = "database-steps-local"
"""Patch: database steps run as local activities (one marker event instead of an activity's
three, and no extra workflow task); runs started before it replay their ordinary activities."""

# Short: a statement that takes longer is stuck, and a crashed worker's task is retried sooner.
DATABASE_TIMEOUT = timedelta(seconds=15)
DATABASE_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    maximum_interval=timedelta(seconds=30),
    non_retryable_error_types=list(FailureType.JOB_LEVEL),
)
# Above the storage client's 30 s per request: staging an in-paint job's inputs uploads two objects.
# It runs as a local activity like the database steps (one marker event, no extra workflow task),
# only with this longer timeout, so a slow upload is not cut off after a database step's 15 s.
STORAGE_TIMEOUT = timedelta(minutes=2)
GENERATE_TIMEOUT = timedelta(minutes=5)
GENERATE_HEARTBEAT_TIMEOUT = timedelta(seconds=10)
GENERATE_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=60),
    non_retryable_error_types=[
        FailureType.IMAGE_REJECTED,
        FailureType.GENERATOR_AUTH,
        FailureType.JOB_CANCELLED,
        FailureType.INVALID_INPUT,
    ],
)

# The legacy `mergedImageAttachId` stands in for the clothing-position bucket.
_MERGED_INPUT_TYPE = {
    Category.FASHION: "top",
    Category.BEAUTY: "product",
    Category.EATS: "ingredient",
    Category.CINEMA: "top",
    Category.CARTOON: "top",
}

Returned = TypeVar("Returned")


class ImageTaskError(Exception):
    """An image's task raised what it should have handled: a bug. Raised from the workflow (not
    an `ApplicationError`), it fails the workflow task instead of the job: the UI shows it, and
    Temporal retries the task until a fixed worker runs it."""


@workflow.defn
class ProductionJobWorkflow:
    @workflow.init
    def __init__(self, job_id: str) -> None:
        self._progress = JobProgress(job_id=canonical_job_id(job_id))
        self._failure_reasons: list[str] = []
        self._cancel_seen = False
        """The job stops starting images: Temporal cancel or the legacy flag."""
        self._cancel_requested = False
        """A Temporal cancel arrived: the run ends as cancelled once the row is final."""
        self._fatal_error: str | None = None
        self._fatal_type = FailureType.JOB_FAILED
        self._category = ""
        self._slot_tasks: list[asyncio.Task[None]] = []
        self._database_steps_local = False
        self._bounds = JobBounds()

    @workflow.query
    def progress(self) -> JobProgress:
        return self._progress

    @workflow.run
    async def run(self, job_id: str) -> JobResult:
        job_id = self._progress.job_id
        self._database_steps_local = workflow.patched(DATABASE_STEPS_LOCAL)
        try:
            started = await self._start(job_id)
        except asyncio.CancelledError:
            await self._finish(Outcome(JobStatus.USER_CANCELLED, 0, None), claim_unknown=True)
            raise
        except ApplicationError as failure:
            # The claim may have been made before the step gave up: the row must not stay `processing`.
            await self._finish(Outcome(JobStatus.FAILED, 0, failure.message), claim_unknown=True)
            raise
        self._bounds = started.bounds
        if started.skipped_reason is not None:
            self._set_status("skipped", error=started.skipped_reason)
            workflow.logger.info("job left untouched", extra={"reason": started.skipped_reason})
            return JobResult(job_id=job_id, status="skipped", error_message=started.skipped_reason)
        self._tag(started)
        if started.failure is not None:
            await self._finish(Outcome(JobStatus.FAILED, 0, started.failure))
            raise ApplicationError(started.failure, type=started.failure_type, non_retryable=True)
        assert started.plan is not None
        self._begin(started.plan, started.kept_attach_ids)
        try:
            for stage in started.plan.stages:
                if self._stopping:
                    break
                await self._run_stage(started, stage)
        except ApplicationError as failure:
            await self._drain_slots()
            self._fail_job(failure)
        except asyncio.CancelledError:
            await self._stop_for_cancel()
        outcome = self._outcome()
        staged = started.plan.kind is JobKind.MODIFY
        try:
            await self._finish(outcome, staged_inputs=staged)
        except asyncio.CancelledError:
            # The job was already over when the cancel came; finish it as it ended.
            await self._finish(outcome, staged_inputs=staged)
        if self._cancel_requested:
            raise asyncio.CancelledError()
        if outcome.status is JobStatus.FAILED:
            raise ApplicationError(outcome.error_message or "job failed", type=self._fatal_type, non_retryable=True)
        return self._result()

    async def _start(self, job_id: str) -> StartedJob:
        return await self._database_step(ActivityName.START_JOB, job_id, StartedJob, summary=summaries.CLAIM)

    async def _database_step(
        self,
        step: str,
        argument: object,
        returns: type[Returned],
        *,
        summary: str,
        timeout: timedelta = DATABASE_TIMEOUT,
    ) -> Returned:
        """A step against our own database or bucket: short, idempotent, on this worker, retried
        within the database budget (D15). Whatever ends it unfinished comes out as the
        `ApplicationError` that ends the job, with its reason. `summary` names it in the UI's timeline."""
        execute = workflow.execute_local_activity if self._database_steps_local else workflow.execute_activity
        try:
            result = await execute(
                step,
                argument,
                result_type=returns,
                start_to_close_timeout=timeout,
                schedule_to_close_timeout=self._bounds.database_budget,
                retry_policy=DATABASE_RETRY,
                summary=summary,
            )
        except (ActivityError, ApplicationError) as error:
            raise _step_failure(step, error) from error
        return cast(Returned, result)

    def _tag(self, started: StartedJob) -> None:
        """Search attributes (D9), so every claimed job can be found, the failed ones too."""
        attributes = [
            sa.JOB_TYPE.value_set(started.job_type),
            sa.PRODUCTION_PATH.value_set(started.production_path),
        ]
        attributes += [sa.ORG_ID.value_set(started.org_id)] if started.org_id else []
        attributes += [sa.MEMBER_ID.value_set(started.member_id)] if started.member_id else []
        workflow.upsert_search_attributes(attributes)
        self._set_status(JobStatus.PROCESSING.value)

    def _begin(self, plan: JobPlan, kept_attach_ids: list[int]) -> None:
        """Progress starts from the images an adopted job already had (D14)."""
        self._category = plan.category.value
        self._progress.total_images = plan.total_images + len(kept_attach_ids)
        self._progress.completed_images = len(kept_attach_ids)
        self._progress.attach_ids = list(kept_attach_ids)
        self._progress.stage_count = len(plan.stages)
        self._update_details()

    @property
    def _stopping(self) -> bool:
        return self._cancel_seen or self._fatal_error is not None

    async def _run_stage(self, started: StartedJob, stage: StagePlan) -> None:
        assert started.plan is not None
        self._progress.current_stage = stage.index
        self._update_details()
        where = {"job_id": self._progress.job_id, "stage": stage.index, "images": len(stage.slots)}
        workflow.logger.info("stage start", extra={"event_name": "stage start", **where})
        if started.plan.kind is JobKind.MODIFY:
            references = await self._prepare_modify_inputs()
            slot_inputs: dict[int | None, list[ReferenceInput]] = {}
        else:
            references, slot_inputs = await self._resolve_stage_inputs(started.plan, stage)
        # A job of at most a window's images schedules them all at once, in order, as before the window.
        window = asyncio.Semaphore(self._bounds.image_window)
        self._slot_tasks = [
            asyncio.create_task(
                self._run_slot(started, stage, slot, number, slot_inputs.get(slot.input_attach_id, references), window)
            )
            for number, slot in enumerate(stage.slots, start=stage.first_number)
        ]
        await self._drain_slots()
        done = {"completed_images": self._progress.completed_images, "failed_images": self._progress.failed_images}
        workflow.logger.info("stage completed", extra={"event_name": "stage completed", **where, **done})

    async def _prepare_modify_inputs(self) -> list[ReferenceInput]:
        return await self._database_step(
            ActivityName.PREPARE_MODIFY_INPUTS,
            self._progress.job_id,
            list[ReferenceInput],
            summary=summaries.PREPARE_MODIFY,
            timeout=STORAGE_TIMEOUT,
        )

    async def _resolve_stage_inputs(
        self, plan: JobPlan, stage: StagePlan
    ) -> tuple[list[ReferenceInput], dict[int | None, list[ReferenceInput]]]:
        """The stage's shared references, and for portraits each slot's own merged input."""
        wanted = [ref.attach_id for ref in stage.inputs]
        wanted += [slot.input_attach_id for slot in stage.slots if slot.input_attach_id is not None]
        if not stage.inputs and stage.legacy_merged_attach_id is not None:
            wanted.append(stage.legacy_merged_attach_id)
        if not wanted:
            return [], {}
        resolved = await self._database_step(
            ActivityName.RESOLVE_INPUTS,
            ResolveInputsRequest(job_id=self._progress.job_id, attach_ids=wanted),
            ResolvedInputs,
            summary=summaries.resolve_inputs(stage, len(plan.stages)),
        )
        paths = {item.attach_id: item.path for item in resolved.inputs}
        references = [
            ReferenceInput(ref.attach_id, ref.type, paths[ref.attach_id])
            for ref in stage.inputs
            if ref.attach_id in paths
        ]
        merged = stage.legacy_merged_attach_id
        if not stage.inputs and merged is not None and merged in paths:
            references = [ReferenceInput(merged, _MERGED_INPUT_TYPE[plan.category], paths[merged])]
        slot_inputs: dict[int | None, list[ReferenceInput]] = {}
        for slot in stage.slots:
            if slot.input_attach_id is not None:
                path = paths.get(slot.input_attach_id)
                slot_inputs[slot.input_attach_id] = [ReferenceInput(slot.input_attach_id, "", path)] if path else []
        return references, slot_inputs

    async def _run_slot(
        self,
        started: StartedJob,
        stage: StagePlan,
        slot: SlotPlan,
        number: int,
        references: list[ReferenceInput],
        window: asyncio.Semaphore,
    ) -> None:
        """One image, once the window has room for it; none starts once the job is stopping."""
        async with window:
            if not self._stopping:
                await self._make_image(started, stage, slot, number, references)

    async def _make_image(
        self,
        started: StartedJob,
        stage: StagePlan,
        slot: SlotPlan,
        number: int,
        references: list[ReferenceInput],
    ) -> None:
        assert started.plan is not None
        modify = started.plan.kind is JobKind.MODIFY
        identity = OutputIdentity(
            self._progress.job_id, stage.index, slot.combo, slot.index, extension="png" if modify else "webp"
        )
        request = GenerateImageRequest(
            job_id=identity.job_id,
            stage=stage.index,
            combo=slot.combo,
            index=slot.index,
            image_number=number,
            category=started.plan.category,
            kind=started.plan.kind,
            references=references,
            caller_prompt=slot.prompt_override or stage.prompt,
            aspect_ratio=stage.aspect_ratio,
            output_key=identity.storage_key(started.owner),
            angle=slot.angle,
            shot=slot.shot,
            camera_angle=stage.camera_angle,
            shot_type=stage.shot_type,
        )
        generation = workflow.execute_activity(
            ActivityName.GENERATE_IMAGE,
            request,
            result_type=GeneratedOutput,
            task_queue=started.image_task_queue,
            start_to_close_timeout=GENERATE_TIMEOUT,
            schedule_to_close_timeout=self._bounds.image_budget,
            heartbeat_timeout=GENERATE_HEARTBEAT_TIMEOUT,
            retry_policy=GENERATE_RETRY,
            priority=_image_priority(started),
            summary=summaries.generate_image(stage, len(started.plan.stages), slot, number),
        )
        try:
            output = await generation
        except ActivityError as error:
            self._image_failed(error)
            return
        record = RecordOutputRequest(
            job_id=identity.job_id,
            stage=identity.stage,
            combo=identity.combo,
            index=identity.index,
            output_key=output.output_key,
            size=output.size,
            mime=output.mime,
            payer=started.payer,
            price=started.price,
            link_to_production=modify,
        )
        try:
            attach_id = await self._database_step(
                ActivityName.RECORD_OUTPUT,
                record,
                int,
                summary=summaries.record_output(stage, len(started.plan.stages), number),
            )
        except ApplicationError as failure:
            self._fail_job(failure)
            return
        self._progress.completed_images += 1
        self._progress.attach_ids.append(attach_id)
        self._update_details()

    def _fail_job(self, failure: ApplicationError) -> None:
        if self._fatal_error is None:
            self._fatal_error, self._fatal_type = failure.message, failure.type or FailureType.JOB_FAILED

    def _image_failed(self, error: ActivityError) -> None:
        cause = error.cause
        if isinstance(cause, CancelledError):
            return
        if isinstance(cause, ApplicationError) and cause.type == FailureType.JOB_CANCELLED:
            self._cancel_seen = True
            return
        if isinstance(cause, ApplicationError) and cause.type == FailureType.GENERATOR_AUTH:
            # Images already scheduled fail just as fast; none is retried.
            self._fatal_error = self._fatal_error or f"image generator refused the credentials: {cause.message}"
            return
        if isinstance(cause, ApplicationError) and cause.type == FailureType.IMAGE_REJECTED:
            details = cause.details
            reason = str(details[0]) if details else "REJECTED"
        elif isinstance(cause, ApplicationError) and cause.type == FailureType.INVALID_INPUT:
            # Found while composing the request: a reference that is no image, an in-paint input missing.
            reason = "INVALID_REFERENCE"
        elif isinstance(cause, TimeoutError) or error.retry_state == RetryState.TIMEOUT:
            # Attempts are unlimited: only the image's budget (D15) ends them, with a timeout or with
            # the last failure when the next retry would start too late.
            reason = "OUT_OF_TIME"
        else:
            reason = "UNEXPECTED"
        detail = _last_failure(error)
        workflow.logger.warning("image failed", extra={"event_name": "image failed", "reason": reason, "error": detail})
        workflow.metric_meter().create_counter("quel_images_failed", "Images that could not be produced").add(
            1, {"category": self._category, "reason": reason}
        )
        self._failure_reasons.append(reason)
        self._progress.failed_images = len(self._failure_reasons)
        self._update_details()

    async def _stop_for_cancel(self) -> None:
        """A Temporal cancel has the effect of the legacy flag (D8): the flag is set, so images
        not yet started never call the generator and replies that arrive are discarded; the
        images already produced are recorded before the job ends."""
        self._cancel_seen = self._cancel_requested = True
        try:
            await self._database_step(
                ActivityName.REQUEST_CANCEL, self._progress.job_id, type(None), summary=summaries.REQUEST_CANCEL
            )
        except ApplicationError as failure:
            # Images already scheduled do not see a cancel without the flag: the job says why it failed.
            self._fail_job(failure)
        await self._drain_slots()

    async def _drain_slots(self) -> None:
        """Waits for every slot task without cancelling them (a recording in flight finishes), then
        reads each one's result: an error a task did not handle is a bug, and fails the workflow task."""
        pending = [task for task in self._slot_tasks if not task.done()]
        while pending:
            try:
                await workflow.wait(pending)
            except asyncio.CancelledError:
                await self._stop_for_cancel()
            pending = [task for task in pending if not task.done()]
        for task in self._slot_tasks:
            error = task.exception()
            if error is not None:
                raise ImageTaskError(f"an image's task failed: {error!r}") from error

    def _outcome(self) -> Outcome:
        produced = self._progress.completed_images
        if self._fatal_error is not None:
            failed = self._progress.total_images - produced
            return Outcome(JobStatus.FAILED, failed, self._fatal_error)
        return decide_outcome(
            requested=self._progress.total_images,
            produced=produced,
            failure_reasons=self._failure_reasons,
            cancelled=self._cancel_seen,
        )

    async def _finish(self, outcome: Outcome, *, staged_inputs: bool = False, claim_unknown: bool = False) -> None:
        """Writes the final status. When it cannot, the `ApplicationError` raised fails the run
        with the reason (the job row stays as it was, unless only the production row refused)."""
        try:
            await self._database_step(
                ActivityName.FINISH_JOB,
                FinishJobRequest(
                    job_id=self._progress.job_id,
                    outcome=outcome,
                    staged_inputs=staged_inputs,
                    claim_unknown=claim_unknown,
                ),
                type(None),
                summary=summaries.finish(outcome, self._progress.completed_images, self._progress.total_images),
            )
        except ApplicationError as failure:
            if failure.type == FailureType.PRODUCTION_NOT_UPDATED:
                self._finished(outcome)
            raise
        self._finished(outcome)

    def _finished(self, outcome: Outcome) -> None:
        self._progress.failed_images = outcome.failed_images
        self._set_status(outcome.status.value, error=outcome.error_message)

    def _set_status(self, status: str, *, error: str | None = None) -> None:
        self._progress.status = status
        self._progress.error_message = error
        if status != "skipped":
            workflow.upsert_search_attributes([sa.JOB_STATUS.value_set(status)])
        self._update_details()

    def _update_details(self) -> None:
        workflow.set_current_details(self._progress.summary())

    def _result(self) -> JobResult:
        return JobResult(
            job_id=self._progress.job_id,
            status=self._progress.status,
            completed_images=self._progress.completed_images,
            failed_images=self._progress.failed_images,
            attach_ids=list(self._progress.attach_ids),
            error_message=self._progress.error_message,
        )


def _image_priority(started: StartedJob) -> Priority:
    """Interactive jobs first, then in turn between payers (D13). A prepaid in-paint job has no
    payer: its member paid for it and takes their turn."""
    account = started.payer.account_id if started.payer else started.owner
    return Priority(priority_key=started.priority, fairness_key=account)


def _step_failure(step: str, error: ActivityError | ApplicationError) -> ApplicationError:
    """The failure that ends the job when a database step ends unfinished. An ordinary activity's
    error comes wrapped in an ActivityError; a local activity's arrives as the error it raised.
    Job-level failures keep their own words: the front end shows them."""
    cause = error.cause if isinstance(error, ActivityError) else error
    if isinstance(cause, ApplicationError) and cause.type in (
        *FailureType.JOB_LEVEL,
        FailureType.PRODUCTION_NOT_UPDATED,
    ):
        return cause
    if isinstance(cause, TimeoutError) or (
        isinstance(error, ActivityError) and error.retry_state == RetryState.TIMEOUT
    ):
        message = f"{step}: out of time: {_last_failure(error)}"
        return ApplicationError(message, type=FailureType.OUT_OF_TIME, non_retryable=True)
    if isinstance(cause, ApplicationError):
        return ApplicationError(
            f"{step}: {cause.message}", type=cause.type or FailureType.JOB_FAILED, non_retryable=True
        )
    return ApplicationError(f"{step}: {_last_failure(error)}", type=FailureType.JOB_FAILED, non_retryable=True)


def _last_failure(error: BaseException) -> str:
    """The innermost cause: what the last attempt said (a timeout's cause is the last attempt's failure)."""
    while (cause := getattr(error, "cause", None) or error.__cause__) is not None:
        error = cause
    return str(error)
