"""The HTTP API: the Go server's job endpoints (DOMAIN.md 2.3, 4.6, 10.1) with their paths, methods and
shapes, so the front end switches by changing its base URL, plus a job's status and live events
(DECISIONS D9, D11). Every action is one of `operations/`, the same code `quel` runs."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import aclosing
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Path, Request, Response
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.sse import EventSourceResponse, ServerSentEvent
from pydantic import BaseModel, ConfigDict, StrictStr
from temporalio.client import Client

from api.auth import Authenticator, Caller
from api.body_limit import BodyLimit
from api.errors import ApiError, install_error_handlers
from api.status_feeds import StatusFeeds
from clients.api_store import ApiStore, JobAccess, UnknownAttachment, UnknownMember
from domain.errors import InsufficientCredits
from domain.outcome import JobStatus
from operations.cancel import cancel_job
from operations.enqueue import push_like_the_producer
from operations.modify import InvalidSubmission, ModifyRequest, check_submission, submit_modify_job
from operations.status import JobStatusView, job_status
from quel.resources import Resources
from quel.settings import Settings

SERVICE_NAME = "quel-temporal"
HEALTHY = {"status": "healthy", "service": SERVICE_NAME}
QUERY_TIMEOUT = timedelta(seconds=2)
"""How long a status waits for the workflow's progress query; without a worker the row is enough."""
READY_TIMEOUT_SECONDS = 2.0
EVENTS_POLL_SECONDS = 0.5
ENDED_STATUSES = frozenset(
    {JobStatus.COMPLETED.value, JobStatus.FAILED.value, JobStatus.USER_CANCELLED.value, "cancelled"}
)
"""Final job statuses: a cancel of such a job answers `Job already <status>`."""
CANCEL_SENT = "Cancel request sent. Job will stop after current image."


@dataclass(frozen=True)
class ApiContext:
    settings: Settings
    client: Client
    resources: Resources
    store: ApiStore
    auth: Authenticator
    feeds: StatusFeeds


class EnqueueRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    job_id: StrictStr | None = None


def context(request: Request) -> ApiContext:
    found: ApiContext = request.app.state.context
    return found


Context = Annotated[ApiContext, Depends(context)]
bearer = HTTPBearer(auto_error=False, description="API_TOKEN, or the user's Supabase access token")


