"""Structured logs: JSON lines in production, one short line per event in a terminal.

Standard-library loggers (ours, Temporal's) go through the same structlog processors, and the
`extra=` fields of a log call become keys of the event. A JSON line keeps every field; a console
line keeps the few a person reads (time, event, job id prefix, stage/combo/image and short values)
and drops Temporal's activity and workflow info.
"""

from __future__ import annotations

import logging
import re
import sys
import traceback
from datetime import datetime
from typing import Literal, TextIO

import structlog
import temporalio.activity
import temporalio.workflow

_RESERVED = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}

CONSOLE_LINE_LIMIT = 160
_VALUE_LIMIT = 40
_EVENT_WIDTH = 18
_TEMPORAL_INFO = ("temporal_activity", "temporal_workflow")
_POSITION = ("stage", "combo", "image")
# In the line's head already, or too long for a terminal line (the JSON line keeps them all).
_NOT_A_CONSOLE_FIELD = {
    "event", "event_name", "timestamp", "level", "logger", "job_id", "prompt", "path", "stack_info",
    "color_message",  # uvicorn's message again, with terminal colour codes
    *_TEMPORAL_INFO, *_POSITION,
}  # fmt: skip
_SHARED: list[structlog.typing.Processor] = [
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
]
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _record_extras(_: object, __: str, event: structlog.typing.EventDict) -> structlog.typing.EventDict:
    record = event.get("_record")
    if isinstance(record, logging.LogRecord):
        for key, value in record.__dict__.items():
            if key not in _RESERVED and not key.startswith("_") and key not in event:
                event[key] = value
    return event


def _short(value: object) -> str:
    """A value as a person reads it in one line: job ids by their first 8 characters, long text cut."""
    if isinstance(value, list | tuple | set):
        items = [_short(item) for item in list(value)[:3]]
        more = f",+{len(value) - 3}" if len(value) > 3 else ""
        return f"[{','.join(items)}{more}]"
    text = _UUID.sub(lambda match: match.group()[:8], str(value))
    return text if len(text) <= _VALUE_LIMIT else text[: _VALUE_LIMIT - 1] + "…"


def _local_time(timestamp: object) -> str:
    try:
        return datetime.fromisoformat(str(timestamp)).astimezone().strftime("%H:%M:%S")
    except ValueError:
        return str(timestamp)


def _job_id(event: structlog.typing.EventDict) -> str | None:
    if event.get("job_id"):
        return str(event["job_id"])
    for key in _TEMPORAL_INFO:
        info = event.get(key)
        if isinstance(info, dict) and info.get("workflow_id"):
            return str(info["workflow_id"])
    return None


def render_console_line(_: object, __: str, event: structlog.typing.EventDict) -> str:
    """`17:10:53 info  attach created     917f7f0c stage 1 combo 2 image 1  attach_id=4`.

    Stage, combo and image count from 1 here, as in the Temporal UI; the JSON line keeps the indexes.
    """
    level = str(event.get("level", "info"))[:5]
    head = [_local_time(event.get("timestamp")), f"{level:<5}", f"{event.get('event', '')!s:<{_EVENT_WIDTH}}"]
    job_id = _job_id(event)
    head += [job_id[:8]] if job_id else []
    head += [f"{key} {event[key] + 1}" for key in _POSITION if isinstance(event.get(key), int)]
    fields = [
        f"{key}={_short(value)}"
        for key, value in event.items()
        if key not in _NOT_A_CONSOLE_FIELD and key != "exc_info" and not key.startswith("_")
    ]
    line = " ".join(head) + ("  " + " ".join(fields) if fields else "")
    if len(line) > CONSOLE_LINE_LIMIT:
        line = line[: CONSOLE_LINE_LIMIT - 1] + "…"
    exc_info = event.get("exc_info")
    if exc_info:
        error = exc_info if isinstance(exc_info, tuple) else sys.exc_info()
        line += "\n" + "".join(traceback.format_exception(*error)).rstrip()
    return line


def log_formatter(log_format: Literal["json", "console"]) -> logging.Formatter:
    """Renders one log record as a JSON line or a short console line."""
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer(default=str) if log_format == "json" else render_console_line
    )
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*_SHARED, _record_extras],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
    )


class _CurrentStderr(logging.StreamHandler[TextIO]):
    """Writes to `sys.stderr` as it is at each event: while a rich progress bar runs, that is rich's
    proxy, which prints the line above the bar instead of through it."""

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr
        super().emit(record)


def temporal_info_as_fields_only() -> None:
    """Temporal's loggers add the activity or workflow info as a field (`temporal_activity`,
    `temporal_workflow`) and, by default, again as a dict pasted into the message."""
    temporalio.activity.logger.activity_info_on_message = False
    temporalio.workflow.logger.workflow_info_on_message = False


def configure_logging(log_format: str = "auto", *, level: int = logging.INFO) -> None:
    use_json = log_format == "json" or (log_format == "auto" and not sys.stderr.isatty())
    handler = _CurrentStderr()
    handler.setFormatter(log_formatter("json" if use_json else "console"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    temporal_info_as_fields_only()
    # pgserver narrates every start at INFO, google-genai and its HTTP client every generator call
    # (what `generator called` already says, at a cost per image a busy worker feels); their
    # warnings still show.
    for chatty in ("pgserver", "google_genai", "httpx", "httpx2"):
        logging.getLogger(chatty).setLevel(logging.WARNING)
    structlog.configure(
        processors=[*_SHARED, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        cache_logger_on_first_use=True,
    )
