"""Serving the app with uvicorn inside a process that already runs an event loop (`quel api`, `quel dev`,
the tests), until a stop event is set."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Iterator

import uvicorn
from fastapi import FastAPI

GRACEFUL_SHUTDOWN_SECONDS = 5
"""Event streams never end on their own: after this long a stop closes them."""


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        """The calling command owns SIGINT and SIGTERM and sets the stop event."""
        yield


def bind(host: str, port: int) -> socket.socket:
    """The listening socket, bound before serving so a port in use fails here with its OSError
    (port 0: a free port, read back with `getsockname`)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    return socket.create_server((host, port), family=family)


def url_of(listener: socket.socket) -> str:
    host, port = listener.getsockname()[:2]
    return f"http://{f'[{host}]' if ':' in host else host}:{port}"


async def serve(app: FastAPI, listener: socket.socket, stop: asyncio.Event) -> None:
    config = uvicorn.Config(
        app, log_config=None, timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS, server_header=False
    )
    server = _Server(config)
    serving = asyncio.create_task(server.serve(sockets=[listener]))
    stopping = asyncio.create_task(stop.wait())
    await asyncio.wait({serving, stopping}, return_when=asyncio.FIRST_COMPLETED)
    stopping.cancel()
    server.should_exit = True
    await serving
