"""Who pays for a job and how much (DECISIONS D3, D12)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from domain.errors import InsufficientCredits, NoPayer

ORG_DESCRIPTION = "Organization Generated With Image"
MEMBER_DESCRIPTION = "Generated With Image"
API_PROVIDER = "gemini-banana"
LEDGER_TYPE = "DEDUCT"
REFUND_TYPE = "REFUND"
MODIFY_DESCRIPTION = "Modify Image Generation"
MODIFY_REFUND_DESCRIPTION = "Modify Image Refund"
MODIFY_API_PROVIDER = "gemini"


class AccountKind(StrEnum):
    ORGANIZATION = "organization"
    MEMBER = "member"


@dataclass(frozen=True)
class OrgAccount:
    org_id: str
    status: str
    credit: int
    owner_id: str


@dataclass(frozen=True)
class MemberAccount:
    member_id: str
    credit: int


@dataclass(frozen=True)
class Payer:
    kind: AccountKind
    account_id: str
    """org_id or quel_member_id, whichever balance is charged."""
    member_id: str
    """Ledger `user_id` (NOT NULL in the legacy table): the member the job belongs to."""
    balance: int

    @property
    def description(self) -> str:
        return ORG_DESCRIPTION if self.kind is AccountKind.ORGANIZATION else MEMBER_DESCRIPTION


def choose_payer(*, org: OrgAccount | None, member: MemberAccount | None, job_member_id: str | None) -> Payer:
    """The job's organisation when it exists and is active, else the job's member.

    A job without `org_id` is paid by its member even if the member belongs to an organisation:
    the producer decides who pays by setting `org_id`.
    """
    if org is not None and org.status == "active":
        return Payer(
            kind=AccountKind.ORGANIZATION,
            account_id=org.org_id,
            member_id=job_member_id or org.owner_id,
            balance=org.credit,
        )
    if member is not None:
        return Payer(
            kind=AccountKind.MEMBER,
            account_id=member.member_id,
            member_id=member.member_id,
            balance=member.credit,
        )
    raise NoPayer("no payer: the job has no active organisation and no existing member")


def choose_prepaid_payer(*, orgs: Sequence[OrgAccount], member: MemberAccount, amount: int) -> Payer | None:
    """Who prepays an in-paint job (D12): the member's first active organisation whose balance covers
    the whole amount, else the member when theirs does; None when nobody can."""
    for org in orgs:
        if org.status == "active" and org.credit >= amount:
            return Payer(AccountKind.ORGANIZATION, org.org_id, member.member_id, org.credit)
    if member.credit >= amount:
        return Payer(AccountKind.MEMBER, member.member_id, member.member_id, member.credit)
    return None


def unproduced_images(*, paid: int, produced: int) -> int:
    """Images a prepaid job paid for and did not produce: what its refund gives back."""
    return max(0, paid - produced)


def require_balance(payer: Payer, *, images: int, price: int) -> None:
    need = images * price
    if payer.balance < need:
        raise InsufficientCredits(f"insufficient credits: need {need}, have {payer.balance}")


def charge_key(output_key: str) -> str:
    """One charge per output, whatever retries or replays happen."""
    return f"charge:{output_key}"
