"""The two statements of every credit movement: the payer's balance changed atomically in SQL, and its
`quel_credits` row. Callers run both inside their own transaction, beside their idempotency record."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from clients.postgres import Connection
from domain.credits import AccountKind, Payer


@dataclass(frozen=True)
class LedgerEntry:
    transaction_type: str
    amount: int
    """Negative for a deduction, positive for a refund."""
    description: str
    api_provider: str
    production_id: uuid.UUID | None
    attach_id: int | None = None


async def change_balance(connection: Connection, payer: Payer, delta: int) -> int | None:
    """The payer's balance after adding `delta`; None when the account no longer exists."""
    if payer.kind is AccountKind.ORGANIZATION:
        balance = await connection.fetchval(
            """UPDATE quel_organization SET org_credit = coalesce(org_credit, 0) + $2, updated_at = now()
               WHERE org_id = $1 RETURNING org_credit""",
            uuid.UUID(payer.account_id),
            delta,
        )
    else:
        balance = await connection.fetchval(
            """UPDATE quel_member SET quel_member_credit = coalesce(quel_member_credit, 0) + $2,
                 quel_updated_at = now()
               WHERE quel_member_id = $1 RETURNING quel_member_credit""",
            uuid.UUID(payer.account_id),
            delta,
        )
    return None if balance is None else int(balance)


async def insert_ledger_row(connection: Connection, payer: Payer, entry: LedgerEntry, balance_after: int) -> uuid.UUID:
    """One `quel_credits` row; an organisation's row also names the member who used its credits."""
    is_org = payer.kind is AccountKind.ORGANIZATION
    credits_id: uuid.UUID = await connection.fetchval(
        """INSERT INTO quel_credits (user_id, transaction_type, amount, balance_after, description,
             attach_idx, production_idx, org_id, used_by_member_id, api_provider)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id""",
        uuid.UUID(payer.member_id),
        entry.transaction_type,
        entry.amount,
        balance_after,
        entry.description,
        entry.attach_id,
        entry.production_id,
        uuid.UUID(payer.account_id) if is_org else None,
        uuid.UUID(payer.member_id) if is_org else None,
        entry.api_provider,
    )
    return credits_id
