"""A job the Go worker left behind: `processing`, some images made and charged, then the worker died."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import asyncpg

from domain.credits import API_PROVIDER, LEDGER_TYPE
from tests.support.seed import MEMBER_ID, ORG_ID, fixture, seed_job

LONG_AGO = "2025-12-06T02:20:00+00:00"


@dataclass(frozen=True)
class ForeignJob:
    job_id: str
    production_id: str
    kept: list[int]
    """The Go worker's outputs, in `generated_attach_ids`."""


async def seed_foreign_job(db: asyncpg.Pool, *, total: int = 5, made: int = 2, price: int = 20) -> ForeignJob:
    """Fashion single_batch asking for `total` images, of which the Go worker made and charged
    `made` (its own file names, not ours) before dying; untouched since `LONG_AGO`."""
    data: dict[str, Any] = fixture("jobs/single_batch.fashion.json")["job_input_data"]
    combinations = [{"angle": "front", "shot": "full", "quantity": total - 2}, *data["combinations"][1:]]
    async with db.acquire() as connection, connection.transaction():
        kept = [
            await connection.fetchval(
                """INSERT INTO quel_attach (attach_original_name, attach_file_name, attach_file_path,
                     attach_file_size, attach_file_type, attach_directory, attach_storage_type)
                   VALUES ($1, $1, $2, 1000, 'image/webp', $2, 'supabase') RETURNING attach_id""",
                f"generated_17650000000{n}_go.webp",
                f"generated-images/user-{MEMBER_ID}/generated_17650000000{n}_go.webp",
            )
            for n in range(made)
        ]
        job_id = await seed_job(
            connection,
            "single_batch.fashion",
            job_input_data={**data, "combinations": combinations},
            total_images=total,
            job_status="processing",
            started_at=LONG_AGO,
            updated_at=LONG_AGO,
            completed_images=made,
            generated_attach_ids=kept,
        )
        production_id = await connection.fetchval(
            "SELECT production_id::text FROM quel_production_jobs WHERE job_id = $1", job_id
        )
        for attach_id in kept:
            await connection.execute(
                """INSERT INTO quel_credits (user_id, transaction_type, amount, balance_after, description,
                     attach_idx, production_idx, org_id, used_by_member_id, api_provider)
                   VALUES ($1, $2, $3, 0, 'Image Generation', $4, $5, $6, $1, $7)""",
                uuid.UUID(MEMBER_ID),
                LEDGER_TYPE,
                -price,
                attach_id,
                uuid.UUID(production_id),
                uuid.UUID(ORG_ID),
                API_PROVIDER,
            )
    return ForeignJob(job_id, production_id, kept)


@dataclass(frozen=True)
class JobCounts:
    """What the adoption must leave exactly right."""

    status: str
    completed_images: int
    generated_attach_ids: list[int]
    production_attach_ids: list[int]
    our_outputs: int
    """`quel_attach` rows this project made for the job (through `quel_temporal_outputs`)."""
    deducts: int
    """`DEDUCT` ledger rows of the job's production, the Go worker's included."""
    updated_at: Any


async def job_counts(db: asyncpg.Pool, job: ForeignJob) -> JobCounts:
    row = await db.fetchrow(
        """SELECT job.job_status::text, job.completed_images, job.generated_attach_ids, job.updated_at,
                  production.attach_ids AS production_attach_ids
           FROM quel_production_jobs AS job JOIN quel_production_photo AS production USING (production_id)
           WHERE job.job_id = $1""",
        job.job_id,
    )
    assert row is not None
    outputs = await db.fetchval(
        """SELECT count(*) FROM quel_temporal_outputs AS output JOIN quel_attach USING (attach_id)
           WHERE output.job_id = $1""",
        job.job_id,
    )
    deducts = await db.fetchval(
        "SELECT count(*) FROM quel_credits WHERE production_idx = $1 AND transaction_type = $2",
        job.production_id,
        LEDGER_TYPE,
    )
    return JobCounts(
        status=row["job_status"],
        completed_images=row["completed_images"],
        generated_attach_ids=list(row["generated_attach_ids"]),
        production_attach_ids=list(row["production_attach_ids"]),
        our_outputs=int(outputs),
        deducts=int(deducts),
        updated_at=row["updated_at"],
    )


def assert_adopted(counts: JobCounts, job: ForeignJob, *, total: int = 5) -> None:
    """D14: the Go worker's images kept, exactly the missing ones made and charged once each."""
    made = len(job.kept)
    assert counts.status == "completed"
    assert counts.completed_images == total
    assert counts.our_outputs == total - made
    assert counts.deducts == total
    ids = counts.generated_attach_ids
    assert len(ids) == len(set(ids)) == total
    assert ids[:made] == job.kept
    production = [attach_id for attach_id in counts.production_attach_ids if attach_id in ids]
    assert sorted(production) == sorted(ids), "every id of the job once in the production's attach_ids"