async def caller(ctx: Context, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> Caller:
    return await ctx.auth.caller(credentials.credentials if credentials else None)


Authenticated = Annotated[Caller, Depends(caller)]


def parse_job_id(value: str | None, name: str = "jobId") -> uuid.UUID:
    if not value:
        raise ApiError(400, f"{name} is required")
    try:
        return uuid.UUID(value)
    except ValueError:
        raise ApiError(400, f"{name} must be a job id (a UUID)") from None


async def owned_job(ctx: ApiContext, who: Caller, job_id: uuid.UUID) -> JobAccess:
    """The job's row, when the caller may touch it (D11): 404 without a row, 403 when it is not theirs."""
    job = await ctx.store.job_access(job_id)
    if job is None:
        raise ApiError(404, "Job not found")
    if who.member_id is not None and not await ctx.store.may_touch(who.member_id, job):
        raise ApiError(403, "not your job")
    return job


JobIdPath = Annotated[str, Path(alias="jobId", description="The job id, a UUID")]


async def path_job(job_id: JobIdPath, ctx: Context, who: Authenticated) -> uuid.UUID:
    """The path's job id, checked before a response starts (an event stream cannot answer 403 later)."""
    key = parse_job_id(job_id)
    if who.member_id is not None:
        await owned_job(ctx, who, key)
    return key


PathJob = Annotated[uuid.UUID, Depends(path_job)]
health = APIRouter(tags=["health"])
jobs = APIRouter(tags=["jobs"])


@health.get("/")
@health.get("/health")
async def healthy() -> dict[str, str]:
    return HEALTHY


@health.get("/health/ready", responses={503: {"description": "a dependency does not answer; it is named"}})
async def ready(ctx: Context) -> JSONResponse:
    checks: dict[str, Callable[[], Awaitable[object]]] = {
        "Temporal": lambda: ctx.client.service_client.check_health(timeout=timedelta(seconds=READY_TIMEOUT_SECONDS)),
        "PostgreSQL": lambda: ctx.resources.pool.fetchval("SELECT 1"),
        "Redis": lambda: ctx.resources.redis.ping(),
    }
    answers = await asyncio.gather(
        *(asyncio.wait_for(check(), READY_TIMEOUT_SECONDS) for check in checks.values()), return_exceptions=True
    )
    down = [
        name
        for name, answer in zip(checks, answers, strict=True)
        if isinstance(answer, BaseException) or answer is False
    ]
    if down:
        error = f"{', '.join(down)} not answering"
        return JSONResponse({"status": "unavailable", "service": SERVICE_NAME, "error": error}, status_code=503)
    return JSONResponse({"status": "ready", "service": SERVICE_NAME})


@jobs.post("/enqueue")
@jobs.post("/api/enqueue")
async def enqueue(body: EnqueueRequest, ctx: Context, who: Authenticated) -> dict[str, Any]:
    """Pushes a job id on the producer's queue (`LPUSH`), as the Go endpoint does; the bridge starts it."""
    key = parse_job_id(body.job_id, "job_id")
    await owned_job(ctx, who, key)
    queue = ctx.settings.redis_queue
    position = await push_like_the_producer(ctx.resources.redis, queue, str(key))
    return {
        "success": True,
        "message": "Job enqueued successfully",
        "job_id": str(key),
        "queue": queue,
        "queuePosition": position,
    }


@jobs.post("/api/jobs/{jobId}/cancel")
async def cancel(job_id: JobIdPath, ctx: Context, who: Authenticated) -> dict[str, Any]:
    """Sets the legacy cancel flag and cancels the workflow, as `quel cancel` does (D8); the body is ignored."""
    key = parse_job_id(job_id)
    job = await owned_job(ctx, who, key)
    if job.job_status in ENDED_STATUSES:
        return {
            "success": False,
            "message": f"Job already {job.job_status}",
            "job_id": str(key),
            "job_status": job.job_status,
            "completed_images": job.completed_images,
        }
    await cancel_job(ctx.client, ctx.resources.cancel_flags, str(key))
    return {
        "success": True,
        "message": CANCEL_SENT,
        "job_id": str(key),
        "current_status": job.job_status,
        "completed_images": job.completed_images,
        "total_images": job.total_images,
    }


@jobs.options("/api/jobs/{jobId}/cancel", include_in_schema=False)
async def cancel_preflight() -> Response:
    """A browser's preflight (with `Origin`) is answered by the CORS layer; a bare OPTIONS as the Go server did."""
    return Response(status_code=200)


@jobs.post("/api/modify/submit", responses={402: {"description": "the balance does not cover the job"}})
async def submit_modify(body: ModifyRequest, ctx: Context, who: Authenticated) -> dict[str, Any]:
    """Prepays an in-paint job (D12), stores it with its production, and starts its workflow."""
    if who.member_id is not None:
        body = body.model_copy(update={"user_id": who.member_id})
    settings = ctx.settings
    try:
        submission = check_submission(body, storage_base_url=settings.storage_base_url)
        submitted = await submit_modify_job(
            submission,
            store=ctx.store,
            jobs=ctx.resources.store,
            client=ctx.client,
            redis_client=ctx.resources.redis,
            price=settings.image_per_price,
            task_queue=settings.temporal_task_queue,
            queue=settings.redis_queue,
            # A person waits in the editor (D13); the bridge gives the same priority to a job it starts.
            priority=settings.priorities.interactive,
        )
    except (InvalidSubmission, UnknownMember, UnknownAttachment) as error:
        raise ApiError(400, str(error)) from None
    except InsufficientCredits as error:
        raise ApiError(402, str(error)) from None
    return {
        "success": True,
        "jobId": submitted.job_id,
        "productionId": submitted.production_id,
        "message": "Modify job submitted successfully",
        "totalImages": submitted.total_images,
    }


@jobs.get("/api/modify/status/{jobId}")
async def modify_status(job: PathJob, ctx: Context) -> dict[str, Any]:
    """The job's `quel_production_jobs` row as JSON, every column."""
    row = await ctx.store.job_row(job)
    if row is None:
        raise ApiError(404, "Job not found")
    return row


@jobs.get("/api/jobs/{jobId}")
async def status(job: PathJob, ctx: Context) -> dict[str, Any]:
    """The job row merged with its workflow's live progress: the object of `quel status --json` (D9)."""
    return (await _status(ctx, job)).to_json()


async def status_now(job: PathJob, ctx: Context) -> JobStatusView:
    """The job's status when its event stream opens: 404 without a row or a workflow is answered here,
    as a stream that has started cannot answer it later; the view is the stream's first."""
    return await _status(ctx, job)


@jobs.get("/api/jobs/{jobId}/events", response_class=EventSourceResponse)
async def events(
    job: PathJob, view: Annotated[JobStatusView, Depends(status_now)], ctx: Context
) -> AsyncIterator[ServerSentEvent]:
    """An event (the status object) each time the status, stage, produced or failed count changes, then
    an `end` event once the job has ended, and the stream closes. A comment every 15 s keeps proxies from
    cutting an idle stream. The streams of one job share one status read every half second."""
    last: tuple[object, ...] | None = None
    async with aclosing(ctx.feeds.follow(job, view, interval=EVENTS_POLL_SECONDS)) as views:
        async for current in views:
            if current.job_status in ENDED_STATUSES and current.workflow_status != "running":
                yield ServerSentEvent(data=current.to_json(), event="end")
                return
            seen = (current.job_status, current.current_stage, current.completed_images, current.failed_images)
            if seen != last:
                yield ServerSentEvent(data=current.to_json())
                last = seen


async def _status(ctx: ApiContext, job: uuid.UUID) -> JobStatusView:
    # The pool, not a connection held across the Temporal calls: those can take the query's timeout,
    # and every followed job is read every half second.
    view = await job_status(ctx.client, ctx.resources.pool, str(job), query_timeout=QUERY_TIMEOUT)
    if view is None:
        raise ApiError(404, "Job not found")
    return view


def create_app(settings: Settings, client: Client, resources: Resources) -> FastAPI:
    """The app, bound to the process's clients. `settings.api_auth` must be set."""
    store = ApiStore(resources.pool)
    app = FastAPI(
        title="quel-temporal",
        summary="Image jobs on Temporal: the Go server's job endpoints, with authentication and live progress.",
    )
    feeds = StatusFeeds(lambda job: _status(ctx, job))
    ctx = ApiContext(settings, client, resources, store, Authenticator(settings, store), feeds)
    app.state.context = ctx
    install_error_handlers(app)
    app.include_router(health)
    app.include_router(jobs)
    app.add_middleware(BodyLimit, max_bytes=settings.api_max_body_bytes)
    app.add_middleware(
        CORSMiddleware, allow_origins=settings.api_cors_origins, allow_methods=["*"], allow_headers=["*"]
    )
    return app
