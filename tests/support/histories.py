"""Histories of real runs, committed under tests/histories/ and replayed in CI.

Set QUEL_RECORD_HISTORIES=1 to (re)write them from the runs of the workflow tests, after a
change to the workflow that is meant to be incompatible (see README, "Changing the workflow").
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from temporalio.client import WorkflowHandle

HISTORIES = Path(__file__).resolve().parent.parent / "histories"


async def keep_history(handle: WorkflowHandle[Any, Any], name: str) -> None:
    if not os.environ.get("QUEL_RECORD_HISTORIES"):
        return
    history = await handle.fetch_history()
    HISTORIES.mkdir(exist_ok=True)
    (HISTORIES / f"{name}.json").write_text(history.to_json())
