"""API_MAX_BODY_BYTES: a request whose declared `Content-Length` is over it is answered 413 before its
body is read; a body sent without a length is counted as it arrives and refused once it goes over.
Both answers are the API's JSON errors (FastAPI's own limit answers in plain text)."""

from __future__ import annotations

from fastapi.responses import JSONResponse
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import error_body


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

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self._max_bytes:
                    # Raised inside the body read, within FastAPI's exception layer: the API's error
                    # handler answers it as JSON.
                    raise HTTPException(413, f"request body is over the limit of {self._max_bytes} bytes")
            return message

        await self._app(scope, counted, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, message: str) -> None:
        message = f"{message} ({self._max_bytes} bytes, API_MAX_BODY_BYTES)"
        response = JSONResponse(error_body(scope["path"], message), status_code=413, headers={"Connection": "close"})
        await response(scope, receive, send)
