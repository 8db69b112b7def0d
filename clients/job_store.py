"""Every SQL statement the worker runs against the legacy tables and its own bookkeeping.

Each write is idempotent: a retried or replayed activity calling it again changes nothing
more than the first call did.
"""

from __future__ import annotations

import asyncio
import uuid
import weakref
from contextlib import AbstractAsyncContextManager, nullcontext
from dataclasses import dataclass
from datetime import timedelta
from pathlib import PurePosixPath

import asyncpg

from clients.ledger import LedgerEntry, change_balance, insert_ledger_row
from clients.postgres import Connection
from domain.credits import (
    API_PROVIDER,
    LEDGER_TYPE,
    MODIFY_API_PROVIDER,
    MODIFY_REFUND_DESCRIPTION,
    REFUND_TYPE,
    AccountKind,
    MemberAccount,
    OrgAccount,
    Payer,
    charge_key,
    choose_payer,
    unproduced_images,
)
from domain.errors import InvalidJobInput, NoPayer
from domain.job_ids import is_job_id
from domain.job_input import JobRow, build_plan, is_modify
from domain.outcome import JobStatus, Outcome
from domain.output_keys import OutputIdentity
from domain.ownership import AdoptAction, AdoptDecision, Claim, adopt_decision, claim_refusal, kept_attach_ids

_JOB_COLUMNS = """job_id::text, production_id::text, job_type, job_status::text, total_images,
    job_input_data, quel_member_id::text, org_id::text, quel_production_path, stage_index, batch_index"""


@dataclass(frozen=True)
class ClaimResult:
    row: JobRow | None
    """The claimed row, or None when the job must be left untouched (see `reason`)."""
    reason: str | None = None
    kept_attach_ids: tuple[int, ...] = ()
    """An adopted job's images made by the other worker (D14)."""


@dataclass(frozen=True)
class Adoption:
    """What `JobStore.adopt` decided for one job."""

    job_id: str
    decision: AdoptDecision
    total_images: int = 0
    made: int = 0
    """Images the other worker made (kept, counted as produced)."""
    idle: timedelta | None = None
    """How long the row has not been updated."""

    @property
    def needed(self) -> int:
        return max(self.total_images - self.made, 0)


@dataclass(frozen=True)
class JobHeadline:
    """What a job row gives its workflow at start: the summary people read in the Temporal UI, and its priority."""

    production_path: str | None
    job_type: str
    total_images: int
    org_name: str | None
    member_name: str | None
    interactive: bool = False
    """A person waits for the job (modify / in-paint, D13): it runs at the interactive priority."""


@dataclass(frozen=True)
class AttachRow:
    attach_id: int
    attach_file_path: str | None
    attach_directory: str | None


@dataclass(frozen=True)
class OutputRecord:
    identity: OutputIdentity
    output_key: str
    file_size: int
    mime: str
    payer: Payer | None
    """None: nothing to charge (modify jobs were prepaid)."""
    price: int
    link_to_production: bool = False
    """Modify outputs are also listed in `quel_production_attach`, as the legacy worker did."""


@dataclass(frozen=True)
class Refund:
    """What a prepaid job got back when it ended (D12)."""

    images: int
    amount: int
    payer: Payer


@dataclass(frozen=True)
class RecordedOutput:
    attach_id: int
    completed_images: int
    """The job's `completed_images` after this output was recorded."""
    charged: bool
    """False when the output was already charged (a retry or replay)."""


def _job_uuid(job_id: str) -> uuid.UUID:
    try:
        return uuid.UUID(job_id)
    except ValueError:
        raise InvalidJobInput(f"job id {job_id!r} is not a UUID") from None


def _row_to_job(record: asyncpg.Record) -> JobRow:
    return JobRow(**dict(record))


async def _claim_of(connection: Connection, key: uuid.UUID) -> Claim | None:
    record = await connection.fetchrow(
        "SELECT workflow_id, adopted, kept_attach_ids FROM quel_temporal_claims WHERE job_id = $1", key
    )
    if record is None:
        return None
    return Claim(record["workflow_id"], record["adopted"], kept_attach_ids(record["kept_attach_ids"]))


class JobStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        self._payer_turns: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    async def claim(self, job_id: str, *, workflow_id: str, run_id: str | None) -> ClaimResult:
        """Marks the job `processing` for workflow `workflow_id` when it is `pending`, or
        `processing` under this project's claim (a retry, a reset, an adoption). The claim is
        recorded in the same transaction (D14); a row it does not allow is left untouched."""
        key = _job_uuid(job_id)
        async with self._pool.acquire() as connection, connection.transaction():
            status = await connection.fetchval(
                "SELECT job_status::text FROM quel_production_jobs WHERE job_id = $1 FOR UPDATE", key
            )
            claim = await _claim_of(connection, key)
            refusal = claim_refusal(status, claim, workflow_id)
            if refusal is not None:
                return ClaimResult(row=None, reason=refusal)
            await connection.execute(
                """INSERT INTO quel_temporal_claims (job_id, workflow_id, run_id) VALUES ($1, $2, $3)
                   ON CONFLICT (job_id) DO UPDATE SET run_id = excluded.run_id""",
                key,
                workflow_id,
                run_id,
            )
            record = await connection.fetchrow(
                f"""UPDATE quel_production_jobs
                    SET job_status = 'processing', started_at = coalesce(started_at, now()), updated_at = now()
                    WHERE job_id = $1
                    RETURNING {_JOB_COLUMNS}""",
                key,
            )
            assert record is not None, "the row is locked by this transaction"
            await connection.execute(
                """UPDATE quel_production_photo SET production_status = 'processing'
                   WHERE production_id = $1 AND production_status IS DISTINCT FROM 'processing'""",
                record["production_id"] and uuid.UUID(record["production_id"]),
            )
            return ClaimResult(row=_row_to_job(record), kept_attach_ids=claim.kept_attach_ids if claim else ())

    async def load(self, job_id: str) -> JobRow | None:
        record = await self._pool.fetchrow(
            f"SELECT {_JOB_COLUMNS} FROM quel_production_jobs WHERE job_id = $1", _job_uuid(job_id)
        )
        return None if record is None else _row_to_job(record)

    async def headline(self, job_id: str) -> JobHeadline | None:
        """What names the job and sets its priority; None when it has no row (or cannot have one)."""
        if not is_job_id(job_id):
            return None
        record = await self._pool.fetchrow(
            """SELECT j.quel_production_path AS production_path, j.job_type, j.total_images,
                      o.org_name, m.quel_name AS member_name, j.job_input_data ? 'maskDataUrl' AS has_mask
               FROM quel_production_jobs j
               LEFT JOIN quel_organization o ON o.org_id = j.org_id
               LEFT JOIN quel_member m ON m.quel_member_id = j.quel_member_id
               WHERE j.job_id = $1""",
            uuid.UUID(job_id),
        )
        if record is None:
            return None
        found = dict(record)
        # Two values, not the input: an in-paint job's input holds its mask inline.
        interactive = is_modify(found["job_type"], has_mask=bool(found.pop("has_mask")))
        return JobHeadline(**found, interactive=interactive)

    async def find_payer(self, row: JobRow, user_id: str | None) -> Payer:
        member_id = row.quel_member_id or user_id
        async with self._pool.acquire() as connection:
            org = None
            if row.org_id:
                record = await connection.fetchrow(
                    """SELECT org_id::text, org_status, coalesce(org_credit, 0) AS credit, owner_id::text
                       FROM quel_organization WHERE org_id = $1""",
                    uuid.UUID(row.org_id),
                )
                if record is not None:
                    org = OrgAccount(record["org_id"], record["org_status"], record["credit"], record["owner_id"])
            member = None
            if member_id and is_job_id(member_id):
                record = await connection.fetchrow(
                    """SELECT quel_member_id::text, coalesce(quel_member_credit, 0) AS credit
                       FROM quel_member WHERE quel_member_id = $1""",
                    uuid.UUID(member_id),
                )
                if record is not None:
                    member = MemberAccount(record["quel_member_id"], record["credit"])
        return choose_payer(org=org, member=member, job_member_id=member_id if member else row.quel_member_id)

    async def attach_rows(self, attach_ids: list[int]) -> dict[int, AttachRow]:
        records = await self._pool.fetch(
            """SELECT attach_id, attach_file_path, attach_directory
               FROM quel_attach WHERE attach_id = ANY($1::bigint[])""",
            attach_ids,
        )
        return {
            r["attach_id"]: AttachRow(r["attach_id"], r["attach_file_path"], r["attach_directory"]) for r in records
        }

    async def record_output(self, record: OutputRecord) -> RecordedOutput:
        """Attach row, charge and progress for one output, in one transaction, once per identity."""
        identity = record.identity
        job_key = _job_uuid(identity.job_id)
        async with self._payer_turn(record.payer), self._pool.acquire() as connection, connection.transaction():
            # Serialises concurrent attempts for the same output (a timed-out attempt may still run).
            await connection.execute("SELECT pg_advisory_xact_lock(hashtext($1))", record.output_key)
            attach_id = await connection.fetchval(
                "SELECT attach_id FROM quel_temporal_outputs WHERE output_key = $1", record.output_key
            )
            if attach_id is None:
                attach_id = await connection.fetchval(
                    """INSERT INTO quel_attach (attach_original_name, attach_file_name, attach_file_path,
                         attach_file_size, attach_file_type, attach_directory, attach_storage_type)
                       VALUES ($1, $1, $2, $3, $4, $2, 'supabase') RETURNING attach_id""",
                    PurePosixPath(record.output_key).name,
                    record.output_key,
                    record.file_size,
                    record.mime,
                )
                await connection.execute(
                    """INSERT INTO quel_temporal_outputs (output_key, job_id, stage, combo, image, attach_id)
                       VALUES ($1, $2, $3, $4, $5, $6)""",
                    record.output_key,
                    job_key,
                    identity.stage,
                    identity.combo,
                    identity.index,
                    attach_id,
                )
            production_id = await connection.fetchval(
                "SELECT production_id FROM quel_production_jobs WHERE job_id = $1", job_key
            )
            charged = record.payer is not None and await self._charge_once(connection, record, attach_id, production_id)
            if record.link_to_production and production_id is not None:
                await connection.execute(
                    """INSERT INTO quel_production_attach (production_id, attach_id) VALUES ($1, $2)
                       ON CONFLICT DO NOTHING""",
                    production_id,
                    attach_id,
                )
            completed = await connection.fetchval(
                """WITH current AS (
                     SELECT coalesce(generated_attach_ids, '[]'::jsonb) AS ids
                     FROM quel_production_jobs WHERE job_id = $1 FOR UPDATE),
                   next AS (
                     SELECT CASE WHEN ids @> jsonb_build_array($2::bigint) THEN ids
                                 ELSE ids || jsonb_build_array($2::bigint) END AS ids
                     FROM current)
                   UPDATE quel_production_jobs AS job
                   SET generated_attach_ids = next.ids, completed_images = jsonb_array_length(next.ids),
                       updated_at = now()
                   FROM next WHERE job.job_id = $1
                   RETURNING job.completed_images""",
                job_key,
                attach_id,
            )
            return RecordedOutput(attach_id=int(attach_id), completed_images=int(completed or 0), charged=charged)

    def _payer_turn(self, payer: Payer | None) -> AbstractAsyncContextManager[object]:
        """One charge per payer at a time in this process. A payer's row locked elsewhere then
        holds one pool connection, not one per waiting image, and other payers' jobs go on."""
        if payer is None:
            return nullcontext()
        turn = self._payer_turns.get(payer.account_id)
        if turn is None:
            turn = self._payer_turns[payer.account_id] = asyncio.Lock()
        return turn

    async def _charge_once(
        self,
        connection: Connection,
        record: OutputRecord,
        attach_id: int,
        production_id: uuid.UUID | None,
    ) -> bool:
        """True when this call charged; False when the output was charged before."""
        payer = record.payer
        assert payer is not None
        key = charge_key(record.output_key)
        if await connection.fetchval("SELECT 1 FROM quel_temporal_charges WHERE idempotency_key = $1", key):
            return False
        balance = await change_balance(connection, payer, -record.price)
        if balance is None:
            raise NoPayer(f"the paying {payer.kind.value} {payer.account_id} no longer exists")
        entry = LedgerEntry(LEDGER_TYPE, -record.price, payer.description, API_PROVIDER, production_id, attach_id)
        credits_id = await insert_ledger_row(connection, payer, entry, balance)
        await connection.execute(
            """INSERT INTO quel_temporal_charges (idempotency_key, job_id, attach_id, credits_id, amount)
               VALUES ($1, $2, $3, $4, $5)""",
            key,
            _job_uuid(record.identity.job_id),
            attach_id,
            credits_id,
            record.price,
        )
        return True

    async def finish_job_row(self, job_id: str, outcome: Outcome, *, only_if_claimed_by: str | None = None) -> None:
        """The job's final status, on its own: the row the front end reads and D1 checks. A row
        that is already final is left as it is, so a repeated call changes nothing. With
        `only_if_claimed_by`, a `processing` row is written only when that workflow holds its claim:
        a run that cannot tell whether it claimed the row never ends another worker's job (D14)."""
        await self._pool.execute(
            """UPDATE quel_production_jobs AS job
               SET job_status = $2::job_status_enum, completed_at = coalesce(completed_at, now()),
                   failed_images = $3, error_message = $4, updated_at = now()
               WHERE job_id = $1 AND job_status IN ('pending', 'processing')
                 AND ($5::text IS NULL OR job_status = 'pending' OR EXISTS (
                       SELECT 1 FROM quel_temporal_claims AS claim
                       WHERE claim.job_id = job.job_id AND claim.workflow_id = $5))""",
            _job_uuid(job_id),
            outcome.status.value,
            outcome.failed_images,
            outcome.error_message,
            only_if_claimed_by,
        )

    async def finish_production(self, job_id: str, status: JobStatus) -> None:
        """The production row takes the job's final `status`, and its `attach_ids` gains the job's
        `generated_attach_ids` once, in order, without duplicates. Only when the job row holds
        `status` (this run made it final), and safe to repeat."""
        await self._pool.execute(
            """UPDATE quel_production_photo AS p
               SET production_status = $2::text::production_status_enum,
                   attach_ids = (
                     SELECT coalesce(jsonb_agg(merged.value ORDER BY merged.first), '[]'::jsonb)
                     FROM (SELECT value, min(ordinality) AS first
                           FROM jsonb_array_elements(
                                  CASE WHEN jsonb_typeof(p.attach_ids) = 'array' THEN p.attach_ids
                                       ELSE '[]'::jsonb END
                                  || coalesce(job.generated_attach_ids, '[]'::jsonb)) WITH ORDINALITY
                           GROUP BY value) AS merged)
               FROM quel_production_jobs AS job
               WHERE job.job_id = $1 AND job.job_status = $2::job_status_enum
                 AND p.production_id = job.production_id""",
            _job_uuid(job_id),
            status.value,
        )

    async def refund_unproduced(self, job_id: str) -> Refund | None:
        """Gives a job prepaid through the API (D12) back what it paid for and did not produce: one
        `REFUND` row and the balance, in one transaction, once. None when there is nothing (more) to give
        back: no prepaid record (the Go endpoint's jobs), a row not final yet, already refunded, or every
        paid image produced."""
        key = _job_uuid(job_id)
        async with self._pool.acquire() as connection, connection.transaction():
            prepaid = await connection.fetchrow(
                """SELECT production_id, payer_kind, account_id::text, member_id::text, images, price, refunded_at
                   FROM quel_temporal_prepaid_jobs WHERE job_id = $1 FOR UPDATE""",
                key,
            )
            if prepaid is None or prepaid["refunded_at"] is not None:
                return None
            job = await connection.fetchrow(
                "SELECT job_status::text, coalesce(completed_images, 0) AS produced FROM quel_production_jobs"
                " WHERE job_id = $1",
                key,
            )
            if job is None or job["job_status"] in (JobStatus.PENDING, JobStatus.PROCESSING):
                return None
            images = unproduced_images(paid=prepaid["images"], produced=job["produced"])
            payer = Payer(AccountKind(prepaid["payer_kind"]), prepaid["account_id"], prepaid["member_id"], 0)
            credits_id = None
            if images:
                amount = images * prepaid["price"]
                balance = await change_balance(connection, payer, amount)
                # An account deleted since the submit cannot be credited: the record keeps the images owed.
                if balance is not None:
                    entry = LedgerEntry(
                        REFUND_TYPE, amount, MODIFY_REFUND_DESCRIPTION, MODIFY_API_PROVIDER, prepaid["production_id"]
                    )
                    credits_id = await insert_ledger_row(connection, payer, entry, balance)
            await connection.execute(
                """UPDATE quel_temporal_prepaid_jobs
                   SET refunded_images = $2, refund_credits_id = $3, refunded_at = now() WHERE job_id = $1""",
                key,
                images,
                credits_id,
            )
            return Refund(images, images * prepaid["price"], payer) if credits_id else None

    async def job_status(self, job_id: str) -> JobStatus | None:
        status = await self._pool.fetchval(
            "SELECT job_status::text FROM quel_production_jobs WHERE job_id = $1", _job_uuid(job_id)
        )
        return JobStatus(status) if status else None

    async def adopt(self, job_id: str, *, force: bool, dry_run: bool) -> Adoption:
        """Takes a job another worker left `processing` over (D14): records the claim, its
        workflow id and the images already made, under the row's lock. `dry_run` decides
        the same and records nothing."""
        key = _job_uuid(job_id)
        async with self._pool.acquire() as connection, connection.transaction():
            record = await connection.fetchrow(
                f"""SELECT {_JOB_COLUMNS}, generated_attach_ids,
                      extract(epoch FROM now() - updated_at)::float8 AS idle_seconds
                    FROM quel_production_jobs WHERE job_id = $1 FOR UPDATE""",
                key,
            )
            claim = await _claim_of(connection, key)
            if record is None:
                return Adoption(str(key), adopt_decision(None, claim, None, force=force))
            fields = dict(record)
            idle_seconds, listed = fields.pop("idle_seconds"), fields.pop("generated_attach_ids")
            row = JobRow(**fields)
            kept = claim.kept_attach_ids if claim else kept_attach_ids(listed)
            idle = None if idle_seconds is None else timedelta(seconds=idle_seconds)
            decision = adopt_decision(row.job_status, claim, idle, force=force)
            if decision.action is AdoptAction.ADOPT and not dry_run:
                await connection.execute(
                    """INSERT INTO quel_temporal_claims (job_id, workflow_id, adopted, kept_attach_ids)
                       VALUES ($1, $2, true, $3)""",
                    key,
                    row.job_id,
                    list(kept),
                )
            return Adoption(row.job_id, decision, _planned_images(row), len(kept), idle)

    async def adoptable(self, stale_after: timedelta) -> list[str]:
        """Jobs left `processing` and not updated for `stale_after`: foreign ones, and adopted
        ones whose run may never have started. Oldest first."""
        records = await self._pool.fetch(
            """SELECT job.job_id::text FROM quel_production_jobs AS job
               LEFT JOIN quel_temporal_claims AS claim USING (job_id)
               WHERE job.job_status = 'processing' AND job.updated_at < now() - $1::interval
                 AND (claim.job_id IS NULL OR claim.adopted)
               ORDER BY job.updated_at""",
            stale_after,
        )
        return [record["job_id"] for record in records]


def _planned_images(row: JobRow) -> int:
    """What the job asks for as this project plans it; the producer's count when it cannot
    be planned (the adopted run then fails it as invalid input)."""
    try:
        return build_plan(row).total_images
    except InvalidJobInput:
        return row.total_images or 0
