"""The HTTP API served by uvicorn on a free port and called over TCP with httpx, against the real
Temporal dev server, PostgreSQL and Redis, with in-process workers and Gemini's fake over HTTP. One
stack per test module; each test serves an app with the settings (auth mode) it needs. A module
that runs its own worker process says `IN_PROCESS_WORKERS = False`."""

from __future__ import annotations

import asyncio
import base64
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from api.server import bind, serve, url_of
from quel.resources import Resources
from quel.settings import ApiAuth
from tests.fakes.gemini_server import FakeGemini, tiny_png
from tests.support.harness import Harness, harness, settings_for
from tests.support.remote import with_fake_gemini
from tests.support.waiting import eventually

STORAGE_BASE_URL = "https://project.supabase.test/storage/v1/object/public/attachments/"
ORIGINAL_ATTACH_ID = 51001
"""A seeded fixture input (`uploads/upload-2025-12-05T02-14-07-331Z.webp`): the picture to in-paint."""
ORIGINAL_URL = STORAGE_BASE_URL + "uploads/upload-2025-12-05T02-14-07-331Z.webp"
MASK = "data:image/png;base64," + base64.b64encode(tiny_png((255, 255, 255))).decode()
PRICE = 20
TOKEN = "api-test-token-not-a-secret-anywhere"


@dataclass
class ApiStack(Harness):
    gemini: FakeGemini

    async def member(self, credit: int, *, org_credit: int | None = None) -> tuple[str, str | None]:
        """A fresh member with `credit`, and with `org_credit` an active organisation they belong to."""
        member_id = str(uuid.uuid4())
        await self.db.execute(
            """INSERT INTO quel_member (quel_member_id, quel_email, quel_member_credit)
               VALUES ($1, 'member@example.com', $2)""",
            uuid.UUID(member_id),
            credit,
        )
        if org_credit is None:
            return member_id, None
        org_id = str(uuid.uuid4())
        await self.db.execute(
            """INSERT INTO quel_organization (org_id, org_name, org_credit, owner_id, org_status)
               VALUES ($1, 'Test Studio', $2, $3, 'active')""",
            uuid.UUID(org_id),
            org_credit,
            uuid.UUID(member_id),
        )
        await self.db.execute(
            "INSERT INTO quel_organization_member (org_id, member_id, role, status) VALUES ($1, $2, 'owner', 'active')",
            uuid.UUID(org_id),
            uuid.UUID(member_id),
        )
        return member_id, org_id

    async def balance(self, member_id: str) -> int:
        return int(
            await self.db.fetchval(
                "SELECT quel_member_credit FROM quel_member WHERE quel_member_id = $1", uuid.UUID(member_id)
            )
        )

    async def org_balance(self, org_id: str) -> int:
        return int(
            await self.db.fetchval("SELECT org_credit FROM quel_organization WHERE org_id = $1", uuid.UUID(org_id))
        )

    async def ledger(self, production_id: str) -> list[dict[str, Any]]:
        rows = await self.db.fetch(
            """SELECT transaction_type, amount, balance_after, description, user_id::text, org_id::text,
                      used_by_member_id::text, attach_idx, api_provider
               FROM quel_credits WHERE production_idx = $1 ORDER BY created_at, transaction_type""",
            uuid.UUID(production_id),
        )
        return [dict(row) for row in rows]

    async def result(self, job_id: str) -> None:
        """Waits until the job's workflow has closed, however it ended."""
        handle = self.client.get_workflow_handle(job_id)

        async def closed() -> bool:
            return (await handle.describe()).close_time is not None

        await eventually(closed, timeout=60, what=f"workflow {job_id} closed")


async def table_counts(stack: ApiStack) -> tuple[int, ...]:
    """Rows of every table a submit writes, and the producer's queue."""
    record = await stack.resources.pool.fetchrow(
        """SELECT (SELECT count(*) FROM quel_production_jobs), (SELECT count(*) FROM quel_production_photo),
                  (SELECT count(*) FROM quel_credits), (SELECT count(*) FROM quel_temporal_prepaid_jobs)"""
    )
    assert record is not None
    queued = await stack.resources.redis.llen(stack.settings.redis_queue)
    return (*record.values(), queued)


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


@pytest.fixture(scope="module")
def gemini() -> Iterator[FakeGemini]:
    with FakeGemini() as server:
        yield server


@pytest.fixture(scope="module")
async def stack(
    temporal_env: WorkflowEnvironment,
    database_url: str,
    redis_url: str,
    gemini: FakeGemini,
    tmp_path_factory: pytest.TempPathFactory,
    request: pytest.FixtureRequest,
) -> AsyncIterator[ApiStack]:
    """Seeded accounts and inputs, with in-process workers unless the module runs its own."""
    settings = settings_for(
        database_url,
        redis_url,
        tmp_path_factory.mktemp("storage"),
        temporal_address=temporal_env.client.service_client.config.target_host,
        redis_queue=f"jobs:queue:{uuid.uuid4().hex[:8]}",
        image_per_price=PRICE,
        api_auth=ApiAuth.NONE,
        supabase_storage_base_url=STORAGE_BASE_URL,
    )
    settings = with_fake_gemini(settings, gemini_url=gemini.base_url)
    workers = getattr(request.module, "IN_PROCESS_WORKERS", True)
    async with harness(temporal_env.client, settings, workers=workers) as h:
        yield ApiStack(h.client, h.settings, h.resources, gemini)


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
