"""PostgreSQL connection pool with JSON codecs, shared by every activity of a process."""

from __future__ import annotations

import json

import asyncpg
from asyncpg.pool import PoolConnectionProxy

Connection = asyncpg.Connection | PoolConnectionProxy
"""A plain connection or one borrowed from a pool; both run the same statements."""

Queryable = asyncpg.Pool | Connection
"""What runs a single statement: a pool lends a connection for just that statement."""


async def _init_connection(connection: asyncpg.Connection) -> None:
    for type_name in ("json", "jsonb"):
        await connection.set_type_codec(type_name, encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


async def create_pool(dsn: str, *, max_size: int = 10) -> asyncpg.Pool:
    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=max_size, init=_init_connection, command_timeout=60)
    assert pool is not None
    return pool


async def connect(dsn: str) -> asyncpg.Connection:
    """A single connection with the same codecs as the pool's (migrations, seeding)."""
    connection = await asyncpg.connect(dsn)
    await _init_connection(connection)
    return connection


def with_database(url: str, database: str) -> str:
    """The same server's `database`; works for TCP URLs and pgserver's unix-socket URLs."""
    base, _, query = url.partition("?")
    return f"{base.rpartition('/')[0]}/{database}" + (f"?{query}" if query else "")
