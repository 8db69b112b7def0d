"""Closing the terminal `quel dev` runs in stops it as Ctrl-C does: its embedded PostgreSQL and Redis
(Redis runs in a session of its own, so the hangup never reaches it) must not outlive it."""

from __future__ import annotations

import os
import pty
import select
import time
from pathlib import Path

import psutil

from tests.stack.test_settings import QUEL, quel_env
from tests.support.processes import free_port

READY = b"Press Ctrl-C to stop."


def read_until(descriptor: int, marker: bytes, *, timeout: float) -> bytes:
    seen = b""
    deadline = time.monotonic() + timeout
    while marker not in seen:
        left = deadline - time.monotonic()
        assert left > 0, seen.decode(errors="replace")[-2000:]
        readable, _, _ = select.select([descriptor], [], [], left)
        if readable:
            chunk = os.read(descriptor, 4096)
            assert chunk, seen.decode(errors="replace")[-2000:]
            seen += chunk
    return seen


def servers_of(folder: Path) -> list[psutil.Process]:
    """The processes serving from `folder` (pgserver's postgres is not a child of quel)."""
    return [
        process
        for process in psutil.process_iter(["cmdline"])
        if str(folder) in " ".join(process.info["cmdline"] or [])
    ]


def test_closing_the_terminal_stops_quel_dev_and_its_servers(tmp_path: Path) -> None:
    env = quel_env({"API_PORT": str(free_port())})
    pid, terminal = pty.fork()
    if pid == 0:  # the child: quel dev with the terminal as its controlling tty
        os.chdir(tmp_path)
        os.execvpe(QUEL[0], [*QUEL, "dev"], env)
    servers: list[psutil.Process] = []
    try:
        read_until(terminal, READY, timeout=120)
        servers = servers_of(tmp_path / ".quel")
        names = {server.name() for server in servers}
        assert {"postgres", "redis-server"} <= names, names
    finally:
        os.close(terminal)  # the terminal goes away: the kernel hangs up its session
    psutil.Process(pid).wait(timeout=60)
    _, alive = psutil.wait_procs(servers, timeout=30)
    for process in alive:
        process.kill()  # not left behind for the next tests, whatever the result
    assert not alive, [(process.pid, process.name()) for process in alive]
