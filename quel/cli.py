"""`quel`: the one entry point of every process (dev stack, worker, bridge, tools).

`quel --help` must answer at once, so this module imports only typer and light standard modules: each
command imports the clients, Temporal and the workflow it needs when it runs
(`tests/unit/test_cli_imports.py` keeps it so).
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

from domain.job_ids import canonical_job_id
from domain.outcome import JobStatus

if TYPE_CHECKING:
    import asyncio
    from datetime import timedelta

    from rich.console import Console
    from temporalio.client import Client
    from temporalio.runtime import Runtime

    from bridge.queue_bridge import QueueBridge
    from clients.job_store import JobHeadline
    from quel.resources import Resources
    from quel.settings import Settings

# Tracebacks with local variables would print connection strings and keys. Plain help: rich's panels
# show `<bool>` after every flag, and loading rich for help is a third of the time `quel --help` takes.
app = typer.Typer(
    help="Quel image jobs on Temporal: the worker, the Redis bridge, the local dev stack and tools to operate jobs.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
    pretty_exceptions_show_locals=False,
)
JOB_ID = typer.Argument(
    help="The job id (quel_production_jobs.job_id, also the workflow id).",
    show_default=False,
    # One spelling everywhere: `6F0B...` names the same job and workflow as `6f0b...`.
    callback=canonical_job_id,
)


@functools.cache
def _console() -> Console:
    from rich.console import Console

    return Console(stderr=True, soft_wrap=True)


def _settings(*, readable_logs: bool = False) -> Settings:
    """Every command validates its settings before it connects to anything."""
    from quel.logging_setup import configure_logging
    from quel.settings import SettingsError, load_settings

    try:
        settings = load_settings()
    except SettingsError as error:
        _console().print(f"[red]{error}[/red]")
        raise typer.Exit(2) from None
    log_format = "console" if readable_logs and settings.log_format == "auto" else settings.log_format
    configure_logging(log_format)
    return settings


def _run(main: Callable[[asyncio.Event], Awaitable[None]], settings: Settings) -> NoReturn:
    """Runs `main` until it returns or SIGINT/SIGTERM/SIGHUP asks it to stop.

    A dependency that cannot be reached ends the command with one plain line, secrets masked.
    """
    import asyncio
    import os
    import signal
    import sys

    from clients.unreachable import UNREACHABLE
    from quel.resources import MissingSetting
    from quel.settings import redact

    async def runner() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        # The terminal closed: stop as for Ctrl-C, or `quel dev`'s embedded servers outlive it.
        # Under nohup (SIGHUP ignored) it keeps running.
        if signal.getsignal(signal.SIGHUP) is not signal.SIG_IGN:
            loop.add_signal_handler(signal.SIGHUP, stop.set)
        await main(stop)

    code = 0
    try:
        asyncio.run(runner())
    except typer.Exit as exit_:
        code = exit_.exit_code
    except MissingSetting as error:
        _console().print(f"[red]{error}[/red]")
        code = 2
    except UNREACHABLE as error:
        _console().print(
            f"[red]cannot reach a dependency: {redact(f'{type(error).__name__}: {error}', settings)}[/red]"
        )
        code = 1
    # Everything the command opened is closed by now. The Temporal client's Rust threads can still
    # call into Python while CPython tears itself down, which aborts the process ("PyGILState_Release:
    # thread state must be current", temporalio/sdk-python#300): a finished command skips that teardown.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _bridge(settings: Settings, resources: Resources, client: Client) -> QueueBridge:
    import os
    import socket

    from bridge.queue_bridge import QueueBridge

    return QueueBridge(
        redis_client=resources.redis,
        temporal=client,
        read_job=resources.store.headline,
        priorities=settings.priorities,
        queue=settings.redis_queue,
        task_queue=settings.temporal_task_queue,
        bridge_id=settings.bridge_id or f"{socket.gethostname()}-{os.getpid()}",
        concurrency=settings.bridge_concurrency,
    )


async def _bridging(bridge: QueueBridge, runtime: Runtime | None, stop: asyncio.Event) -> None:
    """The bridge until `stop`; with metrics on, its counters exported as gauges meanwhile."""
    import asyncio

    from quel.metrics import export_bridge_counters

    exporting = [export_bridge_counters(bridge.counter_fields, runtime.metric_meter, stop)] if runtime else []
    await asyncio.gather(bridge.run(stop), *exporting)


@app.command()
def migrate(
    legacy_schema: Annotated[
        bool,
        typer.Option(
            "--legacy-schema", help="Also create the legacy quel_* tables if none exists (dev and test only)."
        ),
    ] = False,
) -> None:
    """Add this worker's tables to the database.

    Only adds what is missing to the database at DATABASE_URL, so it is safe to run again.
    """
    settings = _settings()

    async def main(_: asyncio.Event) -> None:
        from clients.migrations import migrate as apply_migrations
        from clients.postgres import connect as connect_database
        from quel.resources import require_url

        connection = await connect_database(require_url(settings.database_url, "DATABASE_URL"))
        try:
            applied = await apply_migrations(connection, legacy_schema=legacy_schema)
        finally:
            await connection.close()
        _console().print(f"applied: {', '.join(applied)}" if applied else "database already up to date")

    _run(main, settings)


@app.command()
def dev(
    demo: Annotated[bool, typer.Option(help="Seed a demo job, push it on Redis and follow it to the end.")] = False,
    exit_after_demo: Annotated[bool, typer.Option(help="Stop once the demo job has finished.")] = False,
) -> None:
    """Run everything on this machine, for development and demos.

    Starts a Temporal dev server with its UI, PostgreSQL, Redis, a worker and a bridge, and prints their
    addresses. State is kept under DATA_DIR; Ctrl-C stops everything.
    """
    settings = _settings(readable_logs=True)

    async def main(stop: asyncio.Event) -> None:
        import asyncio

        from api.app import create_app
        from api.server import bind, serve, url_of
        from quel.dev_stack import dev_stack
        from quel.resources import open_resources
        from quel.settings import ApiAuth
        from quel.worker import running_workers

        console = _console()
        async with dev_stack(settings) as stack, open_resources(stack.settings) as resources:
            local = stack.settings
            console.print(f"Temporal UI:     {stack.ui_url}")
            console.print(f"Temporal server: localhost:7233 (namespace {local.temporal_namespace})")
            for line in stack.embedded:
                console.print(f"Started:         {line}")
            console.print(f"Storage:         {_storage_label(local)}")
            console.print(f"Image generator: {local.generator.value}")
            if local.metrics_port:
                console.print(f"Metrics:         http://localhost:{local.metrics_port}/metrics")
            bridge = _bridge(local, resources, stack.client)
            # Bound to API_HOST (127.0.0.1 by default): without API_AUTH the dev API is open, as the Go server was.
            api_settings = local.model_copy(update={"api_auth": local.api_auth or ApiAuth.NONE})
            listener = bind(local.api_host, local.api_port)
            api_url = url_of(listener)
            console.print(f"HTTP API:        {api_url} (auth {api_settings.api_auth}, docs at {api_url}/docs)")
            async with running_workers(stack.client, local, resources):
                background = asyncio.create_task(_bridging(bridge, stack.runtime, stop))
                api = asyncio.create_task(serve(create_app(api_settings, stack.client, resources), listener, stop))
                if demo:
                    await _demo(stack.client, local, resources, stack.ui_url, api_url)
                    if exit_after_demo:
                        stop.set()
                console.print("Running. Press Ctrl-C to stop.")
                await stop.wait()
                await asyncio.gather(background, api)
        console.print("stopped")

    _run(main, settings)


async def _demo(client: Client, settings: Settings, resources: Resources, ui_url: str, api_url: str) -> None:
    from operations.enqueue import push_like_the_producer
    from quel.demo import seed_demo_job
    from quel.follow import follow_job, wait_for_workflow
    from quel.resources import open_storage

    console = _console()
    storage = open_storage(settings)
    try:
        async with resources.pool.acquire() as connection:
            job = await seed_demo_job(connection, storage)
    finally:
        await storage.close()
    await push_like_the_producer(resources.redis, settings.redis_queue, job.job_id)
    console.print(f"Demo job {job.job_id} pushed on Redis '{settings.redis_queue}'")
    bearer = ' -H "Authorization: Bearer $API_TOKEN"' if settings.api_auth == "token" else ""
    console.print(f"Follow it:       curl -N{bearer} {api_url}/api/jobs/{job.job_id}/events", markup=False)
    await wait_for_workflow(client, job.job_id)
    progress = await follow_job(client, job.job_id, console)
    row = await resources.pool.fetchrow(
        "SELECT job_status::text, completed_images, generated_attach_ids FROM quel_production_jobs WHERE job_id = $1",
        job.job_id,
    )
    assert row is not None
    console.print(
        f"Job row: job_status={row['job_status']} completed_images={row['completed_images']} "
        f"generated_attach_ids={row['generated_attach_ids']}"
    )
    if progress.error_message:
        console.print(f"Error: {progress.error_message}")
    paths = await resources.pool.fetch(
        "SELECT attach_file_path FROM quel_attach WHERE attach_id = ANY($1::bigint[]) ORDER BY attach_id",
        list(row["generated_attach_ids"]),
    )
    for record in paths:
        console.print(f"Output: {_object_location(settings, record['attach_file_path'])}")
    console.print(f"In the Temporal UI: {ui_url}/namespaces/{settings.temporal_namespace}/workflows/{job.job_id}")


def _storage_label(settings: Settings) -> str:
    from quel.settings import StorageBackend

    if settings.storage_backend is StorageBackend.SUPABASE:
        return f"Supabase Storage at {settings.supabase_url}, bucket {settings.storage_bucket}"
    return f"local folder {Path(settings.storage_dir) / settings.storage_bucket} (embedded default, not production)"


def _object_location(settings: Settings, path: str) -> str:
    from quel.settings import StorageBackend

    if settings.storage_backend is StorageBackend.SUPABASE:
        return f"{settings.storage_bucket}/{path}"
    return str(Path(settings.storage_dir) / settings.storage_bucket / path)


@app.command()
def worker() -> None:
    """Run a production worker.

    It runs the jobs: their workflows, database steps and image generation (at most IMAGE_CONCURRENCY
    images at once).
    """
    settings = _settings()

    async def main(stop: asyncio.Event) -> None:
        from quel.metrics import metrics_runtime
        from quel.resources import open_resources
        from quel.temporal_client import connect
        from quel.worker import running_workers

        client = await connect(settings, runtime=metrics_runtime(settings))
        async with open_resources(settings) as resources, running_workers(client, settings, resources):
            _console().print(
                f"worker polling '{settings.temporal_task_queue}' and '{settings.temporal_image_task_queue}'"
                f" (image concurrency {settings.image_concurrency})"
            )
            await stop.wait()

    _run(main, settings)


@app.command(name="bridge")
def bridge_command() -> None:
    """Run a production bridge.

    It starts a job for each id the producer pushes on the Redis queue (REDIS_QUEUE).
    """
    settings = _settings()

    async def main(stop: asyncio.Event) -> None:
        from bridge.queue_bridge import retry_while_unreachable
        from quel.metrics import metrics_runtime
        from quel.resources import open_resources
        from quel.temporal_client import connect

        runtime = metrics_runtime(settings)
        # Ids wait safely in Redis, so a bridge started before Temporal waits for it instead of exiting.
        client = await retry_while_unreachable(lambda: connect(settings, runtime=runtime), stop)
        if client is None:
            return
        async with open_resources(settings) as resources:
            queue_bridge = _bridge(settings, resources, client)
            _console().print(f"bridge {queue_bridge.bridge_id} reading '{settings.redis_queue}'")
            await _bridging(queue_bridge, runtime, stop)

    _run(main, settings)


@app.command(name="api")
def api_command() -> None:
    """Serve the HTTP API on API_HOST:API_PORT.

    The Go server's job endpoints (cancel, in-paint submit and status, enqueue) plus a job's status and
    its live events; OpenAPI docs at /docs. Refuses to start until API_AUTH is chosen.
    """
    settings = _settings()
    if settings.api_auth is None:
        _console().print(
            "[red]API_AUTH is not set: choose token (with API_TOKEN), supabase-jwt or none (private networks)[/red]"
        )
        raise typer.Exit(2)

    async def main(stop: asyncio.Event) -> None:
        from api.app import create_app
        from api.server import bind, serve, url_of
        from quel.resources import open_resources
        from quel.temporal_client import connect

        client = await connect(settings)
        async with open_resources(settings) as resources:
            listener = bind(settings.api_host, settings.api_port)
            url = url_of(listener)
            _console().print(f"API on {url} (auth {settings.api_auth}); docs at {url}/docs")
            await serve(create_app(settings, client, resources), listener, stop)

    _run(main, settings)


@app.command()
def enqueue(
    job_id: Annotated[str, JOB_ID],
    direct: Annotated[bool, typer.Option(help="Start the job directly instead of pushing on Redis.")] = False,
) -> None:
    """Queue a job.

    Pushes its id on the Redis queue as the producer does, or with --direct starts it at once.
    """
    settings = _settings()

    async def main(_: asyncio.Event) -> None:
        from quel.resources import require_url

        if direct:
            from operations.start import start_job_workflow
            from quel.temporal_client import connect

            client = await connect(settings)
            headline = await _headline(settings, job_id)
            priority = settings.priorities.key(interactive=headline.interactive) if headline else None
            result = await start_job_workflow(
                client, job_id, task_queue=settings.temporal_task_queue, headline=headline, priority=priority
            )
            _console().print(f"{job_id}: {result.value}")
            return
        import redis.asyncio as redis

        from operations.enqueue import push_like_the_producer

        client_redis = redis.Redis.from_url(require_url(settings.redis_url, "REDIS_URL"))
        try:
            length = await push_like_the_producer(client_redis, settings.redis_queue, job_id)
        finally:
            await client_redis.aclose()
        _console().print(f"{job_id}: pushed on '{settings.redis_queue}' (queue length {length})")

    _run(main, settings)


async def _headline(settings: Settings, job_id: str) -> JobHeadline | None:
    """What names the job for the workflow's summary in the UI; without DATABASE_URL, a plain one."""
    if settings.database_url is None:
        return None
    from clients.job_store import JobStore
    from clients.postgres import create_pool

    pool = await create_pool(settings.database_url.get_secret_value(), max_size=1)
    try:
        return await JobStore(pool).headline(job_id)
    finally:
        await pool.close()


