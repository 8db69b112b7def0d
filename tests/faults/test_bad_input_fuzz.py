"""Whatever lands in `job_input_data` (the producer's valid input, the same input subtly wrong,
or garbage), the real worker either runs the job or fails it with a clear message; no
workflow is left stuck, and input the parser refuses costs nothing (DECISIONS D2, D5).

The pure parser (`build_plan`) is the oracle: when it refuses a row, the job must end `failed`
with exactly the parser's message and nothing produced; when it accepts, the job must produce
what the plan asks for.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st
from temporalio.client import Client, WorkflowFailureError, WorkflowHandle

from domain.errors import InvalidJobInput
from domain.job_input import build_plan
from domain.plan import JobKind
from quel.settings import Settings
from tests.faults.invariants import Expected, balances, check_invariants, local_storage_keys
from tests.faults.job_inputs import FIXTURE_JOB_INPUTS
from tests.support.harness import Harness, harness
from tests.support.seed import fixture, seed_job

MAX_EXAMPLES = 25
WORKFLOW_DEADLINE = 60.0
"""A workflow still open after this is stuck (a failing workflow task retries forever)."""
PLENTY = 10**9
"""Credits enough that no generated job is refused for its price instead of its input."""
MAX_MESSAGE_CHARS = 600

_EATS = fixture("jobs/single_batch.eats.json")["job_input_data"]
_CINEMA = fixture("jobs/pipeline_stage.cinema.json")["job_input_data"]


@pytest.fixture
async def running(client: Client, settings: Settings) -> AsyncIterator[Harness]:
    """In-process workers with the offline generator, shared by every example."""
    async with harness(client, settings) as h:
        await h.db.execute("UPDATE quel_member SET quel_member_credit = $1", PLENTY)
        await h.db.execute("UPDATE quel_organization SET org_credit = $1", PLENTY)
        yield h


async def seed_with_input(h: Harness, name: str, data: Any) -> str:
    """Fixture job `name` holding `data` as its input; a JSON null too, which the column's
    NOT NULL allows but a record population would turn into SQL NULL."""
    async with h.db.acquire() as connection:
        job_id = await seed_job(connection, name)
        await connection.execute(
            "UPDATE quel_production_jobs SET job_input_data = $2::text::jsonb WHERE job_id = $1",
            job_id,
            json.dumps(data),
        )
    return job_id


async def expectation(h: Harness, job_id: str) -> Expected:
    """What the job must have ended as, by the parser's verdict on its row."""
    row = await h.resources.store.load(job_id)
    assert row is not None
    try:
        plan = build_plan(row)
    except InvalidJobInput as refusal:
        return Expected("failed", produced=0, error_contains=str(refusal))
    if plan.kind is JobKind.MODIFY:
        # In-paint inputs are checked when fetched: a missing original fails the job then.
        ended = await h.job_row(job_id)
        if ended["job_status"] == "failed":
            return Expected("failed", produced=0, failed_images=ended["failed_images"], paid=False)
        return Expected("completed", produced=plan.total_images, paid=False)
    if plan.total_images == 0:
        return Expected("failed", produced=0, error_contains="no image was produced")
    return Expected("completed", produced=plan.total_images)


async def closed(handle: WorkflowHandle[Any, Any]) -> None:
    """Waits for the workflow to close, however it ends."""
    try:
        await asyncio.wait_for(handle.result(), timeout=WORKFLOW_DEADLINE)
    except TimeoutError:
        raise AssertionError(f"workflow {handle.id} still open after {WORKFLOW_DEADLINE:g}s") from None
    except WorkflowFailureError:
        return  # a failed job fails its workflow too; its row says why


@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(batch=st.lists(FIXTURE_JOB_INPUTS, min_size=1, max_size=4))
@example(batch=[("single_batch.eats", "not an object"), ("modify", None), ("simple_portrait.fashion", [])])
@example(batch=[("pipeline_stage.cinema", {**_CINEMA, "stages": [_CINEMA["stages"][0]] * 2})])
@example(batch=[("single_batch.eats", {**_EATS, "individualImageAttachIds": [{"attachId": 1.5, "type": "food"}]})])
@example(batch=[("single_batch.eats", {**_EATS, "aspect-ratio": "7:3", "combinations": [{"quantity": -1}]})])
@example(batch=[("single_batch.eats", {**_EATS, "individualImageAttachIds": [{"attachId": 51001.0}]})])
async def test_any_job_input_runs_or_fails_clearly_and_refused_input_costs_nothing(
    running: Harness, batch: list[tuple[str, Any]]
) -> None:
    h = running
    before = await balances(h.db)
    job_ids = [await seed_with_input(h, name, data) for name, data in batch]
    handles = [await h.start(job_id) for job_id in job_ids]
    await asyncio.gather(*(closed(handle) for handle in handles))
    expected = {job_id: await expectation(h, job_id) for job_id in job_ids}
    for outcome in expected.values():
        event(f"job {outcome.status}")
    for job_id in job_ids:
        message = (await h.job_row(job_id))["error_message"]
        if message is not None:
            assert len(message) <= MAX_MESSAGE_CHARS and "\n" not in message, message
            assert "Traceback" not in message, message
    await check_invariants(
        h.db,
        jobs=expected,
        balances_before=before,
        price=h.settings.image_per_price,
        stored=local_storage_keys(h.settings),
        client=h.client,
    )
