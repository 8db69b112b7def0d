"""Prometheus metrics of a process on its METRICS_PORT: the Temporal SDK's runtime metrics and
the project's own (`quel_*`), which are emitted through the same runtime's metric meter."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from temporalio.common import MetricMeter
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig

from quel.settings import Settings


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
    while True:
        for name, value in read().items():
            gauges[name].set(value)
        try:
            await asyncio.wait_for(stop.wait(), timeout=every)
            return
        except TimeoutError:
            continue