@app.command(name="status")
def status_command(
    job_id: Annotated[str, JOB_ID],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object, for scripts.")] = False,
    watch: Annotated[bool, typer.Option("--watch", help="Follow the job live until it ends.")] = False,
    query_timeout: Annotated[
        float, typer.Option(min=0.1, help="Seconds to wait for the running job to report its progress.")
    ] = 5.0,
) -> None:
    """Show a job's status and progress.

    Reads its database row and, while it runs, its live progress.
    """
    settings = _settings()

    async def main(stop: asyncio.Event) -> None:
        import json
        from datetime import timedelta

        from rich.console import Console

        from clients.postgres import connect as connect_database
        from operations.status import job_status
        from quel.resources import require_url
        from quel.status import render_status, watch_job
        from quel.temporal_client import connect

        client = await connect(settings)
        connection = await connect_database(require_url(settings.database_url, "DATABASE_URL"))
        try:
            if watch:
                await watch_job(client, job_id, _console(), stop)
            view = await job_status(client, connection, job_id, query_timeout=timedelta(seconds=query_timeout))
        finally:
            await connection.close()
        if view is None:
            _console().print(
                f"no job {job_id}: no row in quel_production_jobs and no workflow", style="red", markup=False
            )
            raise typer.Exit(1)
        if as_json:
            typer.echo(json.dumps(view.to_json()))
        else:
            render_status(view, Console(soft_wrap=True))

    _run(main, settings)


