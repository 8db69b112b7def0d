"""`FakeGemini`: a local HTTP server that speaks enough of the Gemini
`:generateContent` REST shape for the real google-genai client to talk to it.

It records every request, counts concurrent calls and can be told how to answer:
a FIFO script of per-call behaviours, a default behaviour, a latency for every call
and per-prompt rules (e.g. block any prompt containing "BLOCKME").

    with FakeGemini() as fake:
        fake.when_prompt_contains("BLOCKME", safety())
        fake.script(status(429, retry_after=3), ok())
        generator = GeminiGenerator(api_key="k", model="m", base_url=fake.base_url)
"""

from __future__ import annotations

import base64
import io
import json
import re
import threading
import time
from collections import deque
from dataclasses import dataclass, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Literal, Self

from PIL import Image

_PATH = re.compile(r"^/(?P<version>[^/]+)/models/(?P<model>[^/:]+):generateContent$")

_STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    502: "UNAVAILABLE",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}


@dataclass(frozen=True)
class Behaviour:
    """How the server answers one call; build with the helpers below."""

    kind: Literal["ok", "status", "safety", "prompt_blocked", "no_image", "hang"]
    code: int = 200
    retry_after: float | None = None
    """Sent as the `Retry-After` header."""
    retry_delay: str | None = None
    """Sent as a google.rpc.RetryInfo `retryDelay` in the error details, e.g. "7s"."""
    message: str = ""
    reason: str = ""
    """Finish reason (`safety`) or block reason (`prompt_blocked`)."""
    seconds: float = 0.0


def ok() -> Behaviour:
    """A reply with a text part and then a small PNG as inline data."""
    return Behaviour("ok")


def status(
    code: int,
    *,
    retry_after: float | None = None,
    retry_delay: str | None = None,
    message: str = "",
) -> Behaviour:
    """An HTTP error with Google's `{"error": {code, message, status}}` body."""
    return Behaviour("status", code=code, retry_after=retry_after, retry_delay=retry_delay, message=message)


def safety(reason: str = "SAFETY") -> Behaviour:
    """A candidate that stopped with `finishReason` `reason` and carries no image."""
    return Behaviour("safety", reason=reason)


def prompt_blocked(reason: str = "PROHIBITED_CONTENT") -> Behaviour:
    """No candidates at all; `promptFeedback.blockReason` says why."""
    return Behaviour("prompt_blocked", reason=reason)


def no_image() -> Behaviour:
    """A normal, text-only reply."""
    return Behaviour("no_image")


def hang(seconds: float) -> Behaviour:
    """Say nothing for `seconds` (or until the server stops), then answer ok."""
    return Behaviour("hang", seconds=seconds)


@dataclass(frozen=True)
class RecordedPart:
    text: str | None = None
    mime: str | None = None
    data: bytes | None = None


@dataclass(frozen=True)
class RecordedCall:
    """One request as the server decoded it."""

    api_version: str
    model: str
    api_key: str | None
    body: dict[str, Any]

    @property
    def parts(self) -> tuple[RecordedPart, ...]:
        contents = self.body.get("contents") or [{}]
        return tuple(_recorded_part(p) for p in contents[0].get("parts", []))

    @property
    def roles(self) -> tuple[str | None, ...]:
        return tuple(c.get("role") for c in self.body.get("contents", []))

    @property
    def mimes(self) -> tuple[str | None, ...]:
        """MIME label of each part in order; None for text parts."""
        return tuple(p.mime for p in self.parts)

    @property
    def prompt(self) -> str:
        return "\n".join(p.text for p in self.parts if p.text is not None)

    @property
    def aspect_ratio(self) -> str | None:
        image_config = self._generation_config.get("imageConfig") or {}
        ratio = image_config.get("aspectRatio")
        return str(ratio) if ratio is not None else None

    @property
    def temperature(self) -> float | None:
        value = self._generation_config.get("temperature")
        return float(value) if value is not None else None

    @property
    def _generation_config(self) -> dict[str, Any]:
        config: dict[str, Any] = self.body.get("generationConfig") or {}
        return config


