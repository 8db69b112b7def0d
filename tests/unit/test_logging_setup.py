"""Log lines as operators search them: the event is the message alone, context comes as fields."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator

import pytest
from rich.console import Console
from rich.progress import Progress
from temporalio import activity
from temporalio.testing import ActivityEnvironment

from quel.logging_setup import configure_logging, log_formatter


@pytest.fixture
def root_logger() -> Iterator[logging.Logger]:
    """The root logger, given back as it was (pytest's own capture handlers) after the test."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield root
    root.handlers[:], root.level = handlers, level


@pytest.fixture
def json_lines(root_logger: logging.Logger) -> io.StringIO:
    configure_logging("json")
    stream = io.StringIO()
    capture = logging.StreamHandler(stream)
    capture.setFormatter(log_formatter("json"))
    root_logger.handlers[:] = [capture]
    return stream


@activity.defn
async def records_an_output() -> None:
    activity.logger.info("attach created", extra={"attach_id": 7})


async def test_activity_events_carry_their_context_as_fields_not_in_the_message(json_lines: io.StringIO) -> None:
    await ActivityEnvironment().run(records_an_output)
    [line] = [json.loads(text) for text in json_lines.getvalue().splitlines()]
    assert line["event"] == "attach created"
    assert line["attach_id"] == 7
    assert "activity_id" in line["temporal_activity"]


def test_log_events_print_above_a_running_progress_bar_not_through_it(root_logger: logging.Logger) -> None:
    configure_logging("console")
    screen = io.StringIO()
    terminal = Console(file=screen, force_terminal=True, width=120)
    with Progress(console=terminal) as bar:
        bar.add_task("job 7b0e2a51", total=4)
        logging.getLogger("quel.test").info("stage start", extra={"job_id": "7b0e2a51-0000", "stage": 0, "images": 4})
    # Printed through the bar's console as one whole line: rich moves the bar below it.
    assert re.search(r"\d\d:\d\d:\d\d info  stage start +7b0e2a51 stage 1  images=4\r?\n", screen.getvalue())


def test_a_console_line_of_another_library_keeps_its_message_without_its_colour_copy() -> None:
    record = logging.LogRecord("uvicorn.error", logging.INFO, "", 0, "Started server process [%d]", (7,), None)
    record.color_message = "Started server process [\x1b[36m%d\x1b[0m]"
    line = log_formatter("console").format(record)
    assert line.endswith("info  Started server process [7]"), line