@app.command(name="jobs")
def jobs_command(
    status: Annotated[JobStatus | None, typer.Option(help="Only jobs with this status.")] = None,
    job_type: Annotated[str | None, typer.Option("--type", help="Only jobs of this type, e.g. single_batch.")] = None,
    org: Annotated[str | None, typer.Option(help="Only jobs of this organisation id.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="At most this many, newest first.")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON array, for scripts.")] = False,
) -> None:
    """List recent jobs, newest first.

    Shows each job's type, path, status, organisation and member.
    """
    from quel.jobs_listing import list_jobs, render_jobs, visibility_query

    settings = _settings()
    try:
        query = visibility_query(status=status.value if status else None, job_type=job_type, org_id=org)
    except ValueError as error:
        raise typer.BadParameter(str(error)) from None

    async def main(_: asyncio.Event) -> None:
        import json

        from rich.console import Console

        from quel.temporal_client import connect

        client = await connect(settings)
        found = await list_jobs(client, query, limit=limit)
        if as_json:
            typer.echo(json.dumps([job.to_json() for job in found]))
        else:
            render_jobs(found, Console(soft_wrap=True))

    _run(main, settings)


@app.command(name="cancel")
def cancel_command(job_id: Annotated[str, JOB_ID]) -> None:
    """Cancel a job.

    Images already being made are kept, then the job ends user_cancelled. Exits 1 if the job had already
    ended.
    """
    settings = _settings()

    async def main(_: asyncio.Event) -> None:
        import redis.asyncio as redis

        from clients.cancel_flags import CancelFlags
        from operations.cancel import CancelResult, cancel_job
        from quel.resources import require_url
        from quel.temporal_client import connect

        console = _console()
        client = await connect(settings)
        redis_client = redis.Redis.from_url(require_url(settings.redis_url, "REDIS_URL"))
        try:
            outcome = await cancel_job(client, CancelFlags(redis_client), job_id)
        finally:
            await redis_client.aclose()
        if outcome.result is CancelResult.REQUESTED:
            console.print(f"{job_id}: cancel requested; images in flight are recorded, then it ends user_cancelled")
        elif outcome.result is CancelResult.NOT_STARTED:
            console.print(f"{job_id}: no workflow yet; the cancel flag stops it when it starts (within an hour)")
        else:
            console.print(f"{job_id}: already ended ({outcome.workflow_status}); nothing to cancel")
            raise typer.Exit(1)

    _run(main, settings)


