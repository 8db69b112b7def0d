"""Job ids are UUIDs: the workflow id, the Redis value and the row key are the same string, in
one spelling (lower case, hyphenated), so `6F0B...` and `6f0b...` never become two runs of one job."""

from __future__ import annotations

import uuid


def is_job_id(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def canonical_job_id(value: str) -> str:
    """The one spelling of a job id; a value that is no UUID is returned as it is, for the
    caller to refuse with its own words."""
    try:
        return str(uuid.UUID(value.strip()))
    except ValueError:
        return value
