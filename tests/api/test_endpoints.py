"""The Go server's job endpoints and the two new ones, over TCP, with API_AUTH=none and token: paths,
methods, status codes and response shapes (DOMAIN.md 2.3, 10.1; DECISIONS D9, D11)."""

from __future__ import annotations

import uuid
from dataclasses import replace

import httpx
import pytest
import redis.asyncio as redis
from pydantic import SecretStr

from api.app import CANCEL_SENT
from clients.cancel_flags import flag_key
from quel.settings import ApiAuth
from tests.api.conftest import PRICE, ApiStack, modify_body, serving
from tests.support.processes import free_port
from tests.support.waiting import eventually

HEALTHY = {"status": "healthy", "service": "quel-temporal"}


async def test_health_answers_without_a_token(token_api: httpx.AsyncClient) -> None:
    for path in ("/", "/health"):
        answer = await token_api.get(path, headers={"Authorization": ""})
        assert (answer.status_code, answer.json()) == (200, HEALTHY)
    ready = await token_api.get("/health/ready", headers={"Authorization": ""})
    assert (ready.status_code, ready.json()["status"]) == (200, "ready")


async def test_readiness_names_the_dependency_that_does_not_answer(stack: ApiStack) -> None:
    unreachable = redis.Redis.from_url(f"redis://127.0.0.1:{free_port()}/0")
    try:
        async with serving(stack, resources=replace(stack.resources, redis=unreachable)) as http:
            answer = await http.get("/health/ready")
    finally:
        await unreachable.aclose()

    assert answer.status_code == 503
    assert answer.json()["error"] == "Redis not answering"


async def test_token_mode_refuses_a_missing_or_wrong_token(token_api: httpx.AsyncClient, stack: ApiStack) -> None:
    job_id = str(uuid.uuid4())
    calls = [
        ("GET", f"/api/jobs/{job_id}"),
        ("GET", f"/api/jobs/{job_id}/events"),
        ("POST", f"/api/jobs/{job_id}/cancel"),
        ("GET", f"/api/modify/status/{job_id}"),
        ("POST", "/api/modify/submit"),
    ]
    for method, path in calls:
        for header in ("", "Bearer wrong-token", f"Basic {stack.settings.api_token}"):
            answer = await token_api.request(method, path, headers={"Authorization": header})
            assert answer.status_code == 401, (method, path, header)
            assert "error" in answer.json()
    enqueue = await token_api.post("/api/enqueue", json={"job_id": job_id}, headers={"Authorization": "Bearer x"})
    assert enqueue.status_code == 401
    assert enqueue.json()["success"] is False


@pytest.mark.parametrize("path", ["/enqueue", "/api/enqueue"])
async def test_enqueue_pushes_like_the_producer(token_api: httpx.AsyncClient, stack: ApiStack, path: str) -> None:
    job_id = await stack.seed("single_batch.fashion", job_status="completed")
    queue = stack.settings.redis_queue
    before = await stack.resources.redis.llen(queue)

    answer = await token_api.post(path, json={"job_id": job_id})

    assert answer.status_code == 200
    assert answer.json() == {
        "success": True,
        "message": "Job enqueued successfully",
        "job_id": job_id,
        "queue": queue,
        "queuePosition": before + 1,
    }
    assert await stack.resources.redis.lindex(queue, 0) == job_id.encode()


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        ({"job_id": "not-a-uuid"}, 400, "job_id must be a job id (a UUID)"),
        ({"job_id": "1; DROP TABLE quel_production_jobs"}, 400, "job_id must be a job id (a UUID)"),
        ({}, 400, "job_id is required"),
        ({"job_id": str(uuid.UUID(int=7))}, 404, "Job not found"),
    ],
)
async def test_enqueue_refuses_bad_ids_with_the_go_shape(
    token_api: httpx.AsyncClient, stack: ApiStack, body: dict[str, str], status: int, error: str
) -> None:
    queue = stack.settings.redis_queue
    before = await stack.resources.redis.llen(queue)

    answer = await token_api.post("/api/enqueue", json=body)

    assert (answer.status_code, answer.json()) == (status, {"success": False, "error": error})
    assert await stack.resources.redis.llen(queue) == before


