"""`POST /api/modify/submit` (DOMAIN.md 4.6) with the prepaid charge and the refund of DECISIONS D12:
one DEDUCT for the whole job at submit, nothing charged by the worker, one REFUND for what the job did
not produce, exactly once; jobs prepaid by the Go endpoint never refunded."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest

from tests.api.conftest import MASK, PRICE, STORAGE_BASE_URL, ApiStack, modify_body, serving, table_counts
from tests.fakes.gemini_server import safety

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


async def test_submitted_job_completes_prepaid_once_and_refunds_a_blocked_image(
    open_api: httpx.AsyncClient, stack: ApiStack
) -> None:
    member, _ = await stack.member(1000)
    stack.gemini.script(safety())  # the first image is blocked, the others come back

    answer = await open_api.post("/api/modify/submit", json=modify_body(member, quantity=3))
    body = answer.json()
    await stack.result(body["jobId"])

    assert answer.status_code == 200
    assert body == {
        "success": True,
        "jobId": body["jobId"],
        "productionId": body["productionId"],
        "message": "Modify job submitted successfully",
        "totalImages": 3,
    }
    row = await stack.job_row(body["jobId"])
    assert (row["job_status"], row["completed_images"], row["failed_images"]) == ("completed", 2, 1)
    described = await stack.client.get_workflow_handle(body["jobId"]).describe()
    assert (
        described.raw_description.workflow_execution_info.priority.priority_key == stack.settings.priority_interactive
    )
    assert (row["job_type"], row["batch_index"], str(row["production_id"])) == (
        "simple_general",
        0,
        body["productionId"],
    )
    outputs = await stack.resources.pool.fetch(
        "SELECT attach_file_path, attach_file_type FROM quel_attach WHERE attach_id = ANY($1::bigint[])",
        row["generated_attach_ids"],
    )
    assert [output["attach_file_type"] for output in outputs] == ["image/png", "image/png"]
    folder = stack.settings.storage_dir / stack.settings.storage_bucket
    assert all((folder / output["attach_file_path"]).read_bytes().startswith(PNG_SIGNATURE) for output in outputs)
    # One DEDUCT for the 3 images at submit, no charge per image by the worker, one REFUND for the blocked one.
    assert [
        (r["transaction_type"], r["amount"], r["description"], r["attach_idx"])
        for r in await stack.ledger(body["productionId"])
    ] == [
        ("DEDUCT", -3 * PRICE, "Modify Image Generation", None),
        ("REFUND", PRICE, "Modify Image Refund", None),
    ]
    assert await stack.balance(member) == 1000 - 2 * PRICE
    # A second finish (a retried or replayed final step) gives nothing more back.
    assert await stack.resources.store.refund_unproduced(body["jobId"]) is None
    assert len(await stack.ledger(body["productionId"])) == 2
    # Started with the summary of its row, as every way in starts a job.
    summary = await described.static_summary()
    assert summary is not None and "simple_general · 3 images" in summary


async def test_the_active_organisation_pays_when_it_covers_the_job(
    open_api: httpx.AsyncClient, stack: ApiStack
) -> None:
    member, org = await stack.member(100, org_credit=5 * PRICE)
    assert org is not None

    paid_by_org = (await open_api.post("/api/modify/submit", json=modify_body(member, quantity=5))).json()
    # The organisation has nothing left: the member pays the next one.
    paid_by_member = (await open_api.post("/api/modify/submit", json=modify_body(member, quantity=1))).json()
    for job in (paid_by_org, paid_by_member):
        await stack.result(job["jobId"])

    org_rows = await stack.ledger(paid_by_org["productionId"])
    assert [
        (r["transaction_type"], r["amount"], r["org_id"], r["used_by_member_id"], r["user_id"]) for r in org_rows
    ] == [("DEDUCT", -5 * PRICE, org, member, member)]
    assert org_rows[0]["balance_after"] == 0
    assert (await stack.job_row(paid_by_org["jobId"]))["org_id"] == uuid.UUID(org)
    member_rows = await stack.ledger(paid_by_member["productionId"])
    assert [(r["amount"], r["org_id"], r["balance_after"]) for r in member_rows] == [(-PRICE, None, 100 - PRICE)]
    assert (await stack.org_balance(org), await stack.balance(member)) == (0, 100 - PRICE)


async def test_a_job_prepaid_by_the_go_endpoint_is_never_refunded(stack: ApiStack) -> None:
    job_id = await stack.seed("modify")
    stack.gemini.script(safety())
    before = await stack.resources.pool.fetchval("SELECT count(*) FROM quel_credits")

    await stack.start(job_id)
    await stack.result(job_id)

    row = await stack.job_row(job_id)
    assert (row["job_status"], row["completed_images"], row["failed_images"]) == ("completed", 1, 1)
    assert await stack.resources.pool.fetchval("SELECT count(*) FROM quel_credits") == before


async def test_short_balance_is_402_and_writes_nothing(open_api: httpx.AsyncClient, stack: ApiStack) -> None:
    member, org = await stack.member(3 * PRICE - 1, org_credit=3 * PRICE - 1)
    assert org is not None
    counts = await table_counts(stack)

    answer = await open_api.post("/api/modify/submit", json=modify_body(member, quantity=3))

    assert (answer.status_code, answer.json()) == (
        402,
        {"error": f"Insufficient credits. Required: {3 * PRICE}, Cost per image: {PRICE}"},
    )
    assert await table_counts(stack) == counts
    assert (await stack.balance(member), await stack.org_balance(org)) == (3 * PRICE - 1, 3 * PRICE - 1)


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"imageUrl": None, "userId": ""}, "Missing required fields: imageUrl, userId"),
        ({"maskDataUrl": "", "attachId": 0}, "Missing required fields: maskDataUrl, attachId"),
        ({"quantity": 0}, "Quantity must be between 1 and 10"),
        ({"quantity": 11}, "Quantity must be between 1 and 10"),
        ({"aspectRatio": "7:3"}, "aspectRatio '7:3' is not one of 1:1, 2:3, 3:2, 3:4, 4:3, 4:5, 5:4, 9:16, 16:9, 21:9"),
        ({"maskDataUrl": "data:image/jpeg;base64,/9j/4AAQ"}, "maskDataUrl must be a PNG data URL"),
        ({"maskDataUrl": "data:image/png;base64,aGVsbG8="}, "maskDataUrl does not hold a PNG image"),
        ({"imageUrl": "https://evil.example/x.png"}, "is not in our bucket"),
        ({"imageUrl": STORAGE_BASE_URL + "uploads/../../secrets.png"}, "contains a '..' segment"),
        ({"referenceImage": "data:text/plain;base64,aGVsbG8="}, "referenceImage does not hold a PNG"),
        ({"attachId": 999_999}, "attachId 999999 has no attachment"),
        ({"userId": "'; DROP TABLE quel_member; --"}, "userId must be a member id"),
        ({"userId": str(uuid.UUID(int=1))}, "is not a member"),
        ({"quantity": "2"}, "quantity: Input should be a valid integer"),
        ({"prompt": "x" * 10_001}, "prompt has 10001 characters"),
    ],
)
async def test_invalid_submission_is_400_naming_the_field_and_writes_nothing(
    open_api: httpx.AsyncClient, stack: ApiStack, changes: dict[str, object], error: str
) -> None:
    member, _ = await stack.member(1000)
    counts = await table_counts(stack)

    answer = await open_api.post("/api/modify/submit", json=modify_body(member, **changes))

    assert answer.status_code == 400
    assert error in answer.json()["error"]
    assert await table_counts(stack) == counts
    assert await stack.balance(member) == 1000


async def test_malformed_requests_are_4xx_json(open_api: httpx.AsyncClient, stack: ApiStack) -> None:
    cases = {
        "invalid JSON": (b'{"imageUrl": ', "application/json", 400, "invalid JSON"),
        "not an object": (b"[1, 2]", "application/json", 400, "must be a JSON object"),
        "wrong content type": (
            b"imageUrl=x",
            "application/x-www-form-urlencoded",
            415,
            "Content-Type: application/json",
        ),
        "JSON as text": (b'{"imageUrl": "x"}', "text/plain", 415, "Content-Type: application/json"),
    }
    for name, (content, content_type, status, error) in cases.items():
        answer = await open_api.post("/api/modify/submit", content=content, headers={"Content-Type": content_type})
        assert answer.status_code == status, (name, answer.text)
        assert error in answer.json()["error"], name


async def test_a_body_over_the_limit_is_413_declared_or_streamed(stack: ApiStack) -> None:
    # A small limit: a client still writing a large body when the 413 comes may see the connection reset.
    limit = 4096
    async with serving(stack, api_max_body_bytes=limit) as http:
        declared = await http.post("/api/modify/submit", json=modify_body(None, maskDataUrl=MASK + "A" * limit))

        async def chunks() -> AsyncIterator[bytes]:
            for _ in range(4):
                yield b"A" * (limit // 2)

        streamed = await http.post("/api/modify/submit", content=chunks(), headers={"Content-Type": "application/json"})
        enqueue = await http.post(
            "/api/enqueue", content=b" " * (limit + 1), headers={"Content-Type": "application/json"}
        )

    assert (declared.status_code, streamed.status_code, enqueue.status_code) == (413, 413, 413)
    assert "over the limit" in declared.json()["error"]
    assert "over the limit" in streamed.json()["error"]
    assert enqueue.json()["success"] is False
