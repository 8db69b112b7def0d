"""A small in-memory stand-in for the Supabase Storage REST API, served over real HTTP.

It speaks the object endpoints storage3 calls, so tests exercise the real client:

- `POST /storage/v1/object/<bucket>/<path>` create (`x-upsert: true` overwrites),
- `PUT  /storage/v1/object/<bucket>/<path>` overwrite,
- `GET  /storage/v1/object/<bucket>/<path>` authenticated download,
- `GET  /storage/v1/object/public/<bucket>/<path>` public download (what the legacy worker used),
- `GET  /storage/v1/object/info/<bucket>/<path>` the object's details as JSON (`size` in bytes),
- `DELETE /storage/v1/object/<bucket>` with body `{"prefixes": [paths]}`.

Errors have Storage's body shape `{"statusCode": "<code>", "error": ..., "message": ...}`,
and like Storage a missing object is HTTP 400 with `statusCode` "404" in the body.
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Self
from urllib.parse import unquote, urlsplit

_OBJECT_PREFIX = "/storage/v1/object/"
_PUBLIC_PREFIX = _OBJECT_PREFIX + "public/"
_INFO_PREFIX = _OBJECT_PREFIX + "info/"
_PART_NAME = re.compile(r'name="([^"]*)"')
HOLD_LIMIT_SECONDS = 60.0
"""A forgotten hold must not keep a handler thread forever."""


@dataclass(frozen=True)
class StoredObject:
    data: bytes
    content_type: str
    size_known: bool = True
    """False: the object's details say `"size": null`, as Storage does for an object without metadata."""


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the fake saw it. For uploads `content_type` is the stored object's
    type (the file part's type in a multipart body), otherwise the request header."""

    method: str
    path: str
    content_type: str | None
    upsert: str | None
    headers: dict[str, str] = field(default_factory=dict, compare=False)
    """Every request header, names in lower case."""


@dataclass(frozen=True)
class _Reply:
    status: int
    body: bytes
    content_type: str = "application/json"
    headers: tuple[tuple[str, str], ...] = ()


def _error(http_status: int, status_code: str, error: str, message: str) -> _Reply:
    body = json.dumps({"statusCode": status_code, "error": error, "message": message})
    return _Reply(http_status, body.encode())


def _not_found() -> _Reply:
    return _error(400, "404", "not_found", "Object not found")


class FakeSupabaseStorage:
    """Use as a context manager (or `start()` / `stop()`); `url` is the project base URL,
    e.g. `http://127.0.0.1:PORT`, as `SupabaseStorage(url=...)` expects.

    Fault switches: `fail_next(count, status)`, `redirect_next(count, to)`, `make_missing(bucket, path)`,
    `latency`, `hold_downloads()` until `release_downloads()`, `hold_next_upload(prefix)` until
    `release_upload()`."""

    def __init__(self, service_key: str = "fake-service-key") -> None:
        self.service_key = service_key
        self.latency = 0.0
        """Seconds to wait before answering each request."""
        self._objects: dict[tuple[str, str], StoredObject] = {}
        self._requests: list[RecordedRequest] = []
        self._failures: list[tuple[int, bytes | None]] = []
        self._redirects: list[str] = []
        self._downloads_released = threading.Event()
        self._downloads_released.set()
        self._downloads_in_flight = 0
        self._hold_prefix: str | None = None
        self._held_path: str | None = None
        self._upload_holding = threading.Event()
        self._upload_released = threading.Event()
        self._missing: set[tuple[str, str]] = set()
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("FakeSupabaseStorage is not started")
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> None:
        if self._server is not None:
            raise RuntimeError("FakeSupabaseStorage is already started")
        handler = type("_BoundHandler", (_Handler,), {"fake": self})
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        server.daemon_threads = True
        self._server = server
        # A short poll interval keeps `stop()` (and so each test's teardown) quick.
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.02},
            name="fake-supabase-storage",
            daemon=True,
        )
        self._thread.start()

    def stop(self) -> None:
        if self._server is None:
            return
        self.release_upload()
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def objects(self) -> dict[tuple[str, str], StoredObject]:
        """A snapshot, keyed by `(bucket, path)`."""
        with self._lock:
            return dict(self._objects)

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def put_object(
        self, bucket: str, path: str, data: bytes, content_type: str = "image/webp", *, size_known: bool = True
    ) -> None:
        with self._lock:
            self._objects[(bucket, path)] = StoredObject(data, content_type, size_known)

    def get_object(self, bucket: str, path: str) -> bytes | None:
        with self._lock:
            stored = self._objects.get((bucket, path))
        return None if stored is None else stored.data

    def fail_next(self, count: int, status: int = 503, *, body: bytes | None = None) -> None:
        """Answer the next `count` requests with `status`; `body` replaces the JSON error."""
        with self._lock:
            self._failures.extend([(status, body)] * count)

    def redirect_next(self, count: int, to: str) -> None:
        """Answer the next `count` requests with a 307 to the same path on the server at `to`."""
        with self._lock:
            self._redirects.extend([to.rstrip("/")] * count)

    def hold_downloads(self) -> None:
        """Keep every object download waiting until `release_downloads()`: concurrency without timing."""
        self._downloads_released.clear()

    def release_downloads(self) -> None:
        self._downloads_released.set()

    @property
    def downloads_in_flight(self) -> int:
        with self._lock:
            return self._downloads_in_flight

    def hold_next_upload(self, prefix: str) -> None:
        """The next successful upload of a path under `prefix` is stored, then its reply waits for
        `release_upload()`: the object exists and the uploader has not heard back."""
        with self._lock:
            self._upload_released.clear()
            self._upload_holding.clear()
            self._held_path = None
            self._hold_prefix = prefix

    def wait_until_holding(self, timeout: float) -> str:
        """Blocks (call it in a thread) until an upload is held; returns the object's path."""
        assert self._upload_holding.wait(timeout), "no upload arrived to hold"
        assert self._held_path is not None
        return self._held_path

    def release_upload(self) -> None:
        with self._lock:
            self._hold_prefix = None
        self._upload_released.set()

    def uploads_of(self, path: str) -> list[RecordedRequest]:
        """The upload requests (POST or PUT) of the object at `path` (without its bucket)."""
        return [r for r in self.requests if r.method in ("POST", "PUT") and r.path.endswith(path)]

    def make_missing(self, bucket: str, path: str) -> None:
        """Downloads of this object answer "not found" even if it is stored."""
        with self._lock:
            self._missing.add((bucket, path))

    def answer(self, method: str, raw_path: str, headers: dict[str, str], body: bytes) -> _Reply:
        path = unquote(urlsplit(raw_path).path)
        content_type = headers.get("content-type")
        upsert = headers.get("x-upsert")
        stored: StoredObject | None = None
        if method in ("POST", "PUT") and path.startswith(_OBJECT_PREFIX):
            stored = _uploaded_object(body, content_type)
            content_type = stored.content_type
        with self._lock:
            self._requests.append(RecordedRequest(method, path, content_type, upsert, headers))
            failure = self._failures.pop(0) if self._failures else None
            redirect = self._redirects.pop(0) if self._redirects else None
        if self.latency:
            time.sleep(self.latency)
        if redirect is not None:
            return _Reply(307, b"", "text/plain", (("Location", f"{redirect}{raw_path}"),))
        if failure is not None:
            status, failure_body = failure
            if failure_body is not None:
                return _Reply(status, failure_body, "text/plain")
            return _error(status, str(status), "InjectedFailure", f"injected failure {status}")
        if method == "GET" and path.startswith(_PUBLIC_PREFIX):
            return self._download(path.removeprefix(_PUBLIC_PREFIX))
        if not self._authorized(headers):
            return _error(403, "403", "Unauthorized", "invalid signature")
        if not path.startswith(_OBJECT_PREFIX):
            return _error(404, "404", "Not Found", f"Route {method}:{path} not found")
        if method == "GET" and path.startswith(_INFO_PREFIX):
            return self._info(path.removeprefix(_INFO_PREFIX))
        key = path.removeprefix(_OBJECT_PREFIX)
        if method == "GET":
            return self._held_download(key)
        if method == "DELETE":
            return self._remove(key, body)
        if stored is not None:
            reply = self._store(key, stored, overwrite=method == "PUT" or upsert == "true")
            if reply.status == 200 and self._take_hold(key):
                self._upload_released.wait(HOLD_LIMIT_SECONDS)
            return reply
        return _error(405, "405", "Method Not Allowed", f"{method} is not supported here")

    def _authorized(self, headers: dict[str, str]) -> bool:
        return (
            headers.get("authorization") == f"Bearer {self.service_key}" and headers.get("apikey") == self.service_key
        )

    def _found(self, key: str) -> StoredObject | None:
        bucket, _, path = key.partition("/")
        with self._lock:
            return None if (bucket, path) in self._missing else self._objects.get((bucket, path))

    def _take_hold(self, key: str) -> bool:
        _, _, path = key.partition("/")
        with self._lock:
            if self._hold_prefix is None or not path.startswith(self._hold_prefix):
                return False
            self._hold_prefix = None
            self._held_path = path
        self._upload_holding.set()
        return True

    def _held_download(self, key: str) -> _Reply:
        with self._lock:
            self._downloads_in_flight += 1
        try:
            self._downloads_released.wait(HOLD_LIMIT_SECONDS)
            return self._download(key)
        finally:
            with self._lock:
                self._downloads_in_flight -= 1

    def _download(self, key: str) -> _Reply:
        stored = self._found(key)
        if stored is None:
            return _not_found()
        return _Reply(200, stored.data, stored.content_type)

    def _info(self, key: str) -> _Reply:
        stored = self._found(key)
        if stored is None:
            return _not_found()
        bucket, _, path = key.partition("/")
        size = len(stored.data) if stored.size_known else None
        details = {"name": path, "bucket_id": bucket, "size": size, "content_type": stored.content_type}
        return _Reply(200, json.dumps(details).encode())

    def _store(self, key: str, stored: StoredObject, *, overwrite: bool) -> _Reply:
        bucket, _, path = key.partition("/")
        if not path:
            return _error(400, "400", "InvalidKey", "an object path is required")
        with self._lock:
            if (bucket, path) in self._objects and not overwrite:
                return _error(400, "409", "Duplicate", "The resource already exists")
            self._objects[(bucket, path)] = stored
        return _Reply(200, json.dumps({"Id": str(uuid.uuid4()), "Key": key}).encode())

    def _remove(self, bucket: str, body: bytes) -> _Reply:
        try:
            prefixes = json.loads(body)["prefixes"]
        except (ValueError, KeyError, TypeError):
            return _error(400, "400", "InvalidRequest", 'body must be {"prefixes": [paths]}')
        removed = []
        with self._lock:
            for path in prefixes:
                if self._objects.pop((bucket, path), None) is not None:
                    removed.append({"name": path, "bucket_id": bucket})
        return _Reply(200, json.dumps(removed).encode())


