"""What it means that PostgreSQL, Redis or Temporal cannot be reached right now, as opposed to a
request that was wrong: the bridge waits these out, the API answers 503, a `quel` command says so."""

from __future__ import annotations

import asyncpg
import redis.asyncio as redis
from temporalio.service import RPCError

UNREACHABLE: tuple[type[Exception], ...] = (
    OSError,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    redis.RedisError,
    RPCError,
)
