"""A TCP proxy in front of the real Redis that can lose one reply: the command reaches Redis and
runs, then the connection drops before the client hears back, as a network cut would do it."""

from __future__ import annotations

import asyncio
import contextlib
from types import TracebackType
from typing import Self
from urllib.parse import urlsplit


class LossyRedisProxy:
    def __init__(self, redis_url: str) -> None:
        self._upstream = urlsplit(redis_url)
        self._server: asyncio.Server | None = None
        self._marker: bytes | None = None
        self.lost_reply: bytes | None = None
        """The reply that was swallowed, once one was."""

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.sockets[0].getsockname()[:2]
        return f"redis://{host}:{port}"

    def lose_reply_to(self, marker: bytes) -> None:
        """The next command whose bytes contain `marker` runs, and its reply is lost."""
        self._marker = marker

    async def __aenter__(self) -> Self:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        assert self._server is not None
        self._server.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._server.wait_closed(), timeout=5)

    async def _open_upstream(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self._upstream.scheme == "unix":
            return await asyncio.open_unix_connection(self._upstream.path)
        return await asyncio.open_connection(self._upstream.hostname, self._upstream.port or 6379)

    async def _serve(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        server_reader, server_writer = await self._open_upstream()
        # One command at a time per connection (no pipelining here): the next bytes from Redis
        # after the marked command are its reply.
        swallow_next = False

        async def client_to_server() -> None:
            nonlocal swallow_next
            while chunk := await client_reader.read(65536):
                if self._marker is not None and self._marker in chunk:
                    self._marker = None
                    swallow_next = True
                server_writer.write(chunk)
                await server_writer.drain()

        async def server_to_client() -> None:
            while chunk := await server_reader.read(65536):
                if swallow_next:
                    self.lost_reply = chunk
                    return
                client_writer.write(chunk)
                await client_writer.drain()

        forward = asyncio.create_task(client_to_server())
        backward = asyncio.create_task(server_to_client())
        await asyncio.wait([forward, backward], return_when=asyncio.FIRST_COMPLETED)
        for task in (forward, backward):
            task.cancel()
        for writer in (client_writer, server_writer):
            writer.close()
