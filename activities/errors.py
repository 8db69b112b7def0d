"""One place where domain failures become Temporal `ApplicationError`s.

Job-level and per-image failures are non-retryable; transient generator failures are
retried by Temporal, after the server-suggested delay when there is one.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

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


def job_cancelled(job_id: str) -> ApplicationError:
    return ApplicationError(
        f"job {job_id} was cancelled (legacy Redis flag)",
        type=FailureType.JOB_CANCELLED,
        non_retryable=True,
    )
