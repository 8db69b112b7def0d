"""The invariant check every fault case relies on passes on a clean run and fails on each
kind of damage a crash could leave: a second charge, a lost charge, a second attach row, a
balance decremented without a ledger row, an orphaned storage object."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from temporalio.client import Client

from clients.postgres import Connection
from quel.settings import Settings
from tests.faults.invariants import balances, check_invariants, fixture_completes, local_storage_keys
from tests.support.harness import harness
from tests.support.seed import MEMBER_ID

JOB = "single_batch.eats"
PRICE = 20

Damage = Callable[[Connection, str], Awaitable[set[str]]]
"""Damages the job's records; returns storage keys to add to what is stored."""


async def second_charge(connection: Connection, job_id: str) -> set[str]:
    await connection.execute(
        """INSERT INTO quel_credits (user_id, transaction_type, amount, balance_after, description,
             attach_idx, production_idx, api_provider)
           SELECT user_id, transaction_type, amount, balance_after - $2, description, attach_idx, production_idx,
                  api_provider
           FROM quel_credits
           WHERE production_idx = (SELECT production_id FROM quel_production_jobs WHERE job_id = $1) LIMIT 1""",
        job_id,
        PRICE,
    )
    await debit(connection, PRICE)
    return set()


async def lost_charge(connection: Connection, job_id: str) -> set[str]:
    await connection.execute(
        """DELETE FROM quel_credits WHERE id = (
             SELECT id FROM quel_credits
             WHERE production_idx = (SELECT production_id FROM quel_production_jobs WHERE job_id = $1) LIMIT 1)""",
        job_id,
    )
    await debit(connection, -PRICE)
    return set()


async def second_attach_row(connection: Connection, job_id: str) -> set[str]:
    await connection.execute(
        """INSERT INTO quel_attach (attach_file_path, attach_directory, attach_storage_type)
           SELECT output_key, output_key, 'supabase' FROM quel_temporal_outputs WHERE job_id = $1 LIMIT 1""",
        job_id,
    )
    return set()


async def silent_debit(connection: Connection, job_id: str) -> set[str]:
    await debit(connection, PRICE)
    return set()


async def orphaned_object(connection: Connection, job_id: str) -> set[str]:
    return {f"generated-images/user-{MEMBER_ID}/{job_id}/s0-c9-0.webp"}


async def debit(connection: Connection, amount: int) -> None:
    await connection.execute(
        "UPDATE quel_member SET quel_member_credit = quel_member_credit - $2 WHERE quel_member_id = $1",
        MEMBER_ID,
        amount,
    )


DAMAGE: dict[str, Damage] = {
    "second charge": second_charge,
    "lost charge": lost_charge,
    "second attach row": second_attach_row,
    "silent debit": silent_debit,
    "orphaned object": orphaned_object,
}


@pytest.mark.parametrize("damage", sorted(DAMAGE))
async def test_invariants_pass_a_clean_run_and_catch_the_damage(
    client: Client, settings: Settings, damage: str
) -> None:
    assert settings.image_per_price == PRICE
    async with harness(client, settings) as h:
        before = await balances(h.db)
        job_id = await h.seed(JOB)
        await (await h.start(job_id)).result()
        jobs = {job_id: fixture_completes(JOB)}
        stored = local_storage_keys(settings)
        await check_invariants(h.db, jobs=jobs, balances_before=before, price=PRICE, stored=stored, client=client)
        async with h.db.acquire() as connection:
            transaction = connection.transaction()
            await transaction.start()
            try:
                extra = await DAMAGE[damage](connection, job_id)
                with pytest.raises(AssertionError):
                    await check_invariants(
                        connection, jobs=jobs, balances_before=before, price=PRICE, stored=stored | extra
                    )
            finally:
                await transaction.rollback()
