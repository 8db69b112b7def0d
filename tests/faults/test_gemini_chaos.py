"""Gemini misbehaves on every front at once (DECISIONS D7): 30 % of calls answer 429 or 503,
one in ten hangs past the generator timeout, one image is blocked for safety and one job's
calls are refused with 403. Transient trouble is retried until every image is drawn; the
blocked image fails alone and costs nothing; the 403 fails its job at once."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from quel.settings import Settings
from tests.fakes.gemini_server import safety, status
from tests.fakes.storage_server import FakeSupabaseStorage
from tests.faults.chaos_gemini import HUNG, RATE_LIMITED, UNAVAILABLE, ChaosGemini
from tests.faults.invariants import Expected, balances, check_invariants, fake_storage_keys, fixture_completes
from tests.support.harness import harness
from tests.support.processes import QuelProcess, settings_env
from tests.support.seed import fixture

SEED = 76
GENERATOR_TIMEOUT = 2.0
RETRY_AFTER = 0.2
CHAOS_JOBS = ("single_batch.fashion", "single_batch.eats", "pipeline_stage.cinema", "simple_general.beauty", "modify")
BLOCKED_PROMPT = "seated on a stool"
"""The third portrait of simple_portrait.fashion."""
REVOKED_MARKER = "[key-revoked-for-this-job]"


@pytest.fixture
def fake_gemini() -> Iterator[ChaosGemini]:
    with ChaosGemini(SEED, retry_after=RETRY_AFTER, hang_seconds=10 * GENERATOR_TIMEOUT) as server:
        yield server


async def test_gemini_chaos_ends_every_job_as_decided(
    client: Client,
    temporal_env: WorkflowEnvironment,
    remote_settings: Settings,
    fake_gemini: ChaosGemini,
    fake_storage: FakeSupabaseStorage,
    tmp_path: Path,
) -> None:
    print(f"gemini chaos: seed {SEED}")
    fake_gemini.when_prompt_contains(BLOCKED_PROMPT, safety())
    fake_gemini.when_prompt_contains(REVOKED_MARKER, status(403, message="API key was reported as leaked"))
    settings = remote_settings.model_copy(update={"gemini_timeout_seconds": GENERATOR_TIMEOUT})
    env = settings_env(settings, temporal_address=temporal_env.client.service_client.config.target_host)
    worker = QuelProcess("worker", env, tmp_path / "worker.log")
    eats = fixture("jobs/single_batch.eats.json")["job_input_data"]
    revoked_input = {**eats, "basePrompt": f"{REVOKED_MARKER} {eats['basePrompt']}"}
    async with harness(client, settings, workers=False) as h:
        before = await balances(h.db)
        expected = {await h.seed(name): fixture_completes(name) for name in CHAOS_JOBS}
        blocked = await h.seed("simple_portrait.fashion")
        revoked = await h.seed("single_batch.eats", job_input_data=revoked_input)
        expected[blocked] = Expected(
            "completed", produced=2, failed_images=1, error_contains="1 of 3 images failed: SAFETY (1)"
        )
        expected[revoked] = Expected("failed", produced=0, failed_images=2, error_contains="refused the credentials")
        worker.start()
        started = time.monotonic()
        try:
            for job_id in expected:
                await h.start(job_id)
            # The revoked job's workflow fails; check_invariants compares each workflow's status.
            await asyncio.wait_for(
                asyncio.gather(
                    *(client.get_workflow_handle(job_id).result() for job_id in expected), return_exceptions=True
                ),
                timeout=180,
            )
        finally:
            worker.stop()
        elapsed = time.monotonic() - started
        calls = fake_gemini.call_count
        print(f"{len(expected)} jobs, {calls} Gemini calls in {elapsed:.1f}s; injected {dict(fake_gemini.injected)}")
        await check_invariants(
            h.db,
            jobs=expected,
            balances_before=before,
            price=settings.image_per_price,
            stored=fake_storage_keys(fake_storage),
            client=client,
        )
    assert min(fake_gemini.injected[kind] for kind in (RATE_LIMITED, UNAVAILABLE, HUNG)) >= 1, "every fault was met"
    assert sum(REVOKED_MARKER in call.prompt for call in fake_gemini.calls) <= 2, "a 403 is never retried"
    assert sum(BLOCKED_PROMPT in call.prompt for call in fake_gemini.calls) == 1, "a safety block is never retried"
