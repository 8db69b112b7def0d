"""How a job ends (DECISIONS D2): the final status and its error summary."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from enum import StrEnum


class JobStatus(StrEnum):
    """Values of `quel_production_jobs.job_status` the worker writes."""

    PENDING = "pending"
    """Inserted by the producer; not yet claimed."""
    PROCESSING = "processing"
    """Claimed by a workflow run."""
    COMPLETED = "completed"
    """At least one image produced (failures summarised in `error_message`)."""
    FAILED = "failed"
    """Nothing produced, or the job could not run at all."""
    USER_CANCELLED = "user_cancelled"
    """Cancelled by the user; what was produced before is kept."""


@dataclass(frozen=True)
class Outcome:
    status: JobStatus
    failed_images: int
    error_message: str | None


def decide_outcome(*, requested: int, produced: int, failure_reasons: list[str], cancelled: bool) -> Outcome:
    """`failure_reasons` holds one short code per image that failed (e.g. `SAFETY`)."""
    failed = len(failure_reasons)
    summary = summarise_failures(failure_reasons, requested) if failed else None
    if cancelled:
        return Outcome(JobStatus.USER_CANCELLED, failed, summary)
    if produced == 0:
        return Outcome(JobStatus.FAILED, failed, summary or "no image was produced")
    return Outcome(JobStatus.COMPLETED, failed, summary)


def summarise_failures(reasons: list[str], requested: int) -> str:
    counts = Counter(reasons)
    detail = ", ".join(f"{reason} ({count})" for reason, count in sorted(counts.items()))
    return f"{len(reasons)} of {requested} images failed: {detail}"