def _uploaded_object(body: bytes, content_type: str | None) -> StoredObject:
    """storage3 uploads a multipart form whose `file` part carries the bytes and type;
    Storage also takes the raw bytes as the body."""
    if content_type and content_type.startswith("multipart/form-data"):
        boundary = content_type.partition("boundary=")[2].strip('"')
        for head, content in _multipart_parts(body, boundary.encode()):
            match = _PART_NAME.search(head.get("content-disposition", ""))
            if match and match.group(1) == "file":
                return StoredObject(content, head.get("content-type", "application/octet-stream"))
        return StoredObject(b"", "application/octet-stream")
    return StoredObject(body, content_type or "application/octet-stream")


def _multipart_parts(body: bytes, boundary: bytes) -> list[tuple[dict[str, str], bytes]]:
    parts = []
    for chunk in body.split(b"--" + boundary)[1:]:
        if chunk.startswith(b"--"):
            break
        raw_head, _, content = chunk.removeprefix(b"\r\n").partition(b"\r\n\r\n")
        head = {}
        for line in raw_head.decode("latin-1").split("\r\n"):
            name, _, value = line.partition(":")
            head[name.strip().lower()] = value.strip()
        parts.append((head, content.removesuffix(b"\r\n")))
    return parts


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    fake: FakeSupabaseStorage  # set on the subclass made in `start`

    def _serve(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {name.lower(): value for name, value in self.headers.items()}
        reply = self.fake.answer(self.command, self.path, headers, body)
        try:
            self.send_response(reply.status)
            self.send_header("Content-Type", reply.content_type)
            self.send_header("Content-Length", str(len(reply.body)))
            for name, value in reply.headers:
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(reply.body)
        except ConnectionError:
            # The client gave up (e.g. its timeout fired during injected latency).
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_DELETE = _serve

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: tests read `FakeSupabaseStorage.requests` instead."""
