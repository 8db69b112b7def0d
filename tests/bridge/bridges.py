"""The two ways a test runs a bridge: in the test's own event loop, where its counters can be
read directly, or as `python -m quel bridge` configured by environment as in production.

A process writes its JSON log lines to a file per run, so a test can wait for it to be
running and read the counters it logged when it stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path
from typing import IO, Any, TypedDict, Unpack

import redis.asyncio as redis
from temporalio.client import Client

from bridge.queue_bridge import COUNTERS_LOG_SECONDS, DEFAULT_CONCURRENCY, QueueBridge
from quel.resources import Resources
from quel.settings import Settings
from tests.support.waiting import eventually

REPOSITORY = Path(__file__).resolve().parents[2]
# Importing the command takes a few seconds of CPU on a small machine.
START_TIMEOUT_SECONDS = 60.0


class BridgeOptions(TypedDict, total=False):
    """What a test changes of a bridge on its servers."""

    temporal: Client
    redis_client: redis.Redis
    bridge_id: str
    concurrency: int
    counters_log_seconds: float


class InProcessBridges:
    def __init__(self, client: Client, settings: Settings, resources: Resources) -> None:
        self._client = client
        self._settings = settings
        self._resources = resources
        self._running: list[tuple[asyncio.Event, asyncio.Task[None]]] = []

    def build(self, **options: Unpack[BridgeOptions]) -> QueueBridge:
        """A bridge on the test's servers (or the given clients), not running yet."""
        return QueueBridge(
            redis_client=options.get("redis_client", self._resources.redis),
            temporal=options.get("temporal", self._client),
            read_job=self._resources.store.headline,
            priorities=self._settings.priorities,
            queue=self._settings.redis_queue,
            task_queue=self._settings.temporal_task_queue,
            bridge_id=options.get("bridge_id", f"test-{uuid.uuid4().hex[:8]}"),
            concurrency=options.get("concurrency", DEFAULT_CONCURRENCY),
            counters_log_seconds=options.get("counters_log_seconds", COUNTERS_LOG_SECONDS),
        )

    def start(self, **options: Unpack[BridgeOptions]) -> QueueBridge:
        """`build(**options)`, running until `stop_all()`."""
        bridge = self.build(**options)
        stop = asyncio.Event()
        self._running.append((stop, asyncio.create_task(bridge.run(stop))))
        return bridge

    async def stop_all(self) -> None:
        for stop, _ in self._running:
            stop.set()
        await asyncio.gather(*(task for _, task in self._running))


class BridgeProcess:
    def __init__(self, environment: dict[str, str], log_path: Path) -> None:
        self._environment = {**os.environ, **environment, "LOG_FORMAT": "json"}
        self.log_path = log_path
        self._log: IO[bytes] | None = None
        self._process: subprocess.Popen[bytes] | None = None

    async def start(self, *, until: str = "bridge running") -> None:
        """Returns once the bridge logged `until`: by default, once it re-drove its leftovers
        and is taking ids."""
        self._log = self.log_path.open("wb")
        self._process = subprocess.Popen(
            [sys.executable, "-m", "quel", "bridge"],
            cwd=REPOSITORY,
            env=self._environment,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

        async def running() -> bool:
            assert self._process is not None
            if self._process.poll() is not None:
                raise AssertionError(f"bridge exited with {self._process.returncode}: {self.log_path.read_text()}")
            return any(event.get("event") == until for event in self.events())

        await eventually(running, timeout=START_TIMEOUT_SECONDS, what=f"bridge process logged {until!r}")

    def kill(self) -> None:
        """SIGKILL: no handler runs, whatever the bridge was doing is cut short."""
        self._signal(signal.SIGKILL)
        self.wait(timeout=10)

    def terminate(self, *, timeout: float = 30) -> int:
        self._signal(signal.SIGTERM)
        return self.wait(timeout=timeout)

    def wait(self, *, timeout: float) -> int:
        assert self._process is not None
        try:
            return self._process.wait(timeout=timeout)
        finally:
            if self._log is not None:
                self._log.close()

    def stop_if_running(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self.kill()

    def events(self) -> list[dict[str, Any]]:
        """The structured log lines written so far (plain console lines are skipped)."""
        events = []
        for line in self.log_path.read_text(errors="replace").splitlines():
            if line.startswith("{"):
                with contextlib.suppress(json.JSONDecodeError):  # a line still being written
                    events.append(json.loads(line))
        return events

    def _signal(self, signum: int) -> None:
        assert self._process is not None
        os.kill(self._process.pid, signum)


class BridgeProcesses:
    """Launches `quel bridge` processes that share one BRIDGE_ID, as a restarted bridge does."""

    def __init__(self, environment: dict[str, str], log_folder: Path) -> None:
        self.environment = environment
        self._log_folder = log_folder
        self.launched: list[BridgeProcess] = []

    async def start(self, *, until: str = "bridge running", **environment: str) -> BridgeProcess:
        log = self._log_folder / f"bridge-{len(self.launched)}.log"
        process = BridgeProcess({**self.environment, **environment}, log)
        self.launched.append(process)
        await process.start(until=until)
        return process
