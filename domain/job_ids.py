"""Job ids are UUIDs: the workflow id, the Redis value and the row key are the same string."""

from __future__ import annotations

import uuid


def is_job_id(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True
