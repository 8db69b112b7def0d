"""Object storage in Supabase Storage, over storage3's async REST client (production)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from storage3 import AsyncStorageClient
from storage3.exceptions import StorageApiError

from clients.storage import STORAGE_TIMEOUT_SECONDS
from clients.storage_paths import validate_storage_path
from domain.errors import ObjectNotFound, QuelError

# Storage answers a missing object with body `{"statusCode": "404", "error": "not_found"}`,
# often under HTTP 400; storage3 puts the body's values in `status` and `code`.
_NOT_FOUND_CODES = frozenset({"not_found", "NoSuchKey"})
_AUTH_STATUSES = frozenset({"401", "403"})
_DEFAULT_PORTS = {"http": 80, "https": 443}


class StorageUnavailable(QuelError):
    """Storage did not do what was asked (HTTP error, refused key, timeout, no connection).

    Retryable: the request may succeed once the service or its configuration recovers."""


class CrossOriginRedirect(httpx.RequestError):
    """Storage answered with a redirect to another origin; following it would hand the key over."""


class SupabaseStorage:
    """One bucket of a Supabase project, authenticated with the service key.

    The key is sent as `apikey` and as a bearer token; it is never part of an error
    message or of this object's repr, and never sent to another host (DECISIONS.md D10):
    a redirect away from the project's origin is refused, since httpx drops only the
    `Authorization` header there and would carry `apikey` along."""

    def __init__(
        self, url: str, service_key: str, bucket: str, timeout_seconds: float = STORAGE_TIMEOUT_SECONDS
    ) -> None:
        if not service_key:
            raise ValueError("Supabase service key is empty")
        self.bucket = bucket
        self._url = url.rstrip("/")
        self._service_key = service_key
        self._origin = _origin_of(httpx.URL(self._url))
        self._http = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout_seconds),
            follow_redirects=True,
            event_hooks={"request": [self._refuse_other_origins]},
        )
        client = AsyncStorageClient(
            f"{self._url}/storage/v1/",
            headers={"apikey": service_key, "Authorization": f"Bearer {service_key}"},
            http_client=self._http,
        )
        self._files = client.from_(bucket)

    def __repr__(self) -> str:
        return f"SupabaseStorage(url={self._url!r}, bucket={self.bucket!r})"

    async def download(self, path: str) -> bytes:
        validate_storage_path(path)
        async with self._translated_errors("download", path, missing_means_no_object=True):
            data = await self._files.download(path)
        return data

    async def size(self, path: str) -> int | None:
        """From the object's details (`GET /object/info/...`), without downloading it; an object
        whose details lack a size (Storage answers null without metadata) is read to measure it."""
        validate_storage_path(path)
        try:
            async with self._translated_errors("size", path, missing_means_no_object=True):
                details = await self._files.info(path)
        except ObjectNotFound:
            return None
        size = details.get("size")
        return size if isinstance(size, int) else len(await self.download(path))

    async def upload(self, path: str, data: bytes, *, content_type: str) -> None:
        validate_storage_path(path)
        async with self._translated_errors("upload", path):
            await self._files.upload(path, data, file_options={"content-type": content_type, "upsert": "true"})

    async def delete(self, path: str) -> None:
        """Deleting a missing object succeeds, as Storage's remove does."""
        validate_storage_path(path)
        async with self._translated_errors("delete", path):
            await self._files.remove([path])

    async def close(self) -> None:
        await self._http.aclose()

    async def _refuse_other_origins(self, request: httpx.Request) -> None:
        # Runs for every request httpx sends, the hops of a redirect included.
        if _origin_of(request.url) != self._origin:
            raise CrossOriginRedirect(
                f"storage redirected to another host ({request.url.host}); not followed with the key"
            )

    @asynccontextmanager
    async def _translated_errors(
        self, action: str, path: str, *, missing_means_no_object: bool = False
    ) -> AsyncIterator[None]:
        """storage3 and httpx failures become `ObjectNotFound` or `StorageUnavailable`.

        A "not found" on upload or delete means the bucket is missing, which is a
        configuration problem rather than a missing object."""
        where = f"{self.bucket}/{path}"
        try:
            yield
        except StorageApiError as error:
            # Not chained: the cause would carry the server's text unredacted into workflow
            # history, and its status, code and message are already in our message.
            status, code = str(error.status), str(error.code)
            if missing_means_no_object and (status == "404" or code in _NOT_FOUND_CODES):
                raise ObjectNotFound(f"storage object '{where}' not found") from None
            if status in _AUTH_STATUSES:
                problem = f"storage refused the service key (status {status}, {code}: {error.message})"
            else:
                problem = f"storage answered status {status}, {code}: {error.message}"
            raise StorageUnavailable(self._redacted(f"{action} of '{where}' failed: {problem}")) from None
        except httpx.TimeoutException as error:
            raise StorageUnavailable(f"{action} of '{where}' timed out ({type(error).__name__})") from error
        except httpx.HTTPError as error:
            raise StorageUnavailable(
                self._redacted(f"{action} of '{where}' failed: {type(error).__name__}: {error}")
            ) from error

    def _redacted(self, text: str) -> str:
        # Server text is quoted in messages; a proxy echoing headers must not leak the key.
        return text.replace(self._service_key, "[service key]")


def _origin_of(url: httpx.URL) -> tuple[str, str, int | None]:
    return url.scheme, url.host, url.port or _DEFAULT_PORTS.get(url.scheme)
