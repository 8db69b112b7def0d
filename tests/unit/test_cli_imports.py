"""`quel --help` answers at once because help loads none of what the commands run with.

Checked by what is imported, not by timing: a fresh interpreter imports `quel.cli`, prints the help of
every command (those added later included), and lists the heavy packages it loaded meanwhile.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from typing import Any

import pytest

# Each costs tens to hundreds of milliseconds to import; together they made `quel --help` take 2 s.
HEAVY = (
    "temporalio.client",
    "temporalio.worker",
    "redis",
    "asyncpg",
    "structlog",
    "rich",
    "pydantic_settings",
    "fastapi",
    "uvicorn",
    "PIL",
    "workflows",
    "activities",
    "bridge",
    "clients",
    "api",
    "operations",
)

EVERY_HELP = """
import contextlib, io, json, sys
import typer.main
from quel.cli import app

HEAVY = tuple(json.loads(sys.argv[1]))

def paths(command, prefix):
    yield prefix
    for name, sub in getattr(command, "commands", {}).items():
        yield from paths(sub, [*prefix, name])

helped = {}
for path in paths(typer.main.get_command(app), []):
    with contextlib.redirect_stdout(io.StringIO()) as out:
        try:
            app([*path, "--help"], prog_name="quel")
        except SystemExit as exit:
            assert exit.code == 0, (path, exit.code)
    helped[" ".join(path)] = out.getvalue()
loaded = sorted(m for m in sys.modules if any(m == h or m.startswith(h + ".") for h in HEAVY))
print(json.dumps({"helped": helped, "loaded": loaded}))
"""


@pytest.fixture(scope="module")
def every_help() -> dict[str, Any]:
    result = subprocess.run(
        [sys.executable, "-c", EVERY_HELP, json.dumps(HEAVY)], capture_output=True, text=True, check=True
    )
    report: dict[str, Any] = json.loads(result.stdout)
    return report


def test_help_of_every_command_loads_no_heavy_package(every_help: dict[str, Any]) -> None:
    assert {"", "dev", "worker", "bridge", "status", "history", "history export"} <= set(every_help["helped"])
    assert every_help["loaded"] == []


def test_help_is_plain_words(every_help: dict[str, Any]) -> None:
    """No decision numbers (D8) for operators, and no `<bool>` after flags that take no value."""
    for path, text in every_help["helped"].items():
        assert text.strip().startswith(f"Usage: quel {path}".rstrip()), path
        assert "<bool>" not in text, path
        assert re.search(r"\bD\d+\b|DECISIONS", text) is None, path
