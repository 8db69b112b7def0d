"""Loads the spec's fixture rows into a test database, the way the producer would have."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

from clients.postgres import Connection

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
MEMBER_ID = "233ef9e6-17b4-484f-a2b9-67ec83708d7e"
ORG_ID = "2a9bd6db-5f95-4ee7-96b8-d7d7c549095d"


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


async def insert_row(connection: Connection, table: str, row: dict[str, Any]) -> None:
    """Inserts a JSON row with PostgreSQL's own record population (column types from the table)."""
    columns = ", ".join(row)
    await connection.execute(
        f"INSERT INTO {table} ({columns}) SELECT {columns} FROM jsonb_populate_record(NULL::{table}, $1::jsonb)",
        row,
    )


async def seed_accounts(connection: Connection) -> None:
    await insert_row(connection, "quel_member", fixture("quel_member.json"))
    for row in fixture("quel_attach.json"):
        await insert_row(connection, "quel_attach", row)
    await connection.execute("SELECT setval(pg_get_serial_sequence('quel_attach', 'attach_id'), 60000)")
    await insert_row(connection, "quel_organization", fixture("quel_organization.json"))
    for row in fixture("quel_organization_member.json"):
        await insert_row(connection, "quel_organization_member", row)


async def seed_job(connection: Connection, name: str, **changes: Any) -> str:
    """Inserts the fixture job `name` (and its production) under fresh ids; returns the job id."""
    job = fixture(f"jobs/{name}.json")
    production = next(p for p in fixture("quel_production_photo.json") if p["production_id"] == job["production_id"])
    production = {**production, "production_id": str(uuid.uuid4())}
    job = {**job, "job_id": str(uuid.uuid4()), "production_id": production["production_id"], **changes}
    await insert_row(connection, "quel_production_photo", production)
    await insert_row(connection, "quel_production_jobs", job)
    return str(job["job_id"])


def fashion_job_of(images: int) -> dict[str, Any]:
    """The fashion fixture's input asking for `images` front/full shots, in combinations of at most 10."""
    data = fixture("jobs/single_batch.fashion.json")["job_input_data"]
    quantities = [10] * (images // 10) + ([images % 10] if images % 10 else [])
    return {**data, "combinations": [{"angle": "front", "shot": "full", "quantity": q} for q in quantities]}


def input_paths() -> dict[int, str]:
    """Storage path of every seeded input (after the legacy `upload-` fix-up)."""
    paths = {}
    for row in fixture("quel_attach.json"):
        path = row["attach_file_path"] or row["attach_directory"]
        if not path:
            continue
        paths[row["attach_id"]] = f"uploads/{path}" if path.startswith("upload-") else path
    return paths