def _recorded_part(part: dict[str, Any]) -> RecordedPart:
    inline = part.get("inlineData")
    if inline is not None:
        # Proto JSON accepts both spellings, and the SDK sends `mime_type`.
        mime = inline.get("mimeType", inline.get("mime_type"))
        return RecordedPart(mime=mime, data=_b64decode(inline.get("data", "")))
    return RecordedPart(text=part.get("text"))


def _b64decode(text: str) -> bytes:
    """Standard or URL-safe base64 (the SDK sends URL-safe), padding optional."""
    standard = text.translate(str.maketrans("-_", "+/"))
    return base64.b64decode(standard + "=" * (-len(standard) % 4), validate=True)


def tiny_png(colour: tuple[int, int, int] = (40, 160, 90)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), colour).save(buffer, format="PNG")
    return buffer.getvalue()


class FakeGemini:
    """Thread-safe: tests steer it from the event loop while handler threads answer."""

    def __init__(self, *, default: Behaviour | None = None, latency: float = 0.0, keep_bodies: bool = True) -> None:
        """`keep_bodies=False` records each call without its request body: long runs with large
        reference images would otherwise fill memory with bodies nobody reads."""
        self.image = tiny_png()
        self._keep_bodies = keep_bodies
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._released = threading.Event()
        self._released.set()
        self._default = default or ok()
        self._latency = latency
        self._script: deque[Behaviour] = deque()
        self._rules: list[tuple[str, Behaviour]] = []
        self._calls: list[RecordedCall] = []
        self._in_flight = 0
        self._max_in_flight = 0
        self._last_reply_at: float | None = None
        self._spans: list[tuple[float, float]] = []
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------

    def start(self) -> Self:
        self._stopping.clear()
        server = _Server(("127.0.0.1", 0), _handler_for(self))
        server.daemon_threads = True
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, args=(0.02,), name="fake-gemini", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("FakeGemini is not running")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    # -- steering --------------------------------------------------------------

    def script(self, *behaviours: Behaviour) -> None:
        """Queue behaviours for the next calls, in order; then the default applies."""
        with self._lock:
            self._script.extend(behaviours)

    def set_default(self, behaviour: Behaviour) -> None:
        with self._lock:
            self._default = behaviour

    def when_prompt_contains(self, text: str, behaviour: Behaviour) -> None:
        """Rules win over the script and the default, and are never used up."""
        with self._lock:
            self._rules.append((text, behaviour))

    def hold(self) -> None:
        """Keep every call in flight until `release()`: concurrency without timing."""
        self._released.clear()

    def release(self) -> None:
        self._released.set()

    @property
    def latency(self) -> float:
        with self._lock:
            return self._latency

    @latency.setter
    def latency(self, seconds: float) -> None:
        with self._lock:
            self._latency = seconds

    # -- observations ----------------------------------------------------------

    @property
    def calls(self) -> tuple[RecordedCall, ...]:
        with self._lock:
            return tuple(self._calls)

    @property
    def call_count(self) -> int:
        with self._lock:
            return len(self._calls)

    @property
    def in_flight(self) -> int:
        with self._lock:
            return self._in_flight

    @property
    def max_in_flight(self) -> int:
        with self._lock:
            return self._max_in_flight

    @property
    def last_reply_at(self) -> float | None:
        """`time.time()` when the last call so far was answered (None before any)."""
        with self._lock:
            return self._last_reply_at

    @property
    def spans(self) -> tuple[tuple[float, float], ...]:
        """(began, ended) of every answered call, in `time.monotonic()` seconds."""
        with self._lock:
            return tuple(self._spans)

    # -- serving (handler threads) ---------------------------------------------

    def _begin(self, call: RecordedCall) -> tuple[Behaviour, float]:
        with self._lock:
            self._calls.append(call if self._keep_bodies else replace(call, body={}))
            self._in_flight += 1
            self._max_in_flight = max(self._max_in_flight, self._in_flight)
            behaviour = next(
                (b for text, b in self._rules if text in call.prompt),
                None,
            )
            if behaviour is None:
                behaviour = self._script.popleft() if self._script else self._default
            return behaviour, self._latency

    def _end(self, began: float) -> None:
        with self._lock:
            self._in_flight -= 1
            self._last_reply_at = time.time()
            self._spans.append((began, time.monotonic()))

    def _answer(self, handler: BaseHTTPRequestHandler, model: str, behaviour: Behaviour) -> None:
        if behaviour.kind == "hang":
            self._stopping.wait(behaviour.seconds)
            behaviour = ok()
        if behaviour.kind == "status":
            _send_error(handler, behaviour)
            return
        _send_json(handler, 200, self._reply_body(model, behaviour))

    def _reply_body(self, model: str, behaviour: Behaviour) -> dict[str, Any]:
        if behaviour.kind == "prompt_blocked":
            return {"promptFeedback": {"blockReason": behaviour.reason}, "modelVersion": model}
        if behaviour.kind == "safety":
            candidate: dict[str, Any] = {"finishReason": behaviour.reason, "index": 0}
        elif behaviour.kind == "no_image":
            candidate = _candidate([{"text": "I can only describe the picture."}])
        else:
            image = {"mimeType": "image/png", "data": base64.b64encode(self.image).decode()}
            candidate = _candidate([{"text": "Here is the picture."}, {"inlineData": image}])
        return {"candidates": [candidate], "modelVersion": model}


