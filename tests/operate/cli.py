"""Runs `quel` as operators do: a separate process configured only by its environment.

The process is awaited asynchronously so the test's own workers keep answering queries meanwhile.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import SecretStr
from temporalio.testing import WorkflowEnvironment

from quel.resources import require_url
from quel.settings import Settings, load_settings


@dataclass(frozen=True)
class QuelRun:
    returncode: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        assert self.returncode == 0, self.stderr
        return json.loads(self.stdout)


def operate_settings(database_url: str, redis_url: str, folder: Path, **overrides: object) -> Settings:
    """Like the `settings` fixture, for fixtures that outlive one test; its own task queues."""
    queue = folder.name[-8:]
    return load_settings(
        database_url=SecretStr(database_url),
        redis_url=SecretStr(redis_url),
        temporal_task_queue=f"jobs-{queue}",
        temporal_image_task_queue=f"images-{queue}",
        storage_dir=folder / "storage",
        image_generator="offline",
        gemini_api_key=None,
        **overrides,
    )


def quel_env(settings: Settings, temporal_env: WorkflowEnvironment) -> dict[str, str]:
    return {
        "TEMPORAL_ADDRESS": temporal_env.client.service_client.config.target_host,
        "TEMPORAL_NAMESPACE": temporal_env.client.namespace,
        "TEMPORAL_TASK_QUEUE": settings.temporal_task_queue,
        "TEMPORAL_IMAGE_TASK_QUEUE": settings.temporal_image_task_queue,
        "DATABASE_URL": require_url(settings.database_url, "DATABASE_URL"),
        "REDIS_URL": require_url(settings.redis_url, "REDIS_URL"),
        "STORAGE_DIR": str(settings.storage_dir),
        "IMAGE_GENERATOR": "offline",
        "LOG_FORMAT": "json",
    }


async def run_quel(*args: str, env: dict[str, str], cwd: Path, timeout: float = 120) -> QuelRun:
    inherited = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("TEMPORAL_", "DATABASE_", "REDIS_", "GEMINI_", "SUPABASE_", "STORAGE_"))
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "quel",
        *args,
        env={**inherited, **env},
        cwd=cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(), timeout)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    assert process.returncode is not None
    return QuelRun(process.returncode, stdout.decode(), stderr.decode())
