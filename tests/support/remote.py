"""Settings that point the Gemini and Supabase Storage backends at the test fakes, so the
real google-genai and storage3 clients talk HTTP to them."""

from __future__ import annotations

from pydantic import SecretStr

from quel.settings import GeneratorBackend, Settings, StorageBackend

GEMINI_KEY = "gemini-test-key-not-a-secret-anywhere"
STORAGE_KEY = "fake-service-key"


def with_fake_gemini(settings: Settings, *, gemini_url: str) -> Settings:
    return settings.model_copy(
        update={
            "image_generator": GeneratorBackend.GEMINI,
            "gemini_api_key": SecretStr(GEMINI_KEY),
            "gemini_base_url": gemini_url,
            "gemini_timeout_seconds": 5.0,
        }
    )


def with_fakes(settings: Settings, *, gemini_url: str, storage_url: str) -> Settings:
    return with_fake_gemini(settings, gemini_url=gemini_url).model_copy(
        update={
            "storage_backend": StorageBackend.SUPABASE,
            "supabase_url": storage_url,
            "supabase_service_key": SecretStr(STORAGE_KEY),
        }
    )
