"""Fault cases talk to the paid services' fakes over HTTP, like the workflow tests, with a
storage fake that can also hold an upload's reply (see `held_storage.py`)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from quel.settings import Settings
from tests.fakes.gemini_server import FakeGemini
from tests.faults.held_storage import HoldingStorage
from tests.support.processes import QuelProcess, settings_env
from tests.support.remote import STORAGE_KEY, with_fakes


@pytest.fixture
def fake_storage() -> Iterator[HoldingStorage]:
    with HoldingStorage(service_key=STORAGE_KEY) as server:
        yield server
        server.release()


@pytest.fixture
def remote_settings(settings: Settings, fake_gemini: FakeGemini, fake_storage: HoldingStorage) -> Settings:
    """Gemini and Supabase Storage backends, pointed at the fakes."""
    return with_fakes(settings, gemini_url=fake_gemini.base_url, storage_url=fake_storage.url)


@pytest.fixture
def worker(remote_settings: Settings, temporal_env: WorkflowEnvironment, tmp_path: Path) -> QuelProcess:
    env = settings_env(remote_settings, temporal_address=temporal_env.client.service_client.config.target_host)
    return QuelProcess("worker", env, tmp_path / "worker.log")
