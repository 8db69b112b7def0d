"""The HTTP API served by uvicorn on a free port and called over TCP with httpx, against the real
Temporal dev server, PostgreSQL and Redis, with in-process workers and Gemini's fake over HTTP. One
stack per test module; each test serves an app with the settings (auth mode) it needs."""

from __future__ import annotations

import asyncio
import base64
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from api.server import bind, serve, url_of
from quel.resources import Resources, open_resources
from quel.settings import ApiAuth, Settings, load_settings
from quel.worker import running_workers
from tests.fakes.gemini_server import FakeGemini, tiny_png
from tests.support.harness import seed_inputs
from tests.support.remote import GEMINI_KEY
from tests.support.seed import seed_accounts
from tests.support.waiting import eventually

STORAGE_BASE_URL = "https://project.supabase.test/storage/v1/object/public/attachments/"
ORIGINAL_ATTACH_ID = 51001
"""A seeded fixture input (`uploads/upload-2025-12-05T02-14-07-331Z.webp`): the picture to in-paint."""
ORIGINAL_URL = STORAGE_BASE_URL + "uploads/upload-2025-12-05T02-14-07-331Z.webp"
MASK = "data:image/png;base64," + base64.b64encode(tiny_png((255, 255, 255))).decode()
PRICE = 20
TOKEN = "api-test-token-not-a-secret-anywhere"


@dataclass
class ApiStack:
    settings: Settings
    client: Client
    resources: Resources
    gemini: FakeGemini

    async def member(self, credit: int, *, org_credit: int | None = None) -> tuple[str, str | None]:
        """A fresh member with `credit`, and with `org_credit` an active organisation they belong to."""
        member_id = str(uuid.uuid4())
        db = self.resources.pool
        await db.execute(
            """INSERT INTO quel_member (quel_member_id, quel_email, quel_member_credit)
               VALUES ($1, 'member@example.com', $2)""",
            uuid.UUID(member_id),
            credit,
        )
        if org_credit is None:
            return member_id, None
        org_id = str(uuid.uuid4())
        await db.execute(
            """INSERT INTO quel_organization (org_id, org_name, org_credit, owner_id, org_status)
               VALUES ($1, 'Test Studio', $2, $3, 'active')""",
            uuid.UUID(org_id),
            org_credit,
            uuid.UUID(member_id),
        )
        await db.execute(
            "INSERT INTO quel_organization_member (org_id, member_id, role, status) VALUES ($1, $2, 'owner', 'active')",
            uuid.UUID(org_id),
            uuid.UUID(member_id),
        )
        return member_id, org_id

    async def balance(self, member_id: str) -> int:
        return int(
            await self.resources.pool.fetchval(
                "SELECT quel_member_credit FROM quel_member WHERE quel_member_id = $1", uuid.UUID(member_id)
            )
        )

    async def org_balance(self, org_id: str) -> int:
        return int(
            await self.resources.pool.fetchval(
                "SELECT org_credit FROM quel_organization WHERE org_id = $1", uuid.UUID(org_id)
            )
        )

    async def ledger(self, production_id: str) -> list[dict[str, Any]]:
        rows = await self.resources.pool.fetch(
            """SELECT transaction_type, amount, balance_after, description, user_id::text, org_id::text,
                      used_by_member_id::text, attach_idx, api_provider
               FROM quel_credits WHERE production_idx = $1 ORDER BY created_at, transaction_type""",
            uuid.UUID(production_id),
        )
        return [dict(row) for row in rows]

    async def job_row(self, job_id: str) -> dict[str, Any]:
        row = await self.resources.pool.fetchrow(
            "SELECT * FROM quel_production_jobs WHERE job_id = $1", uuid.UUID(job_id)
        )
        assert row is not None
        return dict(row)

    async def result(self, job_id: str) -> None:
        """Waits until the job's workflow has closed, however it ended."""
        handle = self.client.get_workflow_handle(job_id)

        async def closed() -> bool:
            return (await handle.describe()).close_time is not None

        await eventually(closed, timeout=60, what=f"workflow {job_id} closed")


