"""`quel dev` and its embedded servers when it does not end with Ctrl-C: closing its terminal stops it
as Ctrl-C does, so its PostgreSQL and Redis (Redis runs in a session of its own, so the hangup never
reaches it) do not outlive it; after a `kill -9`, the next `quel dev` does not run a second Redis
on the same files."""

from __future__ import annotations

import os
import pty
import select
import signal
import time
from pathlib import Path

import psutil

from tests.stack.test_settings import QUEL, quel_env
from tests.support.processes import free_port

READY = b"Press Ctrl-C to stop."


def read_until(descriptor: int, marker: bytes, *, timeout: float) -> None:
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


def servers_of(folder: Path) -> list[psutil.Process]:
    """The processes serving from `folder` (pgserver's postgres is not a child of quel)."""
    return [
        process
        for process in psutil.process_iter(["cmdline"])
        if str(folder) in " ".join(process.info["cmdline"] or [])
    ]


def start_quel_dev(folder: Path) -> tuple[int, int]:
    """(pid, terminal) of `quel dev` in `folder`, its terminal a pty, once it says it is running."""
    env = quel_env({"API_PORT": str(free_port())})
    pid, terminal = pty.fork()
    if pid == 0:  # the child: quel dev with the terminal as its controlling tty
        os.chdir(folder)
        os.execvpe(QUEL[0], [*QUEL, "dev"], env)
    try:
        read_until(terminal, READY, timeout=120)
    except BaseException:
        os.close(terminal)
        raise
    return pid, terminal


def stop_left_over(processes: list[psutil.Process], *, timeout: float = 30) -> list[psutil.Process]:
    """Waits for `processes` to end; kills (so no later test meets them) and returns those still alive."""
    _, alive = psutil.wait_procs(processes, timeout=timeout)
    for process in alive:
        process.kill()
    return alive


def test_closing_the_terminal_stops_quel_dev_and_its_servers(tmp_path: Path) -> None:
    pid, terminal = start_quel_dev(tmp_path)
    try:
        servers = servers_of(tmp_path / ".quel")
        names = {server.name() for server in servers}
        assert {"postgres", "redis-server"} <= names, names
    finally:
        os.close(terminal)  # the terminal goes away: the kernel hangs up its session
    psutil.Process(pid).wait(timeout=60)
    alive = stop_left_over(servers)
    assert not alive, [(process.pid, process.name()) for process in alive]


def test_after_a_kill_the_next_quel_dev_runs_one_redis(tmp_path: Path) -> None:
    pid, terminal = start_quel_dev(tmp_path)
    os.kill(pid, signal.SIGKILL)
    psutil.Process(pid).wait(timeout=30)
    os.close(terminal)
    (killed_redis,) = [server for server in servers_of(tmp_path / ".quel") if server.name() == "redis-server"]
    left = servers_of(tmp_path / ".quel")
    try:
        pid, terminal = start_quel_dev(tmp_path)
        try:
            redis_servers = [server for server in servers_of(tmp_path / ".quel") if server.name() == "redis-server"]
            assert killed_redis not in redis_servers
            assert len(redis_servers) == 1, redis_servers
        finally:
            os.close(terminal)
        psutil.Process(pid).wait(timeout=60)
    finally:
        # The killed run's Temporal dev server is left running; the second run served on it.
        stop_left_over(left + servers_of(tmp_path / ".quel"), timeout=10)
