"""Pending `quel_production_jobs` rows in bulk, as the producer leaves them before its LPUSH.

The bridge only reads whether a row exists, what names it and whether it is an in-paint job, so one
production and the columns the schema requires are enough; the workflow never runs on these rows.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

import asyncpg

from clients.postgres import Connection


async def insert_pending_jobs(
    database: asyncpg.Pool | Connection, job_ids: Iterable[str], *, job_input_data: dict[str, object] | None = None
) -> None:
    production_id = uuid.uuid4()
    await database.execute("INSERT INTO quel_production_photo (production_id) VALUES ($1)", production_id)
    await database.execute(
        """INSERT INTO quel_production_jobs (job_id, production_id, job_type, batch_index, total_images, job_input_data)
           SELECT id, $2, 'single_batch', 0, 1, $3::jsonb FROM unnest($1::uuid[]) AS id""",
        [uuid.UUID(job_id) for job_id in job_ids],
        production_id,
        job_input_data or {},
    )


def new_job_ids(count: int) -> list[str]:
    return [str(uuid.uuid4()) for _ in range(count)]
