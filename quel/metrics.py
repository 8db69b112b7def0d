"""Prometheus metrics of a process on its METRICS_PORT: the Temporal SDK's runtime metrics and
the project's own (`quel_*`), which are emitted through the same runtime's metric meter."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from temporalio.client import Client
from temporalio.common import MetricMeter
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig
from temporalio.service import RPCError

from clients.task_queues import activity_backlog
from quel.settings import Settings

log = logging.getLogger("quel.metrics")

BACKLOG_SECONDS = 5.0
"""How often a worker reads the image task queue's backlog for its gauges."""


def metrics_runtime(settings: Settings) -> Runtime | None:
    """A runtime exporting on METRICS_PORT, or None (the SDK default) when no port is set."""
    if settings.metrics_port is None:
        return None
    return Runtime(telemetry=TelemetryConfig(metrics=PrometheusConfig(bind_address=f"0.0.0.0:{settings.metrics_port}")))


async def export_bridge_counters(
    read: Callable[[], dict[str, int]], meter: MetricMeter, stop: asyncio.Event, *, every: float = 5.0
) -> None:
    """Publishes the bridge's running totals (started, duplicate, dead_lettered, redriven) as
    `quel_bridge_<name>` gauges until `stop` is set."""
    gauges = {
        name: meter.create_gauge(f"quel_bridge_{name}", f"Job ids the bridge counted as {name} since it started")
        for name in read()
    }

    async def publish() -> None:
        for name, value in read().items():
            gauges[name].set(value)

    await _every(every, publish, stop)


async def export_image_backlog(
    client: Client, task_queue: str, meter: MetricMeter, stop: asyncio.Event, *, every: float = BACKLOG_SECONDS
) -> None:
    """Publishes the image task queue's backlog, as the Temporal server counts it, until `stop` is
    set: the signal to scale workers on (README, "Scaling past one machine")."""
    tasks = meter.create_gauge("quel_image_backlog_tasks", "Image activities waiting for a worker, every priority")
    oldest = meter.create_gauge_float(
        "quel_image_backlog_age_seconds", "How long the oldest waiting image activity has waited", "s"
    )

    async def publish() -> None:
        try:
            backlog = await activity_backlog(client, task_queue)
        except RPCError as error:
            log.warning("image backlog unknown", extra={"reason": str(error)})
            return
        tasks.set(backlog.tasks)
        oldest.set(backlog.oldest_seconds)

    await _every(every, publish, stop)


async def _every(seconds: float, action: Callable[[], Awaitable[None]], stop: asyncio.Event) -> None:
    """`action` at once, then every `seconds` until `stop` is set."""
    while True:
        await action()
        try:
            await asyncio.wait_for(stop.wait(), timeout=seconds)
            return
        except TimeoutError:
            continue
