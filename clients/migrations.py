"""Applies the port's additive SQL migrations (and, for dev/test databases, the legacy schema).

`legacy_schema` creates the legacy tables only in a database that has none of them, so
pointing it at the real database by mistake changes nothing there.

Each migration runs once, in file-name order, inside a transaction, under an advisory lock so
two processes migrating at once do not race. Applied versions are recorded in
`quel_temporal_migrations`; running again changes nothing.
"""

from __future__ import annotations

from importlib import resources

from clients.postgres import Connection

_LOCK_KEY = 0x5155454C  # "QUEL"

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
"""The tables of `legacy_schema.sql`: a database holding any of them is never given the file."""


def _sql_files(folder: str) -> list[tuple[str, str]]:
    root = resources.files("clients").joinpath("sql", folder)
    files = sorted((entry.name, entry.read_text()) for entry in root.iterdir() if entry.name.endswith(".sql"))
    return files


def _legacy_schema() -> str:
    return resources.files("clients").joinpath("sql", "legacy_schema.sql").read_text()


async def _holds_legacy_tables(connection: Connection) -> bool:
    """The file's guards only cover what it creates: run on a real legacy database it would
    still add its indexes and replace `update_updated_at_column` and the trigger using it."""
    return bool(
        await connection.fetchval(
            "SELECT count(*) FROM unnest($1::text[]) AS name WHERE to_regclass(name) IS NOT NULL", list(LEGACY_TABLES)
        )
    )


async def migrate(connection: Connection, *, legacy_schema: bool = False) -> list[str]:
    """Returns the versions applied by this call (empty when already up to date)."""
    applied: list[str] = []
    await connection.execute("SELECT pg_advisory_lock($1)", _LOCK_KEY)
    try:
        if legacy_schema and not await _holds_legacy_tables(connection):
            async with connection.transaction():
                await connection.execute(_legacy_schema())
        await connection.execute(
            """CREATE TABLE IF NOT EXISTS quel_temporal_migrations (
                 version    text PRIMARY KEY,
                 applied_at timestamptz NOT NULL DEFAULT now())"""
        )
        done = {row["version"] for row in await connection.fetch("SELECT version FROM quel_temporal_migrations")}
        for name, sql in _sql_files("migrations"):
            version = name.removesuffix(".sql")
            if version in done:
                continue
            async with connection.transaction():
                await connection.execute(sql)
                await connection.execute("INSERT INTO quel_temporal_migrations (version) VALUES ($1)", version)
            applied.append(version)
    finally:
        await connection.execute("SELECT pg_advisory_unlock($1)", _LOCK_KEY)
    return applied
