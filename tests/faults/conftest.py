"""Fault cases talk to the paid services' fakes over HTTP, like the workflow tests; the worker
is a real `quel worker` process the tests kill."""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from quel.settings import Settings
from tests.support.processes import QuelProcess, settings_env


@pytest.fixture
def worker(remote_settings: Settings, temporal_env: WorkflowEnvironment, tmp_path: Path) -> QuelProcess:
    env = settings_env(remote_settings, temporal_address=temporal_env.client.service_client.config.target_host)
    return QuelProcess("worker", env, tmp_path / "worker.log")
