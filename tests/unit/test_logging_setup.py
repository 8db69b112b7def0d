"""Log lines as operators search them: the event is the message alone, context comes as fields."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from temporalio import activity
from temporalio.testing import ActivityEnvironment

from quel.logging_setup import configure_logging


@pytest.fixture
def json_lines() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    configure_logging("json")
    stream = io.StringIO()
    handler = root.handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(stream)
    yield stream
    root.handlers[:], root.level = handlers, level


@activity.defn
async def records_an_output() -> None:
    activity.logger.info("attach created", extra={"attach_id": 7})


async def test_activity_events_carry_their_context_as_fields_not_in_the_message(json_lines: io.StringIO) -> None:
    await ActivityEnvironment().run(records_an_output)
    [line] = [json.loads(text) for text in json_lines.getvalue().splitlines()]
    assert line["event"] == "attach created"
    assert line["attach_id"] == 7
    assert "activity_id" in line["temporal_activity"]