def modify_body(user_id: str | None, **changes: Any) -> dict[str, Any]:
    body = {
        "imageUrl": ORIGINAL_URL,
        "maskDataUrl": MASK,
        "prompt": "replace the jacket with a beige trench coat",
        "attachId": ORIGINAL_ATTACH_ID,
        "userId": user_id,
        "quantity": 2,
        "aspectRatio": "3:4",
    }
    return {**body, **changes}


def api_settings(
    database_url: str, redis_url: str, storage_dir: Path, gemini: FakeGemini, temporal_env: WorkflowEnvironment
) -> Settings:
    queue = uuid.uuid4().hex[:8]
    return load_settings(
        database_url=SecretStr(database_url),
        redis_url=SecretStr(redis_url),
        temporal_address=temporal_env.client.service_client.config.target_host,
        temporal_task_queue=f"jobs-{queue}",
        temporal_image_task_queue=f"images-{queue}",
        redis_queue=f"jobs:queue:{queue}",
        storage_dir=storage_dir,
        image_generator="gemini",
        gemini_api_key=SecretStr(GEMINI_KEY),
        gemini_base_url=gemini.base_url,
        gemini_timeout_seconds=5.0,
        image_per_price=PRICE,
        api_auth=ApiAuth.NONE,
        supabase_storage_base_url=STORAGE_BASE_URL,
    )


@pytest.fixture(scope="module")
def gemini() -> Iterator[FakeGemini]:
    with FakeGemini() as server:
        yield server


@asynccontextmanager
async def api_stack(
    temporal_env: WorkflowEnvironment,
    database_url: str,
    redis_url: str,
    gemini: FakeGemini,
    storage_dir: Path,
    *,
    workers: bool = True,
) -> AsyncIterator[ApiStack]:
    """Seeded accounts and inputs, with in-process workers unless a test runs its own worker process."""
    settings = api_settings(database_url, redis_url, storage_dir, gemini, temporal_env)
    async with open_resources(settings) as resources:
        async with resources.pool.acquire() as connection:
            await seed_accounts(connection)
        await seed_inputs(settings)
        stack = ApiStack(settings, temporal_env.client, resources, gemini)
        if not workers:
            yield stack
            return
        async with running_workers(temporal_env.client, settings, resources):
            yield stack


@pytest.fixture(scope="module")
async def stack(
    temporal_env: WorkflowEnvironment,
    database_url: str,
    redis_url: str,
    gemini: FakeGemini,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[ApiStack]:
    storage = tmp_path_factory.mktemp("storage")
    async with api_stack(temporal_env, database_url, redis_url, gemini, storage) as found:
        yield found


@pytest.fixture(autouse=True)
def fresh_gemini(gemini: FakeGemini) -> Iterator[None]:
    """Each test starts with Gemini answering every call at once with an image."""
    yield
    gemini.release()
    gemini.script()
    gemini.latency = 0.0


@asynccontextmanager
async def serving(
    stack: ApiStack, *, resources: Resources | None = None, **overrides: Any
) -> AsyncIterator[httpx.AsyncClient]:
    """The app with the stack's settings changed by `overrides`, on a free port; an httpx client on it."""
    settings = stack.settings.model_copy(update=overrides)
    app = create_app(settings, stack.client, resources or stack.resources)
    listener = bind("127.0.0.1", 0)
    stop = asyncio.Event()
    server = asyncio.create_task(serve(app, listener, stop))
    try:
        async with httpx.AsyncClient(base_url=url_of(listener), timeout=30) as http:
            yield http
    finally:
        stop.set()
        await server


@pytest.fixture(scope="module")
async def open_api(stack: ApiStack) -> AsyncIterator[httpx.AsyncClient]:
    """API_AUTH=none, the Go server's behaviour."""
    async with serving(stack) as http:
        yield http


@pytest.fixture(scope="module")
async def token_api(stack: ApiStack) -> AsyncIterator[httpx.AsyncClient]:
    async with serving(stack, api_auth=ApiAuth.TOKEN, api_token=SecretStr(TOKEN)) as http:
        http.headers["Authorization"] = f"Bearer {TOKEN}"
        yield http
