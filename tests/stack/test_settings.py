"""Settings: invalid values are refused with the variable's name; secrets never printed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from quel.settings import SettingsError, load_settings

QUEL = [sys.executable, "-m", "quel"]
SECRETS = {
    "GEMINI_API_KEY": "gm-key-do-not-print",
    "SUPABASE_SERVICE_KEY": "sb-key-do-not-print",
    "TEMPORAL_API_KEY": "tmp-key-do-not-print",
}


def quel_env(env: dict[str, str]) -> dict[str, str]:
    """This environment without the services it may point at, plus `env`: quel starts its own."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("TEMPORAL_", "DATABASE_", "REDIS_", "GEMINI_"))}
    return {**clean, **env}


def run_quel(*args: str, env: dict[str, str], cwd: Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*QUEL, *args], env=quel_env(env), cwd=cwd, capture_output=True, text=True, timeout=timeout)


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("IMAGE_CONCURRENCY", "0"),
        ("IMAGE_CONCURRENCY", "two"),
        ("IMAGE_PER_PRICE", "-5"),
        ("STORAGE_BACKEND", "s3"),
        ("IMAGE_GENERATOR", "dall-e"),
        ("GEMINI_BASE_URL", "ftp://example.com"),
        ("METRICS_PORT", "70000"),
        ("TEMPORAL_TASK_QUEUE", ""),
    ],
)
def test_invalid_value_is_refused_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError, match=variable):
        load_settings()


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"IMAGE_GENERATOR": "gemini"}, "GEMINI_API_KEY"),
        ({"STORAGE_BACKEND": "supabase"}, "SUPABASE_URL"),
    ],
)
def test_backend_without_its_credentials_is_refused(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], named: str
) -> None:
    monkeypatch.delenv("GEMINI_API_KEY", raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(SettingsError, match=named):
        load_settings()


def test_generator_defaults_to_gemini_only_when_a_key_is_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GEMINI_API_KEY", raising=False)
    monkeypatch.delenv("IMAGE_GENERATOR", raising=False)
    assert load_settings().generator.value == "offline"
    monkeypatch.setenv("GEMINI_API_KEY", "k")
    assert load_settings().generator.value == "gemini"


def test_settings_never_show_secret_values(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in SECRETS.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("SUPABASE_URL", "https://example.supabase.co")
    monkeypatch.setenv("DATABASE_URL", "postgresql://app:db-password-do-not-print@db.example/quel")
    settings = load_settings()
    shown = repr(settings) + str(settings) + settings.model_dump_json()
    for secret in [*SECRETS.values(), "db-password-do-not-print"]:
        assert secret not in shown
    monkeypatch.setenv("IMAGE_CONCURRENCY", "many")
    with pytest.raises(SettingsError) as error:
        load_settings()
    assert not any(secret in str(error.value) for secret in SECRETS.values())


@pytest.mark.parametrize("command", [["migrate"], ["worker"], ["bridge"], ["enqueue", "x"], ["dev"]])
def test_every_command_checks_settings_before_connecting(tmp_path: Path, command: list[str]) -> None:
    result = run_quel(
        *command,
        env={"IMAGE_CONCURRENCY": "lots", "DATABASE_URL": "postgresql://u:p@10.255.255.1:5432/x"},
        cwd=tmp_path,
        timeout=30,
    )
    assert result.returncode == 2
    assert "IMAGE_CONCURRENCY" in result.stderr
    assert not (tmp_path / ".quel").exists(), "nothing may be started before settings are valid"


@pytest.mark.parametrize(
    ("command", "env"),
    [
        (["migrate"], {"DATABASE_URL": "postgresql://app:db-password-do-not-print@127.0.0.1:1/quel"}),
        (["enqueue", "x"], {"REDIS_URL": "redis://:redis-password-do-not-print@127.0.0.1:1/0"}),
        (["enqueue", "--direct", "x"], {"TEMPORAL_ADDRESS": "127.0.0.1:1"}),
        (["worker"], {"TEMPORAL_ADDRESS": "127.0.0.1:1"}),
    ],
)
def test_unreachable_dependency_ends_cleanly_without_secrets(
    tmp_path: Path, command: list[str], env: dict[str, str]
) -> None:
    result = run_quel(*command, env={**SECRETS, "SUPABASE_URL": "https://example.supabase.co", **env}, cwd=tmp_path)
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "cannot reach a dependency" in output
    for secret in [*SECRETS.values(), "db-password-do-not-print", "redis-password-do-not-print"]:
        assert secret not in output
