"""API_AUTH=supabase-jwt (DECISIONS D11): the user's Supabase access token, verified for its signature
(HS256 with the project's secret; RS256 and ES256 with keys from the project's JWKS, served here by a
small local HTTP server), expiry and audience; a caller only touches their own or their organisation's
jobs, and submits in-paint jobs as themselves."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from pydantic import SecretStr

from clients.cancel_flags import flag_key
from quel.settings import ApiAuth
from tests.api.conftest import PRICE, ApiStack, modify_body, serving
from tests.support.waiting import eventually

SECRET = "supabase-jwt-secret-for-tests-only-32-bytes-long"
RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
EC_KEY = ec.generate_private_key(ec.SECP256R1())
UNLISTED_RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def token(member_id: str | None, *, key: Any = SECRET, algorithm: str = "HS256", **claims: Any) -> str:
    payload = {"aud": "authenticated", "exp": int(time.time()) + 600, "role": "authenticated", **claims}
    if member_id is not None:
        payload.setdefault("sub", member_id)
    headers = {"kid": {"RS256": "rsa-1", "ES256": "ec-1"}[algorithm]} if algorithm != "HS256" else None
    return jwt.encode(payload, key, algorithm=algorithm, headers=headers)


def bearer(member_id: str | None, **options: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(member_id, **options)}"}


class JwksServer:
    """`/auth/v1/.well-known/jwks.json` with the public halves of RSA_KEY and EC_KEY, as Supabase serves it."""

    def __init__(self) -> None:
        rsa_jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(RSA_KEY.public_key()))
        ec_jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(EC_KEY.public_key()))
        keys = [
            {**rsa_jwk, "kid": "rsa-1", "use": "sig", "alg": "RS256"},
            {**ec_jwk, "kid": "ec-1", "use": "sig", "alg": "ES256"},
        ]
        body = json.dumps({"keys": keys}).encode()
        self.requests = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.requests += 1
                if self.path != "/auth/v1/.well-known/jwks.json":
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_: object) -> None:
                """Quiet."""

        self._http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._http.server_address[1]}"
        self._thread = threading.Thread(target=self._http.serve_forever, daemon=True)

    def __enter__(self) -> JwksServer:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._http.shutdown()
        self._http.server_close()


@pytest.fixture(scope="module")
def jwks() -> Iterator[JwksServer]:
    with JwksServer() as server:
        yield server


@pytest.fixture(scope="module")
async def jwt_api(stack: ApiStack, jwks: JwksServer) -> AsyncIterator[httpx.AsyncClient]:
    async with serving(
        stack, api_auth=ApiAuth.SUPABASE_JWT, supabase_jwt_secret=SecretStr(SECRET), supabase_url=jwks.url
    ) as http:
        yield http


async def test_a_member_follows_and_cancels_only_their_own_running_job(
    jwt_api: httpx.AsyncClient, stack: ApiStack
) -> None:
    owner, _ = await stack.member(10 * PRICE)
    stranger, _ = await stack.member(10 * PRICE)
    stack.gemini.hold()
    submitted = await jwt_api.post("/api/modify/submit", json=modify_body(None, quantity=2), headers=bearer(owner))
    job_id = submitted.json()["jobId"]
    await eventually(lambda: stack.gemini.in_flight == 2, timeout=30, what="two Gemini calls")

    refused = {
        path: await jwt_api.request(method, path, headers=bearer(stranger))
        for method, path in (
            ("POST", f"/api/jobs/{job_id}/cancel"),
            ("GET", f"/api/jobs/{job_id}"),
            ("GET", f"/api/jobs/{job_id}/events"),
            ("GET", f"/api/modify/status/{job_id}"),
        )
    }
    enqueue = await jwt_api.post("/api/enqueue", json={"job_id": job_id}, headers=bearer(stranger))
    untouched = await stack.job_row(job_id)
    flag_after_refusal = await stack.resources.redis.get(flag_key(job_id))
    own_status = await jwt_api.get(f"/api/jobs/{job_id}", headers=bearer(owner))
    own_cancel = await jwt_api.post(f"/api/jobs/{job_id}/cancel", headers=bearer(owner))
    stack.gemini.release()
    await stack.result(job_id)

    assert submitted.status_code == 200
    for path, answer in refused.items():
        assert (answer.status_code, answer.json()) == (403, {"error": "not your job"}), path
    assert (enqueue.status_code, enqueue.json()) == (403, {"success": False, "error": "not your job"})
    assert untouched["job_status"] == "processing"
    assert flag_after_refusal is None
    assert own_status.status_code == 200
    assert own_cancel.json()["success"] is True
    assert (await stack.job_row(job_id))["job_status"] == "user_cancelled"


async def test_an_active_member_of_the_jobs_organisation_may_touch_it(
    jwt_api: httpx.AsyncClient, stack: ApiStack
) -> None:
    owner, org = await stack.member(0, org_credit=10 * PRICE)
    colleague, _ = await stack.member(0)
    await stack.resources.pool.execute(
        "INSERT INTO quel_organization_member (org_id, member_id, status) VALUES ($1, $2, 'active')",
        uuid.UUID(org or ""),
        uuid.UUID(colleague),
    )
    submitted = await jwt_api.post("/api/modify/submit", json=modify_body(None, quantity=1), headers=bearer(owner))
    job_id = submitted.json()["jobId"]
    await stack.result(job_id)

    answer = await jwt_api.get(f"/api/jobs/{job_id}", headers=bearer(colleague))

    assert answer.status_code == 200
    assert answer.json()["job_status"] == "completed"
    await stack.resources.pool.execute(
        "UPDATE quel_organization_member SET status = 'left' WHERE member_id = $1", uuid.UUID(colleague)
    )
    assert (await jwt_api.get(f"/api/jobs/{job_id}", headers=bearer(colleague))).status_code == 403


async def test_submit_takes_the_member_from_the_token_not_the_body(jwt_api: httpx.AsyncClient, stack: ApiStack) -> None:
    caller, _ = await stack.member(10 * PRICE)
    victim, _ = await stack.member(10 * PRICE)

    answer = await jwt_api.post("/api/modify/submit", json=modify_body(victim, quantity=2), headers=bearer(caller))
    await stack.result(answer.json()["jobId"])

    row = await stack.job_row(answer.json()["jobId"])
    assert str(row["quel_member_id"]) == caller
    assert row["job_input_data"]["userId"] == caller
    assert (await stack.balance(caller), await stack.balance(victim)) == (8 * PRICE, 10 * PRICE)


async def test_asymmetric_tokens_are_checked_against_the_projects_jwks(
    jwt_api: httpx.AsyncClient, stack: ApiStack, jwks: JwksServer
) -> None:
    member, _ = await stack.member(0)
    missing = f"/api/jobs/{uuid.uuid4()}"  # a valid token reaches the handler: 404, not 401

    rsa_signed = await jwt_api.get(missing, headers=bearer(member, key=RSA_KEY, algorithm="RS256"))
    ec_signed = await jwt_api.get(missing, headers=bearer(member, key=EC_KEY, algorithm="ES256"))
    unlisted = await jwt_api.get(missing, headers=bearer(member, key=UNLISTED_RSA_KEY, algorithm="RS256"))

    assert (rsa_signed.status_code, ec_signed.status_code) == (404, 404)
    assert (unlisted.status_code, unlisted.json()) == (401, {"error": "invalid token"})
    assert jwks.requests >= 1


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({"key": "another-secret-of-sufficient-length-32b"}, "invalid token"),
        ({"exp": int(time.time()) - 60}, "token expired"),
        ({"aud": "anon"}, "token audience is not 'authenticated'"),
        ({"sub": "not-a-member-id"}, "token has no member id in its 'sub' claim"),
        ({"sub": str(uuid.UUID(int=5))}, "token's member does not exist"),
    ],
)
async def test_tokens_that_do_not_verify_are_401(
    jwt_api: httpx.AsyncClient, stack: ApiStack, options: dict[str, Any], error: str
) -> None:
    member, _ = await stack.member(0)
    sent = token(member, **options)

    answer = await jwt_api.get(f"/api/jobs/{uuid.uuid4()}", headers={"Authorization": f"Bearer {sent}"})

    assert (answer.status_code, answer.json()) == (401, {"error": error})
    assert sent not in answer.text
    unsigned = jwt.encode({"sub": member, "aud": "authenticated", "exp": int(time.time()) + 60}, "", algorithm="none")
    assert (await jwt_api.get("/api/jobs/x", headers={"Authorization": f"Bearer {unsigned}"})).status_code == 401


async def test_the_member_claim_can_be_another_one(stack: ApiStack) -> None:
    member, _ = await stack.member(0)
    async with serving(
        stack,
        api_auth=ApiAuth.SUPABASE_JWT,
        supabase_jwt_secret=SecretStr(SECRET),
        api_jwt_member_claim="quel_member_id",
    ) as http:
        custom = await http.get(f"/api/jobs/{uuid.uuid4()}", headers=bearer(str(uuid.uuid4()), quel_member_id=member))
        without = await http.get(f"/api/jobs/{uuid.uuid4()}", headers=bearer(member))

    assert custom.status_code == 404
    assert (without.status_code, without.json()) == (
        401,
        {"error": "token has no member id in its 'quel_member_id' claim"},
    )
