"""Failure types the workflow distinguishes. Activities raise them; the Temporal layer
maps them onto `ApplicationError` types by class name."""

from __future__ import annotations


class QuelError(Exception):
    """Base of every domain failure."""


class InvalidJobInput(QuelError):
    """`job_input_data` (or the row) cannot be run; the message says what and why."""


class InsufficientCredits(QuelError):
    """The payer cannot cover the job."""


class NoPayer(QuelError):
    """Neither an active organisation nor a member can pay for the job."""


class ObjectNotFound(QuelError):
    """A storage object does not exist."""


class GeneratorError(QuelError):
    """Base of image-generator failures."""


class GeneratorTransientError(GeneratorError):
    """429, 5xx, timeouts, connection errors: retry, honouring `retry_after` when known."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ImageRejected(GeneratorError):
    """This one image cannot be produced (400, 404, safety block, no image in the reply).

    `reason` is a short code used in the job's error summary, e.g. `SAFETY`."""

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class GeneratorAuthError(GeneratorError):
    """401/403: the key is bad, revoked or leaked; the whole job fails at once."""
