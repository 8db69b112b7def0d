"""The refund of an in-paint job (DECISIONS D12) survives a SIGKILL of the worker in its window: the test
holds the payer's row locked, so the worker's refund transaction waits on its balance update with the
job row already final; the worker dies there, and the restarted worker refunds exactly once."""

from __future__ import annotations

import uuid
from pathlib import Path

import asyncpg
from temporalio.testing import WorkflowEnvironment

from quel.resources import require_url
from tests.api.conftest import PRICE, ApiStack, modify_body, serving
from tests.fakes.gemini_server import safety
from tests.faults.payer_locks import backend_gone, waiting_charge
from tests.support.processes import QuelProcess, settings_env
from tests.support.waiting import eventually

IN_PROCESS_WORKERS = False
"""The worker is a real `quel worker` the test kills."""


async def refunds(stack: ApiStack, production_id: str) -> list[int]:
    return [row["amount"] for row in await stack.ledger(production_id) if row["transaction_type"] == "REFUND"]


async def test_worker_killed_during_the_refund_refunds_exactly_once(
    stack: ApiStack, temporal_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    member, _ = await stack.member(1000)
    stack.gemini.script(safety())  # 1 of the 2 paid images is blocked
    async with serving(stack) as http:
        submitted = (await http.post("/api/modify/submit", json=modify_body(member, quantity=2))).json()
    job_id, production_id = submitted["jobId"], submitted["productionId"]
    env = settings_env(stack.settings, temporal_address=temporal_env.client.service_client.config.target_host)
    worker = QuelProcess("worker", env, tmp_path / "worker.log")
    locker = await asyncpg.connect(require_url(stack.settings.database_url, "DATABASE_URL"))
    try:
        async with locker.transaction():
            await locker.execute("SELECT 1 FROM quel_member WHERE quel_member_id = $1 FOR UPDATE", uuid.UUID(member))
            worker.start()
            pid = await waiting_charge(stack.resources.pool, timeout=120)
            # The window: the job row is final, the refund's transaction holds the prepaid record and waits.
            row = await stack.job_row(job_id)
            assert (row["job_status"], row["completed_images"]) == ("completed", 1)
            assert await stack.resources.pool.fetchval(
                """SELECT 1 FROM pg_locks WHERE pid = $1 AND granted
                     AND relation = 'quel_temporal_prepaid_jobs'::regclass""",
                pid,
            ), "the waiting backend is the refund's"
            worker.kill()
        await eventually(lambda: backend_gone(locker, pid), timeout=30, what=f"backend {pid} rolled back")
    finally:
        await locker.close()
    assert await refunds(stack, production_id) == [], "the killed refund left nothing behind"
    assert await stack.balance(member) == 1000 - 2 * PRICE

    worker.start()
    try:
        await stack.result(job_id)
    finally:
        worker.stop()

    assert await refunds(stack, production_id) == [PRICE]
    assert await stack.balance(member) == 1000 - PRICE
    assert (
        await stack.resources.pool.fetchval(
            "SELECT refunded_images FROM quel_temporal_prepaid_jobs WHERE job_id = $1", uuid.UUID(job_id)
        )
        == 1
    )
