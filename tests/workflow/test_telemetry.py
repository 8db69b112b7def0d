"""What operators get out of a job: Prometheus metrics and one structured log event per
legacy log line, without secrets, long prompts or image data."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import urllib.request
from dataclasses import dataclass

import pytest
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from quel.logging_setup import CONSOLE_LINE_LIMIT, log_formatter, temporal_info_as_fields_only
from quel.metrics import metrics_runtime
from quel.settings import Settings
from tests.fakes.gemini_server import FakeGemini
from tests.fakes.storage_server import FakeSupabaseStorage
from tests.support.harness import harness, settings_for
from tests.support.processes import free_port
from tests.support.remote import GEMINI_KEY, STORAGE_KEY, with_fakes
from tests.support.seed import fashion_job_of
from tests.support.waiting import eventually

LEGACY_EVENTS = (
    "job received",
    "stage start",
    "input downloaded",
    "generator called",
    "attach created",
    "progress",
    "stage completed",
)


async def metrics_client(temporal_env: WorkflowEnvironment, settings: Settings) -> Client:
    """A client whose runtime serves Prometheus on METRICS_PORT, as `quel worker` connects."""
    runtime = metrics_runtime(settings)
    assert runtime is not None
    return await Client.connect(
        temporal_env.client.service_client.config.target_host,
        runtime=runtime,
        data_converter=pydantic_data_converter,
    )


async def test_metrics_endpoint_serves_project_counters_after_a_job(
    temporal_env: WorkflowEnvironment, remote_settings: Settings
) -> None:
    port = free_port()
    settings = remote_settings.model_copy(update={"metrics_port": port})
    async with harness(await metrics_client(temporal_env, settings), settings) as h:
        job_id = await h.seed("single_batch.eats")
        await (await h.start(job_id)).result()
        text = await scrape(port)
    # Labels come sorted, with the SDK's own (namespace, task queue ...) among them.
    assert re.search(r'^quel_images_generated\{[^}]*category="eats"[^}]*\} 2$', text, re.M)
    assert re.search(r'^quel_credits_charged\{[^}]*payer="member"[^}]*\} 40$', text, re.M)
    assert re.search(r"^quel_generator_latency_count\{[^}]*\} 2$", text, re.M)
    assert "temporal_activity_execution_latency" in text or "temporal_request" in text


async def test_image_backlog_gauges_show_the_images_waiting_for_a_worker(
    temporal_env: WorkflowEnvironment, remote_settings: Settings, fake_gemini: FakeGemini
) -> None:
    """One generator slot, its call held: of a 6-image job the worker holds 1, the server queues 5."""
    port = free_port()
    settings = remote_settings.model_copy(update={"metrics_port": port, "image_concurrency": 1})
    fake_gemini.hold()
    async with harness(await metrics_client(temporal_env, settings), settings) as h:
        job_id = await h.seed("single_batch.fashion", total_images=6, job_input_data=fashion_job_of(6))
        handle = await h.start(job_id)

        async def backlog_shown() -> float | None:
            return metric(await scrape(port), "quel_image_backlog_tasks")

        backlog = await eventually(backlog_shown, timeout=30, what="a backlog on the metrics endpoint")
        oldest = metric(await scrape(port), "quel_image_backlog_age_seconds")
        fake_gemini.release()
        await handle.result()
    assert backlog == 5
    assert oldest is not None and oldest > 0


async def scrape(port: int) -> str:
    def read() -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
            return str(response.read().decode())

    return await asyncio.to_thread(read)


def metric(text: str, name: str) -> float | None:
    found = re.search(rf"^{name}(?:\{{[^}}]*\}})? (\S+)$", text, re.M)
    return float(found.group(1)) if found else None


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@dataclass(frozen=True)
class JobLog:
    job_id: str
    records: list[logging.LogRecord]
    """Everything logged at INFO and above while the job's harness ran."""


@pytest.fixture(scope="module")
async def fashion_job_log(
    temporal_env: WorkflowEnvironment, database_url: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> JobLog:
    """One `single_batch.fashion` job against the fakes, logged as `quel worker` logs (the Temporal
    info as fields only), for every test that reads a job's log."""
    settings = settings_for(database_url, redis_url, tmp_path_factory.mktemp("storage"))
    handler, root = Records(), logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    temporal_info_as_fields_only()
    try:
        with FakeGemini() as gemini, FakeSupabaseStorage(service_key=STORAGE_KEY) as storage:
            remote = with_fakes(settings, gemini_url=gemini.base_url, storage_url=storage.url)
            async with harness(temporal_env.client, remote) as h:
                job_id = await h.seed("single_batch.fashion")
                await (await h.start(job_id)).result()
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
    return JobLog(job_id, handler.records)


async def test_a_job_logs_every_legacy_event_without_secrets(fashion_job_log: JobLog) -> None:
    job_id, records = fashion_job_log.job_id, fashion_job_log.records
    events = [r for r in records if getattr(r, "job_id", None) == job_id]
    names = {getattr(r, "event_name", None) for r in events}
    assert set(LEGACY_EVENTS) <= names
    for record in events:
        if record.__dict__.get("event_name") in ("input downloaded", "generator called", "attach created", "progress"):
            assert {"stage", "combo", "image"} <= record.__dict__.keys()
    everything = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in records)
    assert GEMINI_KEY not in everything
    assert STORAGE_KEY not in everything
    prompts = [r.__dict__["prompt"] for r in events if r.__dict__.get("event_name") == "generator called"]
    assert prompts and all(len(prompt) <= 200 for prompt in prompts)


async def test_console_log_of_a_job_is_short_lines_and_json_keeps_every_field(fashion_job_log: JobLog) -> None:
    job_id = fashion_job_log.job_id
    records = [r for r in fashion_job_log.records if r.__dict__.get("job_id") == job_id]
    assert {r.__dict__.get("event_name") for r in records} >= set(LEGACY_EVENTS)
    console, as_json = log_formatter("console"), log_formatter("json")
    for record in records:
        line = console.format(record)
        assert len(line) <= CONSOLE_LINE_LIMIT and "\n" not in line, line
        assert "temporal_" not in line and "workflow_run_id" not in line and "{" not in line, line
        assert record.getMessage() in line, line
        assert job_id[:8] in line and job_id not in line, line
        fields = json.loads(as_json.format(record))
        assert fields["event"] == record.getMessage() and fields["job_id"] == job_id
        assert {key: fields[key] for key in ("stage", "combo", "image") if key in record.__dict__} == {
            key: record.__dict__[key] for key in ("stage", "combo", "image") if key in record.__dict__
        }
        info = fields.get("temporal_activity") or fields.get("temporal_workflow")
        assert info["workflow_id"] == job_id
    prompts = [json.loads(as_json.format(r)).get("prompt") for r in records]
    assert any(prompt and len(prompt) > 100 for prompt in prompts), "the JSON line keeps the prompt excerpt"