def _candidate(parts: list[dict[str, Any]]) -> dict[str, Any]:
    return {"content": {"role": "model", "parts": parts}, "finishReason": "STOP", "index": 0}


def _send_json(
    handler: BaseHTTPRequestHandler,
    code: int,
    body: dict[str, Any],
    headers: dict[str, str] | None = None,
) -> None:
    payload = json.dumps(body).encode()
    try:
        handler.send_response(code)
        handler.send_header("Content-Type", "application/json; charset=UTF-8")
        handler.send_header("Content-Length", str(len(payload)))
        for name, value in (headers or {}).items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(payload)
    except (BrokenPipeError, ConnectionResetError):
        pass  # the client gave up (timeout test); nothing to tell it


def _send_error(handler: BaseHTTPRequestHandler, behaviour: Behaviour) -> None:
    error: dict[str, Any] = {
        "code": behaviour.code,
        "message": behaviour.message or f"fake error {behaviour.code}",
        "status": _STATUS_NAMES.get(behaviour.code, "UNKNOWN"),
    }
    if behaviour.retry_delay is not None:
        error["details"] = [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": behaviour.retry_delay}]
    headers = {}
    if behaviour.retry_after is not None:
        headers["Retry-After"] = f"{behaviour.retry_after:g}"
    _send_json(handler, behaviour.code, {"error": error}, headers)


class _Server(ThreadingHTTPServer):
    request_queue_size = 128
    """Connections waiting to be accepted: a client opening dozens at once (the benchmarks' 32 and
    64 generator slots) would find the default of 5 full and be reset."""


def _handler_for(fake: FakeGemini) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body go out in two writes

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            match = _PATH.match(self.path.split("?", 1)[0])
            if match is None:
                _send_error(self, status(404, message=f"no route for {self.path}"))
                return
            call = RecordedCall(
                api_version=match["version"],
                model=match["model"],
                api_key=self.headers.get("x-goog-api-key"),
                body=json.loads(raw or b"{}"),
            )
            began = time.monotonic()
            behaviour, latency = fake._begin(call)
            try:
                while not fake._released.wait(0.02) and not fake._stopping.is_set():
                    pass
                if latency:
                    fake._stopping.wait(latency)
                fake._answer(self, match["model"], behaviour)
            finally:
                fake._end(began)

        def log_message(self, format: str, *args: Any) -> None:
            """Keep test output quiet."""

    return Handler
