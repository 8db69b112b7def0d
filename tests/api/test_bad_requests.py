"""Whatever a client sends (valid-looking bodies with one field wrong, SQL and path fragments, wrong
types, garbage bytes, other content types), the API answers with a 4xx JSON error naming the problem,
never a 500, and writes nothing for a refused request (DECISIONS D11)."""

from __future__ import annotations

import base64
import uuid
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.api.conftest import MASK, ORIGINAL_ATTACH_ID, ORIGINAL_URL, STORAGE_BASE_URL, ApiStack, table_counts
from tests.fakes.gemini_server import tiny_png

MAX_EXAMPLES = 150
BROKE = str(uuid.UUID(int=0xB0B))
"""A member with no credits: a body that passes every check still ends at 402, so nothing is ever written."""

FRAGMENTS = st.sampled_from(
    [
        "'; DROP TABLE quel_production_jobs; --",
        "1 OR 1=1",
        "../../etc/passwd",
        "..\\..\\windows",
        "%2e%2e/%2e%2e/secret",
        "file:///etc/passwd",
        "http://169.254.169.254/latest/meta-data",
        "\x00",
        "data:image/png;base64,",
        "data:image/png;base64,!!!",
        "data:image/png;base64," + base64.b64encode(b"GIF89a....").decode(),
        STORAGE_BASE_URL + "../outside.png",
        STORAGE_BASE_URL,
        "",
        " ",
        "7:3",
        "\uff11\uff16:\uff19",  # full-width 16:9
    ]
)
JSON_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=40),
    FRAGMENTS,
)
JSON_VALUES = st.recursive(
    JSON_SCALARS, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
)
VALID = {
    "imageUrl": ORIGINAL_URL,
    "maskDataUrl": MASK,
    "prompt": "a red scarf",
    "attachId": ORIGINAL_ATTACH_ID,
    "userId": BROKE,
    "quantity": 2,
    "aspectRatio": "1:1",
    "referenceImage": "data:image/png;base64," + base64.b64encode(tiny_png()).decode(),
    "originalProductionId": "",
}
# The producer's body with some fields replaced or dropped: most reach the deeper checks.
MODIFY_BODIES = st.builds(
    lambda replaced, dropped: {k: v for k, v in {**VALID, **replaced}.items() if k not in dropped},
    st.dictionaries(st.sampled_from(sorted(VALID)), JSON_VALUES, max_size=3),
    st.sets(st.sampled_from(sorted(VALID)), max_size=2),
)
BODIES = st.one_of(MODIFY_BODIES, JSON_VALUES, st.fixed_dictionaries({"job_id": JSON_VALUES}))
PATH_IDS = st.one_of(FRAGMENTS, st.text(alphabet="abcdef0123456789-'%;./ ", max_size=40), st.uuids().map(str))


@st.composite
def requests(draw: st.DrawFn) -> tuple[str, str, dict[str, Any]]:
    """(method, path, httpx keyword arguments)."""
    job = quote(draw(PATH_IDS), safe="") or "x"
    method, path = draw(
        st.sampled_from(
            [
                ("POST", "/api/modify/submit"),
                ("POST", "/api/enqueue"),
                ("POST", "/enqueue"),
                ("POST", f"/api/jobs/{job}/cancel"),
                ("GET", f"/api/jobs/{job}"),
                ("GET", f"/api/modify/status/{job}"),
            ]
        )
    )
    if method == "GET":
        return method, path, {}
    body = draw(
        st.one_of(BODIES.map(lambda value: {"json": value}), st.binary(max_size=64).map(lambda raw: {"content": raw}))
    )
    content_type = draw(st.sampled_from(["application/json", "application/json; charset=utf-8", "text/plain", None]))
    if "content" in body and content_type is not None:
        body["headers"] = {"Content-Type": content_type}
    return method, path, body


@pytest.fixture(scope="module")
async def broke_member(stack: ApiStack) -> None:
    await stack.db.execute(
        "INSERT INTO quel_member (quel_member_id, quel_email, quel_member_credit) VALUES ($1, 'broke@example.com', 0)",
        uuid.UUID(BROKE),
    )


@pytest.mark.usefixtures("broke_member")
@settings(max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(request=requests())
async def test_no_request_gets_a_500_and_a_refused_one_writes_nothing(
    open_api: httpx.AsyncClient, stack: ApiStack, request: tuple[str, str, dict[str, Any]]
) -> None:
    method, path, options = request
    before = await table_counts(stack)

    answer = await open_api.request(method, path, **options)

    assert answer.status_code < 500, (method, path, options, answer.text)
    if answer.status_code >= 400:
        error = answer.json()["error"]
        assert isinstance(error, str) and error
        assert "Traceback" not in answer.text
        assert await table_counts(stack) == before
