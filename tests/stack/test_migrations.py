"""`quel migrate`: additive, idempotent, and blind to nothing the legacy tables hold."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from clients.migrations import LEGACY_TABLES, migrate
from clients.postgres import connect, with_database
from tests.support.seed import seed_accounts, seed_job

MIGRATIONS = sorted(path.stem for path in (Path(__file__).parents[2] / "clients" / "sql" / "migrations").glob("*.sql"))


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


async def _functions(connection: asyncpg.Connection) -> list[tuple[Any, ...]]:
    """Definitions, and the catalog rows' oid and xmin: a function dropped and created again,
    or replaced by an identical one, shows as changed."""
    rows = await connection.fetch(
        """SELECT proname, pg_get_functiondef(oid), oid, xmin::text FROM pg_proc
           WHERE pronamespace = 'public'::regnamespace
           UNION ALL SELECT tgname, tgrelid::regclass::text, oid, xmin::text FROM pg_trigger WHERE NOT tgisinternal
           ORDER BY 1"""
    )
    return [tuple(row) for row in rows]


async def _snapshot(connection: asyncpg.Connection) -> tuple[Any, ...]:
    return (
        await _columns(connection),
        await _schema_objects(connection),
        await _functions(connection),
        await _legacy_rows(connection),
    )


async def _legacy_rows(connection: asyncpg.Connection) -> dict[str, list[str]]:
    return {
        table: [str(r[0]) for r in await connection.fetch(f"SELECT to_jsonb(t)::text FROM {table} t ORDER BY 1")]
        for table in LEGACY_TABLES
    }


async def test_migrations_leave_legacy_columns_and_rows_untouched(empty_database: str) -> None:
    connection = await connect(empty_database)
    try:
        await migrate(connection, legacy_schema=True)
        port_tables = await connection.fetch("SELECT tablename FROM pg_tables WHERE tablename LIKE 'quel_temporal_%'")
        await connection.execute(f"DROP TABLE {', '.join(row['tablename'] for row in port_tables)}")
        await seed_accounts(connection)
        await seed_job(connection, "single_batch.fashion")
        legacy_columns = await _columns(connection)
        legacy_objects = await _schema_objects(connection)
        legacy_rows = await _legacy_rows(connection)

        applied = await migrate(connection)

        assert applied == MIGRATIONS
        after = await _columns(connection)
        assert [c for c in after if c[0] in LEGACY_TABLES] == legacy_columns
        # The port adds only its own tables.
        assert all(table.startswith("quel_temporal_") for table in {c[0] for c in after} - set(LEGACY_TABLES))
        assert set(legacy_objects) <= set(await _schema_objects(connection))
        assert await _legacy_rows(connection) == legacy_rows
    finally:
        await connection.close()


async def test_running_migrations_twice_changes_nothing(empty_database: str) -> None:
    connection = await connect(empty_database)
    try:
        first = await migrate(connection, legacy_schema=True)
        before = await _snapshot(connection)
        second = await migrate(connection, legacy_schema=True)
        assert first == MIGRATIONS
        assert second == []
        assert await _snapshot(connection) == before
    finally:
        await connection.close()


async def test_legacy_schema_leaves_an_existing_legacy_database_untouched(empty_database: str) -> None:
    """The real database lacks indexes the file creates and has its own trigger function: a
    `--legacy-schema` pointed at it by mistake must not add or replace anything."""
    connection = await connect(empty_database)
    try:
        await migrate(connection, legacy_schema=True)
        await connection.execute(
            """DROP INDEX quel_credits_created_idx, quel_credits_user_idx;
               CREATE OR REPLACE FUNCTION update_updated_at_column() RETURNS trigger LANGUAGE plpgsql AS $$
               BEGIN NEW.updated_at = timezone('utc', now()); RETURN NEW; END $$"""
        )
        await seed_accounts(connection)
        await seed_job(connection, "single_batch.fashion")
        before = await _snapshot(connection)

        assert await migrate(connection, legacy_schema=True) == []
        assert await migrate(connection, legacy_schema=True) == []

        assert await _snapshot(connection) == before
    finally:
        await connection.close()


async def test_concurrent_migrations_apply_each_version_once(empty_database: str) -> None:
    import asyncio

    connections = [await connect(empty_database) for _ in range(3)]
    try:
        results = await asyncio.gather(*(migrate(c, legacy_schema=True) for c in connections))
        assert sorted(results) == [[], [], MIGRATIONS]
    finally:
        for connection in connections:
            await connection.close()
