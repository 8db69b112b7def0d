"""What every benchmark shares: its own servers, seeded rows and inputs, worker processes, and
the figures it reports (each a measurement beside the baseline it is divided by)."""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager, contextmanager, redirect_stderr
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

import asyncpg
import psutil
from pydantic import SecretStr
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.client import Client, WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from clients.migrations import migrate
from clients.postgres import connect, with_database
from clients.task_queues import describe_task_queue
from operations.start import start_job_workflow
from quel.embedded import EmbeddedPostgres, EmbeddedRedis
from quel.logging_setup import configure_logging
from quel.settings import GeneratorBackend, Settings, load_settings
from quel.temporal_server import start_dev_server
from tests.fakes.gemini_server import FakeGemini
from tests.support.harness import seed_inputs
from tests.support.processes import settings_env
from tests.support.seed import fixture, seed_accounts, seed_job
from workflows.production_job import ProductionJobWorkflow
from workflows.progress import JobResult

GEMINI_KEY = "bench-key-not-a-secret"
PLENTY_OF_CREDITS = 1_000_000_000
"""Every payer's balance before a run: the benchmarks measure speed, not the credit check."""


# -- figures ---------------------------------------------------------------------------------


class Goal(StrEnum):
    AT_MOST = "<="
    AT_LEAST = ">="
    UNDER = "<"


@dataclass(frozen=True)
class Figure:
    """One row of RESULTS.md: `measured / baseline` held against the issue's target ratio."""

    benchmark: str
    what: str
    measured: float
    baseline: float
    unit: str
    baseline_is: str
    goal: Goal | None = None
    """None: the figure is reported for context and has no target."""
    target: float = 1.0

    @property
    def ratio(self) -> float:
        return self.measured / self.baseline

    @property
    def passed(self) -> bool | None:
        if self.goal is None:
            return None
        if self.goal is Goal.AT_MOST:
            return self.ratio <= self.target
        if self.goal is Goal.AT_LEAST:
            return self.ratio >= self.target
        return self.ratio < self.target


@dataclass
class BenchResult:
    name: str
    figures: list[Figure] = field(default_factory=list)
    raw: list[str] = field(default_factory=list)
    """Lines of raw numbers and findings, printed under the table."""

    def note(self, line: str) -> None:
        self.raw.append(line)
        print(f"[{self.name}] {line}", flush=True)


def print_figures(result: BenchResult) -> None:
    for figure in result.figures:
        line = (
            f"{figure.what}: {figure.measured:.3f} {figure.unit} vs {figure.baseline:.3f} ({figure.baseline_is})"
            f" = {figure.ratio:.3f}x"
        )
        if figure.goal is not None:
            line += f", target {figure.goal.value} {figure.target:g}x: {'ok' if figure.passed else 'MISSED'}"
        print(line)


def machine_facts() -> dict[str, str]:
    model = next(
        (line.split(":", 1)[1].strip() for line in _cpuinfo() if line.startswith("model name")),
        platform.processor() or "unknown",
    )
    return {
        "nproc": str(len(os.sched_getaffinity(0))),
        "cpu": model,
        "memory": f"{psutil.virtual_memory().total / 2**30:.1f} GiB",
        "python": platform.python_version(),
        "os": platform.platform(),
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }


def _cpuinfo() -> list[str]:
    try:
        return Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return []


@contextmanager
def logs_to(file: Path) -> Iterator[None]:
    """The project's JSON logs, as in production, but into a file so the figures stay readable."""
    configure_logging("json")
    # The handler writes to `sys.stderr` as it is at each event.
    with file.open("a") as stream, redirect_stderr(stream):
        yield


