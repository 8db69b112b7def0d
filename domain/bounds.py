"""How much of a job is in flight and how long its retries go on (DECISIONS D15)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True)
class JobBounds:
    """Fixed for a run when its job starts (it travels in `start_job`'s result), so a replay
    sees the values the run was started with."""

    image_window: int = 16
    """Images of the job scheduled at once; the next starts as one ends. A cancel or a job-level
    failure then stops within one generator call, and at most this many calls reach Gemini."""
    database_budget: timedelta = timedelta(minutes=10)
    """How long one database step retries before the job fails with its reason."""
    image_budget: timedelta = timedelta(minutes=30)
    """How long one image retries (from when it is scheduled) before it fails with its reason."""
