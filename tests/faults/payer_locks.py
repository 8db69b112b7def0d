"""Worker backends whose charge waits on a payer row locked elsewhere."""

from __future__ import annotations

import asyncpg

from clients.postgres import Connection
from tests.support.waiting import eventually


async def charges_waiting(db: asyncpg.Pool | Connection) -> list[int]:
    """Pids of backends blocked in a charge's UPDATE of a member or organisation. Read it from
    another connection than the locker's: PostgreSQL keeps one activity snapshot for the whole
    of a transaction."""
    rows = await db.fetch(
        """SELECT pid FROM pg_stat_activity
           WHERE datname = current_database() AND wait_event_type = 'Lock'
             AND (query LIKE 'UPDATE quel_member SET%' OR query LIKE 'UPDATE quel_organization SET%')"""
    )
    return [int(row["pid"]) for row in rows]


async def waiting_charge(db: asyncpg.Pool, *, timeout: float) -> int:
    """A worker backend blocked on the payers' locks."""
    waiting = await eventually(
        lambda: charges_waiting(db), timeout=timeout, what="a charge waiting on the payers' locks"
    )
    return waiting[0]


async def backend_gone(connection: asyncpg.Connection, pid: int) -> bool:
    return not await connection.fetchval("SELECT 1 FROM pg_stat_activity WHERE pid = $1", pid)
