"""HTTP API throughput: requests per second of `GET /api/jobs/{id}` (job row, workflow describe and
progress query) and of `POST /api/jobs/{id}/cancel` (on an ended job: the row is read, nothing else),
each beside a bare FastAPI endpoint that returns a constant, served the same way (uvicorn, one process)
and driven by the same httpx client in the same run. The ratio is what the API's work costs per request
against the framework alone.

    .venv/bin/python -m bench.api_throughput
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
from fastapi import FastAPI

from api.app import create_app
from api.server import bind, serve, url_of
from bench.common import (
    BenchResult,
    Figure,
    bench_settings,
    local_stack,
    print_figures,
    run_job,
    seed_everything,
    seed_fashion_jobs,
)
from quel.resources import open_resources
from quel.settings import ApiAuth
from quel.worker import running_workers

CONCURRENCY = 16
"""Requests in flight at once, as many browsers polling."""
ROUND_SECONDS = 3.0
ROUNDS = 2


@asynccontextmanager
async def served(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    listener = bind("127.0.0.1", 0)
    stop = asyncio.Event()
    server = asyncio.create_task(serve(app, listener, stop))
    limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
    try:
        async with httpx.AsyncClient(base_url=url_of(listener), limits=limits, timeout=30) as http:
            yield http
    finally:
        stop.set()
        await server


def bare_app() -> FastAPI:
    app = FastAPI()

    @app.get("/constant")
    async def constant() -> dict[str, str]:
        return {"status": "healthy"}

    return app


async def rate(http: httpx.AsyncClient, method: str, path: str) -> float:
    """Requests per second answered 200 by CONCURRENCY callers in a loop for ROUND_SECONDS."""
    done = 0
    deadline = time.perf_counter() + ROUND_SECONDS

    async def caller() -> None:
        nonlocal done
        while time.perf_counter() < deadline:
            answer = await http.request(method, path)
            assert answer.status_code == 200, answer.text
            done += 1

    began = time.perf_counter()
    await asyncio.gather(*(caller() for _ in range(CONCURRENCY)))
    return done / (time.perf_counter() - began)


async def run(folder: Path) -> BenchResult:
    result = BenchResult("api throughput")
    async with local_stack(folder) as stack:
        settings = bench_settings(stack).model_copy(update={"api_auth": ApiAuth.NONE})
        await seed_everything(settings)
        [job_id] = await seed_fashion_jobs(settings, jobs=1, images=1)
        async with open_resources(settings) as resources, running_workers(stack.client, settings, resources):
            await run_job(stack.client, settings, job_id, 1)
            async with served(bare_app()) as bare, served(create_app(settings, stack.client, resources)) as api:
                calls: dict[str, Callable[[], Awaitable[float]]] = {
                    "bare": lambda: rate(bare, "GET", "/constant"),
                    "status": lambda: rate(api, "GET", f"/api/jobs/{job_id}"),
                    "cancel": lambda: rate(api, "POST", f"/api/jobs/{job_id}/cancel"),
                }
                measured: dict[str, list[float]] = {name: [] for name in calls}
                for number in range(1, ROUNDS + 1):
                    # Interleaved, so load from elsewhere falls on every side alike.
                    for name, call in calls.items():
                        value = await call()
                        measured[name].append(value)
                        result.note(f"round {number}: {name} {value:.0f} requests/s")
    bare_rate = sum(measured["bare"]) / ROUNDS
    for name, what in (
        ("status", "GET /api/jobs/{id} (row + describe + progress query)"),
        ("cancel", "POST /api/jobs/{id}/cancel of an ended job (row read)"),
    ):
        result.figures.append(
            Figure(
                benchmark="api throughput",
                what=f"{what}, {CONCURRENCY} in flight",
                measured=sum(measured[name]) / ROUNDS,
                baseline=bare_rate,
                unit="requests/s",
                baseline_is="bare FastAPI endpoint returning a constant, same server and client",
            )
        )
    return result


async def main() -> None:
    with tempfile.TemporaryDirectory(prefix="quel-bench-api-") as folder:
        print_figures(await run(Path(folder)))


if __name__ == "__main__":
    asyncio.run(main())
