"""Histories of real runs, committed under tests/histories/ and replayed in CI, and what tests and
benchmarks read from a history.

Set QUEL_RECORD_HISTORIES=1 to (re)write them from the runs of the workflow tests, after a
change to the workflow that is meant to be incompatible (see README, "Changing the workflow").
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import WorkflowHandle, WorkflowHistory

from activities.contracts import ActivityName

HISTORIES = Path(__file__).resolve().parent.parent / "histories"


async def keep_history(handle: WorkflowHandle[Any, Any], name: str) -> None:
    if not os.environ.get("QUEL_RECORD_HISTORIES"):
        return
    history = await handle.fetch_history()
    HISTORIES.mkdir(exist_ok=True)
    (HISTORIES / f"{name}.json").write_text(history.to_json())


def image_scheduled_events(history: WorkflowHistory) -> list[HistoryEvent]:
    """The events scheduling the history's `generate_image` activities, in order."""
    return [
        event
        for event in history.events
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
        and event.activity_task_scheduled_event_attributes.activity_type.name == ActivityName.GENERATE_IMAGE
    ]
