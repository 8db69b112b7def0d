"""One place where domain failures become Temporal `ApplicationError`s.

Job-level and per-image failures are non-retryable; transient generator failures are
retried by Temporal, after the server-suggested delay when there is one.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import asyncpg
from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.contracts import FailureType
from domain.errors import (
    GeneratorAuthError,
    GeneratorTransientError,
    ImageRejected,
    InsufficientCredits,
    InvalidJobInput,
    NoPayer,
)

_NON_RETRYABLE = {
    InvalidJobInput: FailureType.INVALID_INPUT,
    InsufficientCredits: FailureType.INSUFFICIENT_CREDITS,
    NoPayer: FailureType.NO_PAYER,
    GeneratorAuthError: FailureType.GENERATOR_AUTH,
}


@contextmanager
def application_errors() -> Iterator[None]:
    try:
        yield
    except ImageRejected as error:
        raise ApplicationError(str(error), error.reason, type=FailureType.IMAGE_REJECTED, non_retryable=True) from error
    except GeneratorTransientError as error:
        delay = timedelta(seconds=error.retry_after) if error.retry_after else None
        raise ApplicationError(str(error), type=type(error).__name__, next_retry_delay=delay) from error
    except tuple(_NON_RETRYABLE) as error:
        raise ApplicationError(str(error), type=_NON_RETRYABLE[type(error)], non_retryable=True) from error


@contextmanager
def database_errors() -> Iterator[None]:
    """As `application_errors`, for the steps against our database, bucket and Redis. A write the
    database refuses (a bad value, a broken constraint) fails at once: no retry can change it.
    Anything else is retried, until the step's time budget (its schedule-to-close timeout, D15)
    is spent: then it fails with the last error as its reason. The check is made here because
    a local activity's retries inside the worker do not stop at that timeout."""
    try:
        with application_errors():
            yield
    except ApplicationError:
        raise
    except (asyncpg.DataError, asyncpg.IntegrityConstraintViolationError) as error:
        raise ApplicationError(
            f"the database refused it: {error}", type=FailureType.DATABASE_REFUSED, non_retryable=True
        ) from error
    except Exception as error:
        info = activity.info()
        budget = info.schedule_to_close_timeout
        if budget and datetime.now(UTC) - info.scheduled_time >= budget:
            raise ApplicationError(
                f"still failing after {_minutes(budget)}: {error}", type=FailureType.OUT_OF_TIME, non_retryable=True
            ) from error
        raise


def _minutes(budget: timedelta) -> str:
    seconds = budget.total_seconds()
    return f"{seconds / 60:g} minutes" if seconds >= 60 else f"{seconds:g} s"


def job_cancelled(job_id: str) -> ApplicationError:
    return ApplicationError(
        f"job {job_id} was cancelled (legacy Redis flag)",
        type=FailureType.JOB_CANCELLED,
        non_retryable=True,
    )
