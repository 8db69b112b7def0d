"""The promises every fault case checks after the dust settles, in one place.

Whatever was killed, restarted or refused on the way, each job must end in the status
DECISIONS.md requires, and each produced image must have left exactly one storage object,
one `quel_attach` row (found through the port's `quel_temporal_outputs`), and, when the job
is paid, one `DEDUCT` ledger row; every balance must equal its start minus price x produced.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path

import asyncpg
from temporalio.client import Client, WorkflowExecutionStatus

from clients.postgres import Connection
from domain.credits import LEDGER_TYPE
from quel.settings import Settings
from tests.fakes.storage_server import FakeSupabaseStorage

FIXTURE_IMAGES = {
    "single_batch.fashion": 4,
    "single_batch.eats": 2,
    "simple_general.beauty": 2,
    "simple_portrait.fashion": 3,
    "pipeline_stage.cinema": 3,
    "modify": 2,
}
"""Images each fixture job asks for; all of them are produced when nothing refuses them."""

PREPAID = frozenset({"modify"})
"""Fixture jobs the submit step already paid for (D3): the worker charges nothing."""

Database = asyncpg.Pool | Connection
"""A pool, or one connection (to check a state that is rolled back afterwards)."""

_WORKFLOW_STATUS = {
    "completed": WorkflowExecutionStatus.COMPLETED,
    "failed": WorkflowExecutionStatus.FAILED,
}


@dataclass(frozen=True)
class Expected:
    status: str
    """Final `job_status`."""
    produced: int
    failed_images: int = 0
    paid: bool = True
    error_contains: str | None = None
    """A fragment the `error_message` must hold; None: no message for `completed`, any for `failed`."""


def fixture_completes(name: str) -> Expected:
    """Fixture job `name` with every image produced."""
    return Expected("completed", FIXTURE_IMAGES[name], paid=name not in PREPAID)


async def balances(db: Database) -> dict[str, int]:
    """Every member's and organisation's credit, by account id."""
    rows = await db.fetch(
        """SELECT quel_member_id::text AS account, coalesce(quel_member_credit, 0) AS credit FROM quel_member
           UNION ALL
           SELECT org_id::text, coalesce(org_credit, 0) FROM quel_organization"""
    )
    return {row["account"]: int(row["credit"]) for row in rows}


def fake_storage_keys(storage: FakeSupabaseStorage) -> set[str]:
    return {path for (_, path) in storage.objects}


def local_storage_keys(settings: Settings) -> set[str]:
    root = Path(settings.storage_dir) / settings.storage_bucket
    return {path.relative_to(root).as_posix() for path in root.rglob("*") if path.is_file()}


def _job_outputs(job_id: str, stored: Collection[str]) -> set[str]:
    """Objects stored for `job_id`'s outputs; in-paint inputs copied under `modify-inputs/` are not outputs."""
    return {key for key in stored if f"/{job_id}/" in key and not key.startswith("modify-inputs/")}


async def check_invariants(
    db: Database,
    *,
    jobs: Mapping[str, Expected],
    balances_before: Mapping[str, int],
    price: int,
    stored: Collection[str],
    client: Client | None = None,
) -> None:
    """Asserts every promise for `jobs` (job id -> what DECISIONS.md requires of it).

    `balances_before` is `balances()` taken before the jobs ran, and no other job may have
    been charged since. With `client`, each job's workflow must also be closed with the
    matching Temporal status.
    """
    charged: Counter[str] = Counter()
    for job_id, expected in jobs.items():
        payer, produced = await _check_job(db, job_id, expected, price=price, stored=stored)
        if expected.paid:
            charged[payer] += produced
        if client is not None:
            description = await client.get_workflow_handle(job_id).describe()
            assert description.status == _WORKFLOW_STATUS[expected.status], (job_id, description.status)
    after = await balances(db)
    assert after == {account: credit - price * charged[account] for account, credit in balances_before.items()}
    for account, count in charged.items():
        await _check_balance_chain(db, account, list(jobs), start=balances_before[account], price=price, count=count)


async def _check_job(
    db: Database, job_id: str, expected: Expected, *, price: int, stored: Collection[str]
) -> tuple[str, int]:
    """Checks one job; returns its payer's account id and the number of images it produced."""
    row = await db.fetchrow(
        """SELECT job_status::text, completed_at, completed_images, failed_images, error_message,
                  generated_attach_ids, production_id, coalesce(org_id, quel_member_id)::text AS payer
           FROM quel_production_jobs WHERE job_id = $1""",
        job_id,
    )
    assert row is not None, job_id
    where = f"job {job_id}"
    assert row["job_status"] == expected.status, (where, row["job_status"], row["error_message"])
    assert row["completed_at"] is not None, where
    assert row["failed_images"] == expected.failed_images, (where, row["failed_images"], row["error_message"])
    if expected.error_contains is not None:
        assert expected.error_contains in (row["error_message"] or ""), (where, row["error_message"])
    elif expected.status == "completed":
        assert row["error_message"] is None, (where, row["error_message"])
    else:
        assert row["error_message"], where

    ids: list[int] = row["generated_attach_ids"] or []
    assert row["completed_images"] == len(ids) == len(set(ids)) == expected.produced, (where, ids)

    outputs = await db.fetch("SELECT output_key, attach_id FROM quel_temporal_outputs WHERE job_id = $1", job_id)
    keys = {output["output_key"] for output in outputs}
    assert sorted(output["attach_id"] for output in outputs) == sorted(ids), (where, "outputs", outputs)
    attaches = await db.fetch(
        "SELECT attach_id, attach_file_path FROM quel_attach WHERE attach_file_path LIKE '%/' || $1 || '/%'", job_id
    )
    assert sorted((a["attach_id"], a["attach_file_path"]) for a in attaches) == sorted(
        (o["attach_id"], o["output_key"]) for o in outputs
    ), (where, "one attach row per output")
    assert _job_outputs(job_id, stored) == keys, (where, "one storage object per output")

    ledger = await db.fetch(
        "SELECT attach_idx, amount FROM quel_credits WHERE production_idx = $1 AND transaction_type = $2",
        row["production_id"],
        LEDGER_TYPE,
    )
    expected_ledger = sorted((attach_id, -price) for attach_id in ids) if expected.paid else []
    assert sorted((r["attach_idx"], r["amount"]) for r in ledger) == expected_ledger, (where, "one DEDUCT per image")

    production = await db.fetchrow(
        "SELECT production_status::text, attach_ids FROM quel_production_photo WHERE production_id = $1",
        row["production_id"],
    )
    assert production is not None, where
    assert production["production_status"] == expected.status, (where, production["production_status"])
    listed = Counter(production["attach_ids"] or [])
    assert all(listed[attach_id] == 1 for attach_id in ids), (where, "each new id listed once", listed)
    return row["payer"], len(ids)


async def _check_balance_chain(
    db: Database, account: str, job_ids: list[str], *, start: int, price: int, count: int
) -> None:
    """The ledger's `balance_after` values step down by exactly `price` from `start`: every
    decrement was atomic, none was lost and none applied twice."""
    after = await db.fetch(
        """SELECT c.balance_after FROM quel_credits c
           JOIN quel_production_jobs j ON j.production_id = c.production_idx
           WHERE j.job_id = ANY($1::uuid[]) AND coalesce(c.org_id, c.user_id)::text = $2 AND c.transaction_type = $3""",
        job_ids,
        account,
        LEDGER_TYPE,
    )
    steps = sorted((r["balance_after"] for r in after), reverse=True)
    assert steps == [start - price * n for n in range(1, count + 1)], (account, steps)