def command_line(
    run: Callable[..., Coroutine[Any, Any, BenchResult]], description: str | None, **options: tuple[int, str]
) -> None:
    """`python -m bench.<name>`: the benchmark's integer options (name: default and help), its
    servers in a temporary folder, its logs in a file there, its figures printed."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    for name, (default, help_text) in options.items():
        parser.add_argument(f"--{name.replace('_', '-')}", type=int, default=default, help=help_text)
    arguments = vars(parser.parse_args())
    with tempfile.TemporaryDirectory() as folder, logs_to(Path(folder) / "bench.log"):
        result = asyncio.run(run(Path(folder), **arguments))
    print_figures(result)


# -- servers ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Stack:
    environment: WorkflowEnvironment
    database_url: str
    redis_url: str
    folder: Path

    @property
    def client(self) -> Client:
        return self.environment.client

    @property
    def temporal_address(self) -> str:
        return self.environment.client.service_client.config.target_host


@asynccontextmanager
async def local_stack(folder: Path, *, fairness: bool = True) -> AsyncIterator[Stack]:
    """A Temporal dev server (fairness on, as every server the project starts, unless told), a fresh
    database with the legacy schema (on DATABASE_URL's server or an embedded one) and Redis
    (REDIS_URL or embedded), all stopped or dropped on exit."""
    given = load_settings()
    async with AsyncExitStack() as stack:
        environment = await start_dev_server(database_file=None, port=None, ui_port=None, fairness=fairness)
        stack.push_async_callback(environment.shutdown)
        admin_url = given.database_url.get_secret_value() if given.database_url else None
        if admin_url is None:
            postgres = EmbeddedPostgres(folder)
            admin_url = await asyncio.to_thread(postgres.start)
            stack.callback(postgres.stop)
        database_url = await fresh_database(admin_url, stack)
        redis_url = given.redis_url.get_secret_value() if given.redis_url else None
        if redis_url is None:
            redis_server = EmbeddedRedis(folder)
            redis_url = redis_server.start()
            stack.callback(redis_server.stop)
        yield Stack(environment, database_url, redis_url, folder)


async def fresh_database(admin_url: str, stack: AsyncExitStack) -> str:
    """A new database with the legacy schema and migrations, dropped when `stack` closes."""
    name = f"bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(admin_url)
    await admin.execute(f'CREATE DATABASE "{name}"')

    async def drop() -> None:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()

    stack.push_async_callback(drop)
    url = with_database(admin_url, name)
    connection = await asyncpg.connect(url)
    try:
        await migrate(connection, legacy_schema=True)
    finally:
        await connection.close()
    return url


def bench_settings(stack: Stack, fake: FakeGemini | None = None, *, image_concurrency: int = 2) -> Settings:
    """The real google-genai client pointed at the fake (the offline generator without one);
    task queues of their own per call, storage in the stack's folder."""
    queue = uuid.uuid4().hex[:8]
    gemini: dict[str, object] = {"image_generator": GeneratorBackend.OFFLINE, "gemini_api_key": None}
    if fake is not None:
        gemini = {
            "image_generator": GeneratorBackend.GEMINI,
            "gemini_api_key": SecretStr(GEMINI_KEY),
            "gemini_base_url": fake.base_url,
        }
    return load_settings(
        temporal_address=stack.temporal_address,
        temporal_task_queue=f"bench-jobs-{queue}",
        temporal_image_task_queue=f"bench-images-{queue}",
        database_url=SecretStr(stack.database_url),
        redis_url=SecretStr(stack.redis_url),
        storage_dir=stack.folder / "storage",
        image_concurrency=image_concurrency,
        metrics_port=None,
        **gemini,
    )


# -- rows and inputs -------------------------------------------------------------------------


@asynccontextmanager
async def database(settings: Settings) -> AsyncIterator[asyncpg.Connection]:
    """One connection to the settings' database, closed on exit."""
    assert settings.database_url is not None
    connection = await connect(settings.database_url.get_secret_value())
    try:
        yield connection
    finally:
        await connection.close()


async def seed_everything(settings: Settings) -> None:
    """The fixture accounts (with plenty of credits) and every fixture input in storage."""
    async with database(settings) as connection:
        await seed_accounts(connection)
        await connection.execute("UPDATE quel_organization SET org_credit = $1", PLENTY_OF_CREDITS)
        await connection.execute("UPDATE quel_member SET quel_member_credit = $1", PLENTY_OF_CREDITS)
    await seed_inputs(settings)


def fashion_input(images: int) -> dict[str, Any]:
    """The org-paid `single_batch.fashion` input with combinations of up to 10 images (D5 allows
    50) summing to `images`."""
    data = fixture("jobs/single_batch.fashion.json")["job_input_data"]
    angles = [("front", "full"), ("side", "middle"), ("back", "tight")]
    quantities = [min(10, images - first) for first in range(0, images, 10)]
    combinations = [
        {"angle": angles[n % len(angles)][0], "shot": angles[n % len(angles)][1], "quantity": quantity}
        for n, quantity in enumerate(quantities)
    ]
    return {**data, "combinations": combinations}


async def seed_fashion_jobs(settings: Settings, *, jobs: int, images: int, org_paid: bool = True) -> list[str]:
    """`single_batch.fashion` jobs paid by the fixture organisation, or by its member (no org)."""
    payer = {} if org_paid else {"org_id": None}
    async with database(settings) as connection:
        return [
            await seed_job(
                connection,
                "single_batch.fashion",
                job_input_data=fashion_input(images),
                total_images=images,
                **payer,
            )
            for _ in range(jobs)
        ]


async def seed_fixture_job(settings: Settings, name: str) -> str:
    """One fixture job (tests/fixtures/jobs/<name>.json) as it is."""
    async with database(settings) as connection:
        return await seed_job(connection, name)


async def start_job(client: Client, settings: Settings, job_id: str) -> WorkflowHandle[Any, JobResult]:
    # No row read: a plain summary, a few bytes shorter than a real job's.
    await start_job_workflow(client, job_id, task_queue=settings.temporal_task_queue, headline=None)
    return client.get_workflow_handle_for(ProductionJobWorkflow.run, job_id)


def require_completed(result: JobResult, images: int) -> None:
    """A figure of a job that lost images would flatter the project; refuse it."""
    if (result.status, result.completed_images) != ("completed", images):
        raise RuntimeError(f"job {result.job_id} ended {result.status} with {result.completed_images}/{images}")


async def run_job(client: Client, settings: Settings, job_id: str, images: int) -> WorkflowHandle[Any, JobResult]:
    """Starts the job and waits until it has completed all its `images`."""
    handle = await start_job(client, settings, job_id)
    require_completed(await handle.result(), images)
    return handle


async def run_together(client: Client, settings: Settings, job_ids: Sequence[str], images: int) -> None:
    """Starts every job, then waits until each has completed all its `images`."""
    handles = [await start_job(client, settings, job_id) for job_id in job_ids]
    for result in await asyncio.gather(*(handle.result() for handle in handles)):
        require_completed(result, images)


# -- worker processes ------------------------------------------------------------------------


class WorkerProcess:
    """A real `quel worker` process reading exactly `settings`, its logs in `log`."""

    def __init__(self, settings: Settings, *, temporal_address: str, log: Path) -> None:
        self._env = settings_env(settings, temporal_address=temporal_address)
        self._log = log
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self._process is not None, "start() first"
        return self._process.pid

    def start(self) -> None:
        with self._log.open("ab") as log:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "quel", "worker"], env=self._env, stdout=log, stderr=log
            )

    def stop(self) -> None:
        if self._process is None or self._process.poll() is not None:
            return
        self._process.terminate()
        try:
            self._process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()

    def check_running(self) -> None:
        if self._process is not None and self._process.poll() is not None:
            raise RuntimeError(f"worker exited with {self._process.returncode}; see {self._log}")


