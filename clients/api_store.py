"""The statements behind the HTTP API: who may touch a job, the raw job row, and the in-paint submit
(production, job, prepaid charge and its record in one transaction, DECISIONS D12)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import asyncpg

from clients.ledger import LedgerEntry, change_balance, insert_ledger_row
from domain.credits import (
    LEDGER_TYPE,
    MODIFY_API_PROVIDER,
    MODIFY_DESCRIPTION,
    AccountKind,
    MemberAccount,
    OrgAccount,
    choose_prepaid_payer,
)
from domain.errors import InsufficientCredits


class UnknownMember(LookupError):
    """The submitting member has no `quel_member` row."""


class UnknownAttachment(LookupError):
    """The in-paint job's `attachId` has no `quel_attach` row."""


@dataclass(frozen=True)
class JobAccess:
    """What the API needs of a job row before it acts on it: its state and its owners."""

    job_status: str
    completed_images: int
    total_images: int
    member_id: str | None
    org_id: str | None


@dataclass(frozen=True)
class ModifyOrder:
    """An in-paint job to insert and prepay."""

    member_id: str
    attach_id: int
    images: int
    production_name: str
    prompt: str
    job_input_data: dict[str, Any]


@dataclass(frozen=True)
class PrepaidSubmission:
    job_id: str
    production_id: str


class ApiStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def job_access(self, job_id: uuid.UUID) -> JobAccess | None:
        record = await self._pool.fetchrow(
            """SELECT job_status::text, coalesce(completed_images, 0) AS completed_images, total_images,
                      quel_member_id::text, org_id::text
               FROM quel_production_jobs WHERE job_id = $1""",
            job_id,
        )
        if record is None:
            return None
        return JobAccess(
            job_status=record["job_status"],
            completed_images=record["completed_images"],
            total_images=record["total_images"],
            member_id=record["quel_member_id"],
            org_id=record["org_id"],
        )

    async def may_touch(self, member_id: str, job: JobAccess) -> bool:
        """The job's own member, or an active member of the job's organisation (D11)."""
        if job.member_id == member_id:
            return True
        if job.org_id is None:
            return False
        return bool(
            await self._pool.fetchval(
                """SELECT 1 FROM quel_organization_member
                   WHERE org_id = $1 AND member_id = $2 AND status = 'active'""",
                uuid.UUID(job.org_id),
                uuid.UUID(member_id),
            )
        )

    async def member_exists(self, member_id: str) -> bool:
        found = await self._pool.fetchval("SELECT 1 FROM quel_member WHERE quel_member_id = $1", uuid.UUID(member_id))
        return bool(found)

    async def job_row(self, job_id: uuid.UUID) -> dict[str, Any] | None:
        """Every column of the row as JSON, as the Go server's PostgREST read returned it."""
        row: dict[str, Any] | None = await self._pool.fetchval(
            "SELECT to_jsonb(job) FROM quel_production_jobs AS job WHERE job_id = $1", job_id
        )
        return row

    async def submit_modify(self, order: ModifyOrder, *, price: int) -> PrepaidSubmission:
        """Charges `images x price` up front and inserts the production, the job and one `DEDUCT` row,
        all or nothing. The payer's rows stay locked until commit, so two submits never spend one balance
        twice."""
        amount = order.images * price
        member_key = uuid.UUID(order.member_id)
        async with self._pool.acquire() as connection, connection.transaction():
            if not await connection.fetchval("SELECT 1 FROM quel_attach WHERE attach_id = $1", order.attach_id):
                raise UnknownAttachment(f"attachId {order.attach_id} has no attachment")
            member = await connection.fetchrow(
                """SELECT quel_member_id::text, coalesce(quel_member_credit, 0) AS credit
                   FROM quel_member WHERE quel_member_id = $1 FOR UPDATE""",
                member_key,
            )
            if member is None:
                raise UnknownMember(f"userId {order.member_id} is not a member")
            orgs = await connection.fetch(
                """SELECT o.org_id::text, o.org_status, coalesce(o.org_credit, 0) AS credit, o.owner_id::text
                   FROM quel_organization_member AS m JOIN quel_organization AS o ON o.org_id = m.org_id
                   WHERE m.member_id = $1 AND m.status = 'active' AND o.org_status = 'active'
                   ORDER BY m.joined_at NULLS LAST, m.created_at, o.org_id
                   FOR UPDATE OF o""",
                member_key,
            )
            payer = choose_prepaid_payer(
                orgs=[OrgAccount(r["org_id"], r["org_status"], r["credit"], r["owner_id"]) for r in orgs],
                member=MemberAccount(member["quel_member_id"], member["credit"]),
                amount=amount,
            )
            if payer is None:
                raise InsufficientCredits(f"Insufficient credits. Required: {amount}, Cost per image: {price}")
            balance = await change_balance(connection, payer, -amount)
            assert balance is not None  # the row is locked above
            org_id = uuid.UUID(payer.account_id) if payer.kind is AccountKind.ORGANIZATION else None
            production_id = await connection.fetchval(
                """INSERT INTO quel_production_photo (quel_member_id, org_id, production_name, production_status,
                     total_quantity, generated_image_count, prompt_text, attach_ids)
                   VALUES ($1, $2, $3, 'processing', $4, 0, $5, '[]'::jsonb) RETURNING production_id""",
                member_key,
                org_id,
                order.production_name,
                order.images,
                order.prompt,
            )
            job_id = await connection.fetchval(
                """INSERT INTO quel_production_jobs (production_id, job_type, batch_index, stage_index, job_status,
                     total_images, completed_images, failed_images, job_input_data, retry_count, quel_member_id,
                     org_id, estimated_credits, quel_production_path)
                   VALUES ($1, 'simple_general', 0, NULL, 'pending', $2, 0, 0, $3, 0, $4, $5, $6, NULL)
                   RETURNING job_id""",
                production_id,
                order.images,
                order.job_input_data,
                member_key,
                org_id,
                amount,
            )
            entry = LedgerEntry(LEDGER_TYPE, -amount, MODIFY_DESCRIPTION, MODIFY_API_PROVIDER, production_id)
            credits_id = await insert_ledger_row(connection, payer, entry, balance)
            await connection.execute(
                """INSERT INTO quel_temporal_prepaid_jobs (job_id, production_id, payer_kind, account_id, member_id,
                     images, price, deduct_credits_id)
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8)""",
                job_id,
                production_id,
                payer.kind.value,
                uuid.UUID(payer.account_id),
                member_key,
                order.images,
                price,
                credits_id,
            )
        return PrepaidSubmission(str(job_id), str(production_id))
