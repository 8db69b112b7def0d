"""The project's own metrics and legacy log events, emitted from activities.

Metrics go through Temporal's metric meter, so they leave the process on the same Prometheus
endpoint as the SDK's runtime metrics (METRICS_PORT). Log events carry the job id, stage and
image index as fields; prompts are cut to 200 characters and image bytes never logged.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import activity

PROMPT_LOG_LIMIT = 200


def excerpt(text: str) -> str:
    return text if len(text) <= PROMPT_LOG_LIMIT else text[: PROMPT_LOG_LIMIT - 1] + "…"


def log_event(event: str, **fields: object) -> None:
    activity.logger.info(event, extra={"event_name": event, **fields})


def count_generated(category: str) -> None:
    meter = activity.metric_meter()
    meter.create_counter("quel_images_generated", "Images produced and stored").add(1, {"category": category})


def record_generator_latency(category: str, seconds: float) -> None:
    meter = activity.metric_meter()
    histogram = meter.create_histogram_timedelta("quel_generator_latency", "One image generator call", "ms")
    histogram.record(timedelta(seconds=seconds), {"category": category})


def count_credits(amount: int, payer_kind: str) -> None:
    meter = activity.metric_meter()
    meter.create_counter("quel_credits_charged", "Credits deducted for produced images").add(
        amount, {"payer": payer_kind}
    )
