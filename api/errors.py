"""Every answer that is not a success, as JSON: `{"error": "..."}`, or the enqueue endpoints' own
`{"success": false, "error": "..."}` (DECISIONS D11). Bad input is a 4xx naming the field, a dependency
that does not answer a 503 naming it, and nothing ever answers with a stack trace."""

from __future__ import annotations

import logging
from typing import Any

import asyncpg
import redis.asyncio as redis
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic_core import ErrorDetails
from starlette.exceptions import HTTPException
from temporalio.service import RPCError

from clients.unreachable import UNREACHABLE

ENQUEUE_PATHS = frozenset({"/enqueue", "/api/enqueue"})

logger = logging.getLogger(__name__)


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def error_body(path: str, message: str) -> dict[str, Any]:
    """The error object of the endpoint at `path`."""
    if path in ENQUEUE_PATHS:
        return {"success": False, "error": message}
    return {"error": message}


def _respond(request: Request, status: int, message: str) -> JSONResponse:
    return JSONResponse(error_body(request.url.path, message), status_code=status)


def describe_validation(errors: list[ErrorDetails]) -> str:
    """The first problem of a request that did not parse, naming the field."""
    first = errors[0]
    if first["type"] == "json_invalid":
        return f"invalid JSON: {first.get('ctx', {}).get('error', 'cannot be parsed')}"
    where = ".".join(str(part) for part in first["loc"] if part != "body")
    if first["type"] in ("model_attributes_type", "dict_type") or not where:
        return "the request body must be a JSON object"
    return f"{where}: {first['msg']}"


def install_error_handlers(app: FastAPI) -> None:
    async def api_error(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, ApiError)
        return _respond(request, error.status, error.message)

    async def invalid_request(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, RequestValidationError)
        errors = list(error.errors())
        # FastAPI hands a body it did not parse as JSON (any other content type) over as bytes.
        if isinstance(errors[0].get("input"), bytes):
            return _respond(request, 415, "the request body must be JSON, sent as Content-Type: application/json")
        return _respond(request, 400, describe_validation(errors))

    async def http_error(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, HTTPException)
        response = _respond(request, error.status_code, str(error.detail))
        response.headers.update(error.headers or {})
        return response

    async def unreachable(request: Request, error: Exception) -> JSONResponse:
        name = _dependency_name(error)
        logger.warning("dependency unavailable", extra={"dependency": name, "error_type": type(error).__name__})
        return _respond(request, 503, f"{name} is unavailable; try again shortly")

    async def unexpected(request: Request, error: Exception) -> JSONResponse:
        logger.exception("request failed", extra={"path": request.url.path})
        return _respond(request, 500, "internal error")

    app.add_exception_handler(ApiError, api_error)
    app.add_exception_handler(RequestValidationError, invalid_request)
    app.add_exception_handler(HTTPException, http_error)
    for kind in UNREACHABLE:
        app.add_exception_handler(kind, unreachable)
    app.add_exception_handler(Exception, unexpected)


def _dependency_name(error: Exception) -> str:
    if isinstance(error, asyncpg.PostgresError | asyncpg.InterfaceError):
        return "PostgreSQL"
    if isinstance(error, redis.RedisError):
        return "Redis"
    if isinstance(error, RPCError):
        return "Temporal"
    return "a dependency"
