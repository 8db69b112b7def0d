"""`quel api` refuses to start until the authentication mode is chosen (DECISIONS D11)."""

from __future__ import annotations

from pathlib import Path

from tests.stack.test_settings import run_quel


def test_quel_api_refuses_to_start_without_api_auth(tmp_path: Path) -> None:
    result = run_quel("api", env={"API_AUTH": ""}, cwd=tmp_path)

    assert result.returncode == 2
    assert "API_AUTH is not set" in result.stderr


def test_quel_api_with_token_auth_needs_the_token(tmp_path: Path) -> None:
    result = run_quel("api", env={"API_AUTH": "token"}, cwd=tmp_path)

    assert result.returncode == 2
    assert "API_TOKEN" in result.stderr