def _duration(text: str) -> timedelta:
    """`30m`, `90s`, `2h`, `1d`, or sums such as `1h30m`."""
    import re
    from datetime import timedelta

    parts = re.findall(r"(\d+)([smhd])", text)
    if not parts or "".join(number + unit for number, unit in parts) != text:
        raise typer.BadParameter(f"{text!r} is not a duration such as 30m, 90s, 2h or 1h30m")
    seconds = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    return timedelta(seconds=sum(int(number) * seconds[unit] for number, unit in parts))


@app.command(name="adopt")
def adopt_command(
    job_ids: Annotated[
        list[str] | None, typer.Argument(help="The jobs to take over (job ids).", show_default=False)
    ] = None,
    stale_after: Annotated[
        str | None,
        typer.Option(help="Instead of ids: every job another worker left processing, untouched this long (e.g. 30m)."),
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only list what would be taken over.")] = False,
    force: Annotated[bool, typer.Option("--force", help="Also take jobs updated within the last minute.")] = False,
) -> None:
    """Take over jobs another worker (the Go worker) left processing.

    The images it made are kept; only the missing ones are made and charged, then the job ends as usual.
    Exits 1 if any job is refused.
    """
    if bool(job_ids) == (stale_after is not None):
        raise typer.BadParameter("name the jobs, or give --stale-after, not both")
    idle_for = _duration(stale_after) if stale_after is not None else None
    settings = _settings()

    async def main(_: asyncio.Event) -> None:
        from rich.console import Console

        from clients.job_store import JobStore
        from clients.postgres import create_pool
        from operations.adopt import adopt_jobs
        from quel.resources import require_url
        from quel.temporal_client import connect

        pool = await create_pool(require_url(settings.database_url, "DATABASE_URL"), max_size=2)
        try:
            store = JobStore(pool)
            if job_ids:
                chosen = job_ids
            else:
                assert idle_for is not None
                chosen = await store.adoptable(idle_for)
            if not chosen:
                _console().print(f"no job left processing by another worker for {stale_after}")
                return
            client = None if dry_run else await connect(settings)
            reports = await adopt_jobs(
                client, store, chosen, task_queue=settings.temporal_task_queue, force=force, dry_run=dry_run
            )
        finally:
            await pool.close()
        out = Console(soft_wrap=True)
        for report in reports:
            out.print(report.describe(), markup=False, highlight=False)
        if dry_run:
            out.print("dry run: nothing changed")
        if any(report.refused for report in reports):
            raise typer.Exit(1)

    _run(main, settings)


history_app = typer.Typer(help="Job histories, to check later code changes against.", no_args_is_help=True)
app.add_typer(history_app, name="history")


@history_app.command(name="export")
def history_export(
    job_id: Annotated[str, JOB_ID],
    file: Annotated[Path, typer.Argument(help="Where to write the history (JSON).", show_default=False)],
) -> None:
    """Write a job's history to a file.

    The JSON file can be checked later with `quel replay`.
    """
    settings = _settings()

    async def main(_: asyncio.Event) -> None:
        from temporalio.service import RPCError, RPCStatusCode

        from quel.history import export_history
        from quel.temporal_client import connect

        client = await connect(settings)
        try:
            events = await export_history(client, job_id, file)
        except RPCError as error:
            if error.status is not RPCStatusCode.NOT_FOUND:
                raise
            _console().print(f"no workflow for job {job_id}", style="red", markup=False)
            raise typer.Exit(1) from None
        _console().print(f"{job_id}: {events} events written to {file}")

    _run(main, settings)


@app.command()
def replay(
    files: Annotated[list[Path], typer.Argument(exists=True, dir_okay=False, help="Exported history files.")],
) -> None:
    """Check that exported histories still replay.

    Replays each file on the current code; exits 1 and names each one that no longer replays.
    """
    settings = _settings()

    async def main(_: asyncio.Event) -> None:
        from quel.history import replay_files

        console = _console()
        outcomes = await replay_files(files)
        for outcome in outcomes:
            if outcome.error is None:
                console.print(f"ok      {outcome.path}", markup=False)
            else:
                console.print(f"FAILED  {outcome.path}: {outcome.error}", style="red", markup=False)
        failed = sum(outcome.error is not None for outcome in outcomes)
        if failed:
            console.print(f"{failed} of {len(outcomes)} histories no longer replay", style="red")
            raise typer.Exit(1)

    _run(main, settings)