async def test_cancel_of_a_running_job_stops_it(open_api: httpx.AsyncClient, stack: ApiStack) -> None:
    member, _ = await stack.member(10 * PRICE)
    stack.gemini.hold()
    submitted = (await open_api.post("/api/modify/submit", json=modify_body(member, quantity=4))).json()
    job_id = submitted["jobId"]
    await eventually(
        lambda: stack.gemini.in_flight == stack.settings.image_concurrency, timeout=30, what="every slot calling Gemini"
    )
    calls_at_cancel = stack.gemini.call_count

    answer = await open_api.post(f"/api/jobs/{job_id}/cancel")
    stack.gemini.release()
    await stack.result(job_id)

    assert answer.status_code == 200
    assert answer.json() == {
        "success": True,
        "message": CANCEL_SENT,
        "job_id": job_id,
        "current_status": "processing",
        "completed_images": 0,
        "total_images": 4,
    }
    row = await stack.job_row(job_id)
    assert row["job_status"] == "user_cancelled"
    # The replies in flight at the cancel are discarded, and no image starts after it.
    assert (row["completed_images"], row["generated_attach_ids"]) == (0, [])
    assert stack.gemini.call_count == calls_at_cancel
    assert await stack.resources.redis.get(flag_key(job_id)) == b"true"
    # Paid for 4, produced none: all 4 come back.
    assert await stack.balance(member) == 10 * PRICE
    again = await open_api.post(f"/api/jobs/{job_id}/cancel")
    assert again.json() == {
        "success": False,
        "message": "Job already user_cancelled",
        "job_id": job_id,
        "job_status": "user_cancelled",
        "completed_images": 0,
    }


@pytest.mark.parametrize("status", ["completed", "failed", "user_cancelled"])
async def test_cancel_of_an_ended_job_answers_already(
    token_api: httpx.AsyncClient, stack: ApiStack, status: str
) -> None:
    job_id = await stack.seed("single_batch.fashion", job_status=status, completed_images=3)

    answer = await token_api.post(f"/api/jobs/{job_id}/cancel", content=b"ignored body")

    assert answer.status_code == 200
    assert answer.json() == {
        "success": False,
        "message": f"Job already {status}",
        "job_id": job_id,
        "job_status": status,
        "completed_images": 3,
    }
    assert await stack.resources.redis.get(flag_key(job_id)) is None


async def test_cancel_of_an_unknown_or_malformed_id(token_api: httpx.AsyncClient, stack: ApiStack) -> None:
    missing = str(uuid.uuid4())
    answer = await token_api.post(f"/api/jobs/{missing}/cancel")
    assert (answer.status_code, answer.json()) == (404, {"error": "Job not found"})
    assert await stack.resources.redis.get(flag_key(missing)) is None
    for bad in ("abc", "..%2F..%2Fetc%2Fpasswd", "1'%20OR%20'1'='1"):
        answer = await token_api.post(f"/api/jobs/{bad}/cancel")
        assert answer.status_code in (400, 404), bad
        assert "error" in answer.json()


async def test_cancel_preflight_allows_the_front_end(token_api: httpx.AsyncClient) -> None:
    path = f"/api/jobs/{uuid.uuid4()}/cancel"
    preflight = await token_api.options(
        path,
        headers={
            "Authorization": "",
            "Origin": "https://app.example.com",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "*"
    assert "POST" in preflight.headers["access-control-allow-methods"]
    bare = await token_api.options(path, headers={"Authorization": ""})
    assert bare.status_code == 200


async def test_status_endpoints_of_an_ended_job(token_api: httpx.AsyncClient, stack: ApiStack) -> None:
    job_id = await stack.seed(
        "single_batch.fashion", job_status="completed", completed_images=4, generated_attach_ids=[7]
    )

    row = await token_api.get(f"/api/modify/status/{job_id}")
    view = await token_api.get(f"/api/jobs/{job_id}")

    assert row.status_code == 200
    assert (row.json()["job_id"], row.json()["job_status"], row.json()["job_type"]) == (
        job_id,
        "completed",
        "single_batch",
    )
    assert row.json()["job_input_data"]["category"] == "fashion"
    assert view.status_code == 200
    assert {key: view.json()[key] for key in ("job_id", "job_status", "workflow_status", "completed_images")} == {
        "job_id": job_id,
        "job_status": "completed",
        "workflow_status": None,
        "completed_images": 4,
    }
    assert view.json()["generated_attach_ids"] == [7]
    missing = str(uuid.uuid4())
    for path in (f"/api/modify/status/{missing}", f"/api/jobs/{missing}", f"/api/jobs/{missing}/events"):
        answer = await token_api.get(path)
        assert (answer.status_code, answer.json()) == (404, {"error": "Job not found"}), path


async def test_openapi_docs_are_served(open_api: httpx.AsyncClient) -> None:
    docs = await open_api.get("/docs")
    schema = (await open_api.get("/openapi.json")).json()
    assert docs.status_code == 200
    assert {"/api/modify/submit", "/api/jobs/{jobId}/cancel", "/api/jobs/{jobId}/events", "/api/enqueue"} <= set(
        schema["paths"]
    )


async def test_token_is_checked_in_constant_time_and_never_echoed(stack: ApiStack) -> None:
    secret = "tok-" + uuid.uuid4().hex
    async with serving(stack, api_auth=ApiAuth.TOKEN, api_token=SecretStr(secret)) as http:
        near = await http.get(f"/api/jobs/{uuid.uuid4()}", headers={"Authorization": f"Bearer {secret[:-1]}"})
    assert near.status_code == 401
    assert secret[:-1] not in near.text
