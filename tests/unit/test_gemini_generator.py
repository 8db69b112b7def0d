"""GeminiGenerator against FakeGemini over real HTTP, through the real google-genai
client: what reaches the server, and how every failure class maps (DECISIONS D7)."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator, Iterator

import pytest
import pytest_asyncio
from google.genai import types
from PIL import Image

from clients.gemini_generator import (
    GeminiGenerator,
    error_from_api,
    image_from_response,
    retry_after_seconds,
    sniff_mime,
)
from domain.errors import GeneratorAuthError, GeneratorTransientError, ImageRejected
from domain.generation.request import GeneratorRequest, ImagePart, TextPart
from tests.fakes.gemini_server import (
    Behaviour,
    FakeGemini,
    hang,
    no_image,
    prompt_blocked,
    safety,
    status,
)
from tests.support.processes import free_port

API_KEY = "AIzaFAKE-key-that-must-never-leak-0123456789"
MODEL = "gemini-2.5-flash-image"


def _jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (4, 4), (200, 30, 30)).save(buffer, format="JPEG")
    return buffer.getvalue()


PNG_REF = ImagePart(data=b"\x89PNG\r\n\x1a\nmodel-bytes", mime="image/png", role="model")
JPEG_REF = ImagePart(data=_jpeg(), mime="image/jpeg", role="clothing")
REQUEST = GeneratorRequest(
    parts=(PNG_REF, JPEG_REF, TextPart("a coat on a rainy street")),
    aspect_ratio="16:9",
    temperature=0.45,
)


@pytest.fixture
def fake() -> Iterator[FakeGemini]:
    with FakeGemini() as server:
        yield server


@pytest_asyncio.fixture
async def generator(fake: FakeGemini) -> AsyncIterator[GeminiGenerator]:
    instance = GeminiGenerator(api_key=API_KEY, model=MODEL, base_url=fake.base_url, timeout_seconds=5)
    yield instance
    await instance.close()


async def _failure(generator: GeminiGenerator, request: GeneratorRequest = REQUEST) -> Exception:
    with pytest.raises(Exception) as caught:
        await generator.generate(request)
    assert isinstance(caught.value, Exception)
    return caught.value


# -- what reaches the server ---------------------------------------------------


@pytest.mark.asyncio
async def test_parts_reach_gemini_in_order_with_their_mime_labels(fake: FakeGemini, generator: GeminiGenerator) -> None:
    await generator.generate(REQUEST)

    (call,) = fake.calls
    assert call.roles == ("user",)
    assert call.mimes == ("image/png", "image/jpeg", None)
    assert [p.data for p in call.parts[:2]] == [PNG_REF.data, JPEG_REF.data]
    assert call.prompt == "a coat on a rainy street"


@pytest.mark.asyncio
async def test_text_first_request_keeps_text_first(fake: FakeGemini, generator: GeminiGenerator) -> None:
    request = GeneratorRequest(parts=(TextPart("vary this"), PNG_REF), aspect_ratio="1:1")

    await generator.generate(request)

    assert fake.calls[0].mimes == (None, "image/png")


@pytest.mark.asyncio
async def test_model_version_and_api_key_header_reach_gemini(fake: FakeGemini, generator: GeminiGenerator) -> None:
    await generator.generate(REQUEST)

    (call,) = fake.calls
    assert (call.api_version, call.model, call.api_key) == ("v1beta", MODEL, API_KEY)


@pytest.mark.asyncio
async def test_aspect_ratio_and_temperature_are_sent(fake: FakeGemini, generator: GeminiGenerator) -> None:
    await generator.generate(REQUEST)

    assert fake.calls[0].aspect_ratio == "16:9"
    assert fake.calls[0].temperature == pytest.approx(0.45)


@pytest.mark.asyncio
async def test_temperature_is_left_out_when_not_set(fake: FakeGemini, generator: GeminiGenerator) -> None:
    await generator.generate(GeneratorRequest(parts=(TextPart("x"),), aspect_ratio="3:4"))

    assert fake.calls[0].temperature is None
    assert fake.calls[0].aspect_ratio == "3:4"


@pytest.mark.asyncio
async def test_reply_image_is_returned_decoded_with_its_mime(fake: FakeGemini, generator: GeminiGenerator) -> None:
    image = await generator.generate(REQUEST)

    assert image.data == fake.image
    assert image.mime == "image/png"


# -- failure mapping (D7) ------------------------------------------------------


@pytest.mark.asyncio
async def test_429_with_retry_after_is_transient_with_that_delay(fake: FakeGemini, generator: GeminiGenerator) -> None:
    fake.script(status(429, retry_after=3))

    error = await _failure(generator)

    assert isinstance(error, GeneratorTransientError)
    assert error.retry_after == 3.0
    assert "429" in str(error)


@pytest.mark.asyncio
async def test_retry_info_delay_in_error_details_is_honoured(fake: FakeGemini, generator: GeminiGenerator) -> None:
    fake.script(status(429, retry_delay="7.5s"))

    error = await _failure(generator)

    assert isinstance(error, GeneratorTransientError)
    assert error.retry_after == 7.5


@pytest.mark.asyncio
@pytest.mark.parametrize("code", [500, 502, 503, 504])
async def test_server_errors_are_transient_without_a_suggested_delay(
    fake: FakeGemini, generator: GeminiGenerator, code: int
) -> None:
    fake.script(status(code))

    error = await _failure(generator)

    assert isinstance(error, GeneratorTransientError)
    assert error.retry_after is None


@pytest.mark.asyncio
@pytest.mark.parametrize(("code", "reason"), [(400, "INVALID_ARGUMENT"), (404, "NOT_FOUND")])
async def test_400_and_404_reject_the_image_with_the_status_as_reason(
    fake: FakeGemini, generator: GeminiGenerator, code: int, reason: str
) -> None:
    fake.script(status(code))

    error = await _failure(generator)

    assert isinstance(error, ImageRejected)
    assert error.reason == reason


@pytest.mark.asyncio
@pytest.mark.parametrize("code", [401, 403])
async def test_401_and_403_are_auth_errors(fake: FakeGemini, generator: GeminiGenerator, code: int) -> None:
    fake.script(status(code))

    error = await _failure(generator)

    assert isinstance(error, GeneratorAuthError)


@pytest.mark.asyncio
@pytest.mark.parametrize("reason", ["SAFETY", "PROHIBITED_CONTENT", "IMAGE_SAFETY", "RECITATION"])
async def test_blocked_finish_reason_rejects_the_image_with_that_reason(
    fake: FakeGemini, generator: GeminiGenerator, reason: str
) -> None:
    fake.script(safety(reason))

    error = await _failure(generator)

    assert isinstance(error, ImageRejected)
    assert error.reason == reason


@pytest.mark.asyncio
async def test_blocked_prompt_rejects_the_image_with_the_block_reason(
    fake: FakeGemini, generator: GeminiGenerator
) -> None:
    fake.script(prompt_blocked("PROHIBITED_CONTENT"))

    error = await _failure(generator)

    assert isinstance(error, ImageRejected)
    assert error.reason == "PROHIBITED_CONTENT"


@pytest.mark.asyncio
async def test_text_only_reply_rejects_the_image_as_no_image(fake: FakeGemini, generator: GeminiGenerator) -> None:
    fake.script(no_image())

    error = await _failure(generator)

    assert isinstance(error, ImageRejected)
    assert error.reason == "NO_IMAGE"


@pytest.mark.asyncio
async def test_reply_slower_than_the_timeout_is_transient(fake: FakeGemini) -> None:
    fake.script(hang(5))
    generator = GeminiGenerator(api_key=API_KEY, model=MODEL, base_url=fake.base_url, timeout_seconds=0.3)
    try:
        error = await _failure(generator)
    finally:
        await generator.close()

    assert isinstance(error, GeneratorTransientError)
    assert "0.3s" in str(error)


@pytest.mark.asyncio
async def test_unreachable_server_is_transient() -> None:
    generator = GeminiGenerator(
        api_key=API_KEY, model=MODEL, base_url=f"http://127.0.0.1:{free_port()}", timeout_seconds=2
    )
    try:
        error = await _failure(generator)
    finally:
        await generator.close()

    assert isinstance(error, GeneratorTransientError)


@pytest.mark.asyncio
@pytest.mark.parametrize("behaviour", [status(429), status(503), status(500), hang(5)])
async def test_each_generate_is_exactly_one_http_attempt(fake: FakeGemini, behaviour: Behaviour) -> None:
    fake.set_default(behaviour)
    generator = GeminiGenerator(api_key=API_KEY, model=MODEL, base_url=fake.base_url, timeout_seconds=0.5)
    try:
        await _failure(generator)
        # Anything the SDK retried would land here, after the call returned.
        await asyncio.sleep(0.3)
    finally:
        await generator.close()

    assert fake.call_count == 1


@pytest.mark.asyncio
@pytest.mark.parametrize("code", [400, 403, 429, 503])
async def test_api_key_echoed_by_the_server_never_appears_in_the_error(
    fake: FakeGemini, generator: GeminiGenerator, code: int
) -> None:
    fake.script(status(code, message=f"API key {API_KEY} rejected"))

    error = await _failure(generator)

    assert API_KEY not in str(error)
    assert "[redacted]" in str(error)
    # Temporal stores the cause chain in history, so the SDK error must not ride along.
    assert error.__cause__ is None


# -- concurrency and per-image faults ------------------------------------------


@pytest.mark.asyncio
async def test_max_in_flight_counts_concurrent_calls(fake: FakeGemini, generator: GeminiGenerator) -> None:
    fake.hold()
    calls = asyncio.gather(*(generator.generate(REQUEST) for _ in range(4)))
    for _ in range(500):
        if fake.in_flight == 4:
            break
        await asyncio.sleep(0.02)
    fake.release()
    await calls
    # The handler thread counts a call done just after its reply is sent; give it a moment.
    for _ in range(100):
        if fake.in_flight == 0:
            break
        await asyncio.sleep(0.01)

    assert fake.max_in_flight == 4
    assert fake.in_flight == 0


@pytest.mark.asyncio
async def test_sequential_calls_never_overlap(fake: FakeGemini, generator: GeminiGenerator) -> None:
    fake.latency = 0.05

    for _ in range(3):
        await generator.generate(REQUEST)

    assert (fake.call_count, fake.max_in_flight) == (3, 1)


@pytest.mark.asyncio
async def test_prompt_rule_fails_only_the_matching_image(fake: FakeGemini, generator: GeminiGenerator) -> None:
    fake.when_prompt_contains("BLOCKME", safety())
    blocked = GeneratorRequest(parts=(TextPart("please BLOCKME now"),), aspect_ratio="1:1")

    results = await asyncio.gather(generator.generate(REQUEST), generator.generate(blocked), return_exceptions=True)

    assert not isinstance(results[0], BaseException)
    assert isinstance(results[1], ImageRejected)
    assert results[1].reason == "SAFETY"


# -- pure decisions ------------------------------------------------------------


def _reply(*candidates: types.Candidate) -> types.GenerateContentResponse:
    return types.GenerateContentResponse(candidates=list(candidates))


def _candidate(*parts: types.Part) -> types.Candidate:
    return types.Candidate(content=types.Content(role="model", parts=list(parts)))


def test_first_inline_image_across_candidates_wins() -> None:
    reply = _reply(
        _candidate(types.Part(text="no picture here")),
        _candidate(
            types.Part(inline_data=types.Blob(data=b"first", mime_type="image/webp")),
            types.Part(inline_data=types.Blob(data=b"second", mime_type="image/png")),
        ),
    )

    image = image_from_response(reply)

    assert (image.data, image.mime) == (b"first", "image/webp")


def test_empty_inline_data_is_skipped() -> None:
    reply = _reply(
        _candidate(
            types.Part(inline_data=types.Blob(data=b"", mime_type="image/png")),
            types.Part(inline_data=types.Blob(data=b"real", mime_type="image/png")),
        )
    )

    assert image_from_response(reply).data == b"real"


def test_mime_is_sniffed_when_the_reply_omits_it() -> None:
    jpeg = _jpeg()
    reply = _reply(_candidate(types.Part(inline_data=types.Blob(data=jpeg))))

    assert image_from_response(reply).mime == "image/jpeg"


def test_reply_without_candidates_rejects_as_no_image() -> None:
    with pytest.raises(ImageRejected) as caught:
        image_from_response(_reply())

    assert caught.value.reason == "NO_IMAGE"


@pytest.mark.parametrize(
    ("data", "mime"),
    [
        (b"\x89PNG\r\n\x1a\n....", "image/png"),
        (b"\xff\xd8\xff\xe0....", "image/jpeg"),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "image/webp"),
        (b"GIF89a...", "image/gif"),
        (b"something else", "application/octet-stream"),
    ],
)
def test_sniff_mime_reads_magic_bytes(data: bytes, mime: str) -> None:
    assert sniff_mime(data) == mime


def test_retry_after_header_wins_over_retry_info() -> None:
    body = {"error": {"details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "9s"}]}}

    assert retry_after_seconds({"Retry-After": "2"}, body) == 2.0
    assert retry_after_seconds({}, body) == 9.0


def test_unparseable_retry_after_leaves_the_delay_to_temporal() -> None:
    assert retry_after_seconds({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}, {}) is None


@pytest.mark.parametrize(
    ("code", "expected"),
    [(408, GeneratorTransientError), (501, GeneratorTransientError), (409, ImageRejected)],
)
def test_uncommon_statuses_follow_their_class(code: int, expected: type[Exception]) -> None:
    error = error_from_api(code=code, status=None, message="", headers={}, body=None)

    assert isinstance(error, expected)


def test_rejection_without_status_name_uses_the_http_code() -> None:
    error = error_from_api(code=409, status=None, message="", headers={}, body=None)

    assert isinstance(error, ImageRejected)
    assert error.reason == "HTTP_409"


@pytest.mark.asyncio
async def test_a_fake_that_forgets_bodies_still_steers_by_prompt() -> None:
    with FakeGemini(keep_bodies=False) as forgetful:
        forgetful.when_prompt_contains("rainy street", safety())
        instance = GeminiGenerator(api_key=API_KEY, model=MODEL, base_url=forgetful.base_url, timeout_seconds=5)
        try:
            assert isinstance(await _failure(instance), ImageRejected)
        finally:
            await instance.close()
        [call] = forgetful.calls
    assert call.body == {} and call.model == MODEL
