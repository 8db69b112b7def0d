"""Workflow tests run against the paid services' fakes, spoken to by the real SDKs over HTTP."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pydantic import SecretStr

from quel.settings import GeneratorBackend, Settings, StorageBackend
from tests.fakes.gemini_server import FakeGemini
from tests.fakes.storage_server import FakeSupabaseStorage

GEMINI_KEY = "gemini-test-key-not-a-secret-anywhere"
STORAGE_KEY = "fake-service-key"


@pytest.fixture
def fake_storage() -> Iterator[FakeSupabaseStorage]:
    with FakeSupabaseStorage(service_key=STORAGE_KEY) as server:
        yield server


@pytest.fixture
def remote_settings(settings: Settings, fake_gemini: FakeGemini, fake_storage: FakeSupabaseStorage) -> Settings:
    """Gemini and Supabase Storage backends, pointed at the fakes."""
    return settings.model_copy(
        update={
            "image_generator": GeneratorBackend.GEMINI,
            "gemini_api_key": SecretStr(GEMINI_KEY),
            "gemini_base_url": fake_gemini.base_url,
            "gemini_timeout_seconds": 5.0,
            "storage_backend": StorageBackend.SUPABASE,
            "supabase_url": fake_storage.url,
            "supabase_service_key": SecretStr(STORAGE_KEY),
        }
    )
