"""Real `quel` processes for crash tests: started from the test's settings, killed with SIGKILL."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

from pydantic import SecretStr

from quel.settings import Settings


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def settings_env(settings: Settings, *, temporal_address: str) -> dict[str, str]:
    """The environment that makes a `quel` process read exactly these settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TEMPORAL_", "DATABASE_", "REDIS_", "GEMINI_"))}
    for name, value in settings.model_dump().items():
        if value is None:
            continue
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        env[name.upper()] = str(value.value if hasattr(value, "value") else value)
    env["TEMPORAL_ADDRESS"] = temporal_address
    env["LOG_FORMAT"] = "json"
    return env


class QuelProcess:
    def __init__(self, command: str, env: dict[str, str], log: Path) -> None:
        self._args = [sys.executable, "-m", "quel", command]
        self._env = env
        self._log = log
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self._log.open("ab") as log:
            self._process = subprocess.Popen(self._args, env=self._env, stdout=log, stderr=log)

    def kill(self) -> None:
        assert self._process is not None
        self._process.send_signal(signal.SIGKILL)
        self._process.wait(timeout=10)

    def stop(self) -> int:
        if self._process is None or self._process.poll() is not None:
            return self._process.returncode if self._process else 0
        self._process.send_signal(signal.SIGTERM)
        try:
            return self._process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self._process.kill()
            return self._process.wait()
