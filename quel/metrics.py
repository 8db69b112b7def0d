"""Prometheus metrics of a process on its METRICS_PORT: the Temporal SDK's runtime metrics and
the project's own (`quel_*`), which are emitted through the same runtime's metric meter."""

from __future__ import annotations

from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig

from quel.settings import Settings


def metrics_runtime(settings: Settings) -> Runtime | None:
    """A runtime exporting on METRICS_PORT, or None (the SDK default) when no port is set."""
    if settings.metrics_port is None:
        return None
    return Runtime(telemetry=TelemetryConfig(metrics=PrometheusConfig(bind_address=f"0.0.0.0:{settings.metrics_port}")))
