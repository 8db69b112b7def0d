"""Workflow tests run against the paid services' fakes, spoken to by the real SDKs over HTTP."""

from __future__ import annotations

import pytest

from quel.settings import Settings
from tests.fakes.gemini_server import FakeGemini
from tests.fakes.storage_server import FakeSupabaseStorage
from tests.support.remote import with_fakes


@pytest.fixture
def remote_settings(settings: Settings, fake_gemini: FakeGemini, fake_storage: FakeSupabaseStorage) -> Settings:
    """Gemini and Supabase Storage backends, pointed at the fakes."""
    return with_fakes(settings, gemini_url=fake_gemini.base_url, storage_url=fake_storage.url)
