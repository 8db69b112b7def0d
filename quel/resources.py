"""The long-lived clients of a process, opened once from the settings and closed on exit."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass

import asyncpg
import redis.asyncio as redis

from clients.cancel_flags import CancelFlags
from clients.image_generator import ImageGenerator
from clients.job_store import JobStore
from clients.local_storage import LocalFolderStorage
from clients.postgres import create_pool
from clients.storage import ObjectStorage
from quel.settings import GeneratorBackend, Settings, StorageBackend


class MissingSetting(Exception):
    """A production command needs a variable that is not set."""


def require_url(value: object, name: str) -> str:
    if value is None:
        raise MissingSetting(f"{name} is not set")
    secret = getattr(value, "get_secret_value", None)
    return str(secret() if secret else value)


def open_storage(settings: Settings) -> ObjectStorage:
    if settings.storage_backend is StorageBackend.SUPABASE:
        # Imported here: the remote SDKs take seconds to import, and most commands never use them.
        from clients.supabase_storage import SupabaseStorage

        assert settings.supabase_url and settings.supabase_service_key
        return SupabaseStorage(
            settings.supabase_url, settings.supabase_service_key.get_secret_value(), settings.storage_bucket
        )
    return LocalFolderStorage(settings.storage_dir, settings.storage_bucket)


def open_generator(settings: Settings) -> ImageGenerator:
    if settings.generator is GeneratorBackend.GEMINI:
        from clients.gemini_generator import GeminiGenerator

        assert settings.gemini_api_key is not None
        return GeminiGenerator(
            api_key=settings.gemini_api_key.get_secret_value(),
            model=settings.gemini_model,
            base_url=settings.gemini_base_url,
            timeout_seconds=settings.gemini_timeout_seconds,
        )
    from clients.offline_generator import OfflineGenerator

    return OfflineGenerator(latency_seconds=settings.offline_latency_seconds)


@dataclass(frozen=True)
class Resources:
    pool: asyncpg.Pool
    redis: redis.Redis
    store: JobStore
    cancel_flags: CancelFlags


@asynccontextmanager
async def open_resources(settings: Settings) -> AsyncIterator[Resources]:
    async with AsyncExitStack() as stack:
        pool = await create_pool(require_url(settings.database_url, "DATABASE_URL"))
        stack.push_async_callback(pool.close)
        client = redis.Redis.from_url(require_url(settings.redis_url, "REDIS_URL"))
        stack.push_async_callback(client.aclose)
        yield Resources(pool=pool, redis=client, store=JobStore(pool), cancel_flags=CancelFlags(client))
