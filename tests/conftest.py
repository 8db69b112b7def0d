"""Real servers for the tests: a Temporal dev server from the installed `temporal` binary,
PostgreSQL and Redis (DATABASE_URL / REDIS_URL when given, else embedded), and a fresh
database per test module. Nothing is downloaded."""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path

import asyncpg
import pytest
import redis.asyncio as redis
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from clients.migrations import migrate
from clients.postgres import with_database
from quel.embedded import EmbeddedPostgres, EmbeddedRedis
from quel.settings import Settings
from quel.temporal_server import start_dev_server, start_time_skipping_server
from tests.fakes.gemini_server import FakeGemini
from tests.fakes.storage_server import FakeSupabaseStorage
from tests.support.harness import settings_for
from tests.support.remote import STORAGE_KEY, with_fakes


@pytest.fixture(scope="session")
async def temporal_env() -> AsyncIterator[WorkflowEnvironment]:
    environment = await start_dev_server(database_file=None, port=None, ui_port=None)
    yield environment
    await environment.shutdown()


@pytest.fixture(scope="session")
async def time_skipping_env() -> AsyncIterator[WorkflowEnvironment]:
    environment = await start_time_skipping_server()
    yield environment
    await environment.shutdown()


@pytest.fixture
def client(temporal_env: WorkflowEnvironment) -> Client:
    return temporal_env.client


@contextmanager
def server_folder(kind: str) -> Iterator[Path]:
    """Outside pytest's numbered temp folders, which a second pytest run on the same machine
    may delete (it keeps only the last three) while this run's servers still use them."""
    with tempfile.TemporaryDirectory(prefix=f"quel-test-{kind}-") as folder:
        yield Path(folder)


@pytest.fixture(scope="session")
def postgres_admin_url() -> Iterator[str]:
    if url := os.environ.get("DATABASE_URL"):
        yield url
        return
    with server_folder("pg") as folder:
        server = EmbeddedPostgres(folder)
        yield server.start()
        server.stop()


@pytest.fixture(scope="module")
async def database_url(postgres_admin_url: str, request: pytest.FixtureRequest) -> AsyncIterator[str]:
    """A fresh database holding the legacy schema and the port's migrations."""
    name = f"test_{request.module.__name__.rsplit('.', 1)[-1]}_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(postgres_admin_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = with_database(postgres_admin_url, name)
    connection = await asyncpg.connect(url)
    await migrate(connection, legacy_schema=True)
    await connection.close()
    yield url
    await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await admin.close()


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    if url := os.environ.get("REDIS_URL"):
        yield url
        return
    with server_folder("redis") as folder:
        server = EmbeddedRedis(folder)
        yield server.start()
        server.stop()


@pytest.fixture
async def redis_client(redis_url: str) -> AsyncIterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    await client.flushdb()
    yield client
    await client.aclose()


@pytest.fixture
def fake_gemini() -> Iterator[FakeGemini]:
    with FakeGemini() as server:
        yield server


@pytest.fixture
def fake_storage() -> Iterator[FakeSupabaseStorage]:
    with FakeSupabaseStorage(service_key=STORAGE_KEY) as server:
        yield server


@pytest.fixture
def remote_settings(settings: Settings, fake_gemini: FakeGemini, fake_storage: FakeSupabaseStorage) -> Settings:
    """Gemini and Supabase Storage backends, pointed at the fakes, spoken to by the real SDKs over HTTP."""
    return with_fakes(settings, gemini_url=fake_gemini.base_url, storage_url=fake_storage.url)


@pytest.fixture
def settings(database_url: str, redis_url: str, tmp_path: Path) -> Settings:
    return settings_for(database_url, redis_url, tmp_path / "storage")
