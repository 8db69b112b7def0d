"""Arguments and results of the activities: small, typed, free of image bytes.

The workflow imports this module, so it holds plain data only.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from domain.bounds import JobBounds
from domain.credits import Payer
from domain.outcome import Outcome
from domain.plan import Category, JobKind, JobPlan


class FailureType:
    """`ApplicationError.type` values the workflow branches on."""

    INVALID_INPUT = "InvalidJobInput"
    INSUFFICIENT_CREDITS = "InsufficientCredits"
    NO_PAYER = "NoPayer"
    IMAGE_REJECTED = "ImageRejected"
    GENERATOR_AUTH = "GeneratorAuthError"
    JOB_CANCELLED = "JobCancelled"
    JOB_FAILED = "JobFailed"
    DATABASE_REFUSED = "DatabaseRefused"
    """The database refused a write (a value or constraint it does not accept): retrying cannot help."""
    OUT_OF_TIME = "OutOfTime"
    """A step kept failing until its time budget (D15) ran out."""
    PRODUCTION_NOT_UPDATED = "ProductionNotUpdated"
    """The job row is final, but its production row could not take the status."""

    JOB_LEVEL = (INVALID_INPUT, INSUFFICIENT_CREDITS, NO_PAYER)


class ActivityName:
    """The workflow schedules activities by these names, so it never imports the modules that
    implement them (and the clients those hold)."""

    START_JOB = "start_job"
    RESOLVE_INPUTS = "resolve_inputs"
    PREPARE_MODIFY_INPUTS = "prepare_modify_inputs"
    RECORD_OUTPUT = "record_output"
    REQUEST_CANCEL = "request_cancel"
    FINISH_JOB = "finish_job"
    GENERATE_IMAGE = "generate_image"


@dataclass(frozen=True)
class StartedJob:
    """Result of `start_job`: either a runnable job or the reason it is left untouched."""

    job_id: str
    skipped_reason: str | None = None
    plan: JobPlan | None = None
    payer: Payer | None = None
    """None for prepaid (modify) jobs."""
    owner: str | None = None
    """Member whose folder the outputs go to."""
    job_type: str = ""
    production_path: str = ""
    org_id: str = ""
    member_id: str = ""
    price: int = 0
    """Credits per produced image, fixed when the job starts."""
    image_task_queue: str = ""
    priority: int | None = None
    """Temporal priority key of the job's images (D13); None in runs started before it was set."""
    failure: str | None = None
    """Why the claimed job cannot run (invalid input, no payer, not enough credits)."""
    failure_type: str | None = None
    kept_attach_ids: list[int] = field(default_factory=list)
    """Adopted job (D14): images another worker made; they count as produced and `plan`
    holds only the rest."""
    bounds: JobBounds = field(default_factory=JobBounds)


@dataclass(frozen=True)
class ResolveInputsRequest:
    job_id: str
    attach_ids: list[int]


@dataclass(frozen=True)
class ResolvedInput:
    attach_id: int
    path: str


@dataclass(frozen=True)
class ResolvedInputs:
    inputs: list[ResolvedInput]
    unavailable: dict[int, str] = field(default_factory=dict)
    """attach id -> why it cannot be used (no row, no path); such inputs are skipped."""


@dataclass(frozen=True)
class ReferenceInput:
    attach_id: int
    type: str
    """Legacy type tag; for in-paint jobs `original`, `mask` or `reference`."""
    path: str


@dataclass(frozen=True)
class GenerateImageRequest:
    job_id: str
    stage: int
    combo: int
    index: int
    image_number: int
    category: Category
    kind: JobKind
    references: list[ReferenceInput]
    caller_prompt: str
    aspect_ratio: str
    output_key: str
    angle: str | None = None
    shot: str | None = None
    camera_angle: str | None = None
    shot_type: str | None = None


@dataclass(frozen=True)
class GeneratedOutput:
    output_key: str
    size: int
    mime: str
    missing_references: list[int] = field(default_factory=list)
    """References that could not be downloaded and were left out of the request."""


@dataclass(frozen=True)
class RecordOutputRequest:
    job_id: str
    stage: int
    combo: int
    index: int
    output_key: str
    size: int
    mime: str
    payer: Payer | None
    price: int
    link_to_production: bool = False


@dataclass(frozen=True)
class FinishJobRequest:
    job_id: str
    outcome: Outcome
    staged_inputs: bool = False
    """An in-paint job: the inputs `prepare_modify_inputs` staged in the bucket go once the row is final."""
    claim_unknown: bool = False
    """The run's start step did not finish, so it does not know whether it claimed the row: the row
    is written only if it is still `pending` or claimed by this workflow, never another worker's (D14)."""