@asynccontextmanager
async def worker_processes(
    stack: Stack, settings: Settings, *, count: int, logs: Path
) -> AsyncIterator[list[WorkerProcess]]:
    """`count` workers, yielded once each one polls both task queues."""
    workers = [
        WorkerProcess(settings, temporal_address=stack.temporal_address, log=logs / f"worker-{n}.log")
        for n in range(count)
    ]
    try:
        for worker in workers:
            worker.start()
        await wait_for_pollers(stack.client, settings, count, workers)
        yield workers
    finally:
        for worker in workers:
            worker.stop()


async def wait_for_pollers(
    client: Client, settings: Settings, count: int, workers: list[WorkerProcess], *, timeout: float = 60.0
) -> None:
    deadline = time.monotonic() + timeout
    queues = [
        (settings.temporal_task_queue, TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW),
        (settings.temporal_image_task_queue, TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY),
    ]
    while True:
        for worker in workers:
            worker.check_running()
        counts = [await _poller_count(client, name, kind) for name, kind in queues]
        if min(counts) >= count:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"only {counts} pollers after {timeout:g}s, expected {count}")
        await asyncio.sleep(0.2)


async def _poller_count(client: Client, name: str, kind: TaskQueueType.ValueType) -> int:
    reply = await describe_task_queue(client, name, kind)
    return len({poller.identity for poller in reply.pollers})
