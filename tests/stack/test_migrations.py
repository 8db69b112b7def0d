"""`quel migrate`: additive, idempotent, and blind to nothing the legacy tables hold."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from clients.migrations import migrate
from clients.postgres import connect, with_database
from tests.support.seed import seed_accounts, seed_job

LEGACY_TABLES = (
    "quel_member",
    "quel_attach",
    "quel_organization",
    "quel_organization_member",
    "quel_production_photo",
    "quel_production_jobs",
    "quel_credits",
    "quel_production_attach",
)


@pytest.fixture
async def empty_database(postgres_admin_url: str) -> AsyncIterator[str]:
    name = f"test_migrate_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(postgres_admin_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    yield with_database(postgres_admin_url, name)
    await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    await admin.close()


async def _columns(connection: asyncpg.Connection) -> list[tuple[Any, ...]]:
    rows = await connection.fetch(
        """SELECT table_name, column_name, data_type, is_nullable, column_default
           FROM information_schema.columns WHERE table_schema = 'public' ORDER BY 1, 2"""
    )
    return [tuple(row) for row in rows]


async def _schema_objects(connection: asyncpg.Connection) -> list[tuple[Any, ...]]:
    rows = await connection.fetch(
        """SELECT 'index', indexname, indexdef FROM pg_indexes WHERE schemaname = 'public'
           UNION ALL SELECT 'constraint', conname, pg_get_constraintdef(oid) FROM pg_constraint
             WHERE connamespace = 'public'::regnamespace
           UNION ALL SELECT 'trigger', tgname, tgrelid::regclass::text FROM pg_trigger WHERE NOT tgisinternal
           ORDER BY 1, 2"""
    )
    return [tuple(row) for row in rows]


async def _legacy_rows(connection: asyncpg.Connection) -> dict[str, list[str]]:
    return {
        table: [str(r[0]) for r in await connection.fetch(f"SELECT to_jsonb(t)::text FROM {table} t ORDER BY 1")]
        for table in LEGACY_TABLES
    }


async def test_migrations_leave_legacy_columns_and_rows_untouched(empty_database: str) -> None:
    connection = await connect(empty_database)
    try:
        await migrate(connection, legacy_schema=True)
        await connection.execute("DROP TABLE quel_temporal_outputs, quel_temporal_charges, quel_temporal_migrations")
        await seed_accounts(connection)
        await seed_job(connection, "single_batch.fashion")
        legacy_columns = await _columns(connection)
        legacy_objects = await _schema_objects(connection)
        legacy_rows = await _legacy_rows(connection)

        applied = await migrate(connection)

        assert applied == ["0001_outputs_and_charges"]
        after = await _columns(connection)
        assert [c for c in after if c[0] in LEGACY_TABLES] == legacy_columns
        assert {c[0] for c in after} - set(LEGACY_TABLES) == {
            "quel_temporal_outputs",
            "quel_temporal_charges",
            "quel_temporal_migrations",
        }
        assert set(legacy_objects) <= set(await _schema_objects(connection))
        assert await _legacy_rows(connection) == legacy_rows
    finally:
        await connection.close()


async def test_running_migrations_twice_changes_nothing(empty_database: str) -> None:
    connection = await connect(empty_database)
    try:
        first = await migrate(connection, legacy_schema=True)
        columns, objects = await _columns(connection), await _schema_objects(connection)
        second = await migrate(connection, legacy_schema=True)
        assert first == ["0001_outputs_and_charges"]
        assert second == []
        assert await _columns(connection) == columns
        assert await _schema_objects(connection) == objects
    finally:
        await connection.close()


async def test_concurrent_migrations_apply_each_version_once(empty_database: str) -> None:
    import asyncio

    connections = [await connect(empty_database) for _ in range(3)]
    try:
        results = await asyncio.gather(*(migrate(c, legacy_schema=True) for c in connections))
        assert sorted(len(r) for r in results) == [0, 0, 1]
    finally:
        for connection in connections:
            await connection.close()
