"""API_MAX_BODY_BYTES: a request whose declared `Content-Length` is over it is answered 413 before its
body is read; a body sent without a length is counted as it arrives and refused once it goes over.
Both answers are the API's JSON errors (FastAPI's own limit answers in plain text)."""

from __future__ import annotations

from fastapi.responses import JSONResponse
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import ENQUEUE_PATHS


class BodyLimit:
    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self._app = app
        self._max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > self._max_bytes:
            await self._refuse(scope, receive, send, f"request body of {declared} bytes is over the limit")
            return
        received = 0
        started = False

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self._max_bytes:
                    # Raised inside the body read: FastAPI hands HTTPExceptions to the API's error handler.
                    raise HTTPException(413, f"request body is over the limit of {self._max_bytes} bytes")
            return message

        async def watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self._app(scope, counted, watched)
        except HTTPException as error:
            if started or error.status_code != 413:
                raise
            await self._refuse(scope, receive, send, str(error.detail))

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, message: str) -> None:
        message = f"{message} ({self._max_bytes} bytes, API_MAX_BODY_BYTES)"
        body = {"success": False, "error": message} if scope["path"] in ENQUEUE_PATHS else {"error": message}
        await JSONResponse(body, status_code=413, headers={"Connection": "close"})(scope, receive, send)
