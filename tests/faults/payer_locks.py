"""Worker backends whose charge waits on a payer row locked elsewhere."""

from __future__ import annotations

import asyncpg

from clients.postgres import Connection


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
