"""Every fixture job of the spec runs to the end state DECISIONS.md requires, through the real
google-genai and storage3 clients talking HTTP to the fakes."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import asyncpg
import pytest
from temporalio.client import Client

from quel.settings import Settings
from tests.fakes.gemini_server import FakeGemini
from tests.fakes.storage_server import FakeSupabaseStorage
from tests.support.harness import Harness, harness
from tests.support.histories import keep_history
from tests.support.seed import MEMBER_ID, ORG_ID

WEBP, PNG = "image/webp", "image/png"


@dataclass(frozen=True)
class Balances:
    member: int
    org: int

    @classmethod
    async def read(cls, db: asyncpg.Pool) -> Balances:
        member = await db.fetchval("SELECT quel_member_credit FROM quel_member WHERE quel_member_id = $1", MEMBER_ID)
        org = await db.fetchval("SELECT org_credit FROM quel_organization WHERE org_id = $1", ORG_ID)
        return cls(member=member, org=org)


async def run_fixture(h: Harness, name: str) -> tuple[str, asyncpg.Record]:
    job_id = await h.seed(name)
    handle = await h.start(job_id)
    result = await handle.result()
    assert result.status == "completed", result
    await keep_history(handle, name)
    return job_id, await h.job_row(job_id)


async def assert_recorded(h: Harness, job_id: str, row: asyncpg.Record, *, images: int, mime: str) -> list[int]:
    """Job row, attach rows, production row and storage objects agree with `images` outputs."""
    ids: list[int] = row["generated_attach_ids"]
    assert row["job_status"] == "completed"
    assert (row["completed_images"], row["failed_images"], row["error_message"]) == (images, 0, None)
    assert row["started_at"] is not None and row["completed_at"] is not None
    assert len(ids) == len(set(ids)) == images
    attaches = await h.db.fetch("SELECT * FROM quel_attach WHERE attach_id = ANY($1::bigint[])", ids)
    assert len(attaches) == images
    for attach in attaches:
        assert attach["attach_file_type"] == mime
        assert attach["attach_storage_type"] == "supabase"
        assert attach["attach_file_path"] == attach["attach_directory"]
        assert f"/{job_id}/" in attach["attach_file_path"]
        assert attach["attach_file_path"].startswith(f"generated-images/user-{MEMBER_ID}/")
    production = await h.db.fetchrow(
        "SELECT production_status::text, attach_ids FROM quel_production_photo WHERE production_id = $1",
        row["production_id"],
    )
    assert production is not None
    assert production["production_status"] == "completed"
    assert production["attach_ids"][-images:] == ids
    return ids


def stored_paths(storage: FakeSupabaseStorage, job_id: str) -> list[str]:
    return sorted(path for (_, path) in storage.objects if f"/{job_id}/" in path)


async def test_single_batch_fashion_charges_the_organisation(
    client: Client, remote_settings: Settings, fake_gemini: FakeGemini, fake_storage: FakeSupabaseStorage
) -> None:
    async with harness(client, remote_settings) as h:
        before = await Balances.read(h.db)
        job_id, row = await run_fixture(h, "single_batch.fashion")
        ids = await assert_recorded(h, job_id, row, images=4, mime=WEBP)

        production = await h.db.fetchval(
            "SELECT attach_ids FROM quel_production_photo WHERE production_id = $1", row["production_id"]
        )
        assert production == [50990, *ids]
        assert await Balances.read(h.db) == Balances(member=before.member, org=before.org - 80)
        ledger = await h.db.fetch(
            "SELECT * FROM quel_credits WHERE production_idx = $1 ORDER BY balance_after DESC", row["production_id"]
        )
        assert [r["balance_after"] for r in ledger] == [before.org - 20 * n for n in range(1, 5)]
        assert {r["attach_idx"] for r in ledger} == set(ids)
        for entry in ledger:
            assert (entry["transaction_type"], entry["amount"]) == ("DEDUCT", -20)
            assert entry["description"] == "Organization Generated With Image"
            assert (str(entry["org_id"]), str(entry["user_id"]), str(entry["used_by_member_id"])) == (
                ORG_ID,
                MEMBER_ID,
                MEMBER_ID,
            )
        assert len(stored_paths(fake_storage, job_id)) == 4

    assert fake_gemini.call_count == 4
    for call in fake_gemini.calls:
        assert call.mimes == (WEBP, PNG, WEBP, WEBP, None)
        assert call.aspect_ratio == "16:9"
        assert call.temperature == pytest.approx(0.45)
        assert call.api_key is not None
        for number in range(1, 5):
            assert f"Reference Image {number} (" in call.prompt
        assert "가죽 자켓" in call.prompt


async def test_single_batch_eats_charges_the_member(
    client: Client, remote_settings: Settings, fake_gemini: FakeGemini
) -> None:
    async with harness(client, remote_settings) as h:
        before = await Balances.read(h.db)
        job_id, row = await run_fixture(h, "single_batch.eats")
        ids = await assert_recorded(h, job_id, row, images=2, mime=WEBP)
        assert await Balances.read(h.db) == Balances(member=before.member - 40, org=before.org)
        ledger = await h.db.fetch("SELECT * FROM quel_credits WHERE attach_idx = ANY($1::bigint[])", ids)
        assert {(r["description"], r["org_id"], r["used_by_member_id"]) for r in ledger} == {
            ("Generated With Image", None, None)
        }
    assert fake_gemini.call_count == 2
    assert {call.aspect_ratio for call in fake_gemini.calls} == {"1:1"}
    assert all(call.mimes == (WEBP, WEBP, WEBP, None) for call in fake_gemini.calls)


async def test_pipeline_stage_cinema_runs_its_stages_in_order(
    client: Client, remote_settings: Settings, fake_gemini: FakeGemini
) -> None:
    async with harness(client, remote_settings) as h:
        before = await Balances.read(h.db)
        job_id, row = await run_fixture(h, "pipeline_stage.cinema")
        await assert_recorded(h, job_id, row, images=3, mime=WEBP)
        assert (await Balances.read(h.db)).member == before.member - 60
    ratios = [call.aspect_ratio for call in fake_gemini.calls]
    assert ratios == ["16:9", "16:9", "9:16"], "stage 1 starts only after stage 0 finished"
    first_stage = fake_gemini.calls[0]
    # Two people, the prop, and (D5: `background` accepted like `bg`) the alley.
    assert first_stage.mimes.count(None) == 1 and len(first_stage.mimes) == 5
    assert "Two detectives" in first_stage.prompt


async def test_simple_general_beauty_sends_every_uploaded_image(
    client: Client, remote_settings: Settings, fake_gemini: FakeGemini
) -> None:
    async with harness(client, remote_settings) as h:
        job_id, row = await run_fixture(h, "simple_general.beauty")
        await assert_recorded(h, job_id, row, images=2, mime=WEBP)
    assert fake_gemini.call_count == 2
    for call in fake_gemini.calls:
        assert call.mimes == (None, WEBP, WEBP), "text first, then both uploads"
        assert call.aspect_ratio == "1:1"
        assert call.temperature is None
        assert "Serum bottle on wet marble" in call.prompt


async def test_simple_portrait_makes_one_image_per_merged_input(
    client: Client, remote_settings: Settings, fake_gemini: FakeGemini
) -> None:
    async with harness(client, remote_settings) as h:
        job_id, row = await run_fixture(h, "simple_portrait.fashion")
        await assert_recorded(h, job_id, row, images=3, mime=WEBP)
    assert sorted(call.prompt.split("\n")[0][:40] for call in fake_gemini.calls) == sorted(
        [
            "Studio portrait, three-quarter view, sof",
            "Studio portrait, frontal, hands in coat ",
            "Studio portrait, seated on a stool, look",
        ]
    )
    assert all(call.mimes == (None, PNG) and call.aspect_ratio == "3:4" for call in fake_gemini.calls)


async def test_modify_job_is_prepaid_and_stores_png(
    client: Client, remote_settings: Settings, fake_gemini: FakeGemini, fake_storage: FakeSupabaseStorage
) -> None:
    async with harness(client, remote_settings) as h:
        before = await Balances.read(h.db)
        job_id, row = await run_fixture(h, "modify")
        ids = await assert_recorded(h, job_id, row, images=2, mime=PNG)
        assert await Balances.read(h.db) == before
        assert not await h.db.fetchval("SELECT count(*) FROM quel_credits WHERE attach_idx = ANY($1::bigint[])", ids)
        linked = await h.db.fetch(
            "SELECT attach_id FROM quel_production_attach WHERE production_id = $1", row["production_id"]
        )
        assert sorted(r["attach_id"] for r in linked) == sorted(ids)
        assert all(path.endswith(".png") for path in stored_paths(fake_storage, job_id))
    for call in fake_gemini.calls:
        assert call.mimes == (None, WEBP, PNG), "instruction, original, mask"
        assert "beige trench coat" in call.prompt


async def test_a_job_that_is_not_pending_is_left_untouched(client: Client, remote_settings: Settings) -> None:
    async with harness(client, remote_settings) as h:
        job_id = await h.seed("single_batch.eats", job_status="completed")
        result = await (await h.start(job_id)).result()
        assert (result.status, result.error_message) == ("skipped", "job is already completed")
        row = await h.job_row(job_id)
        assert (row["job_status"], row["started_at"], row["generated_attach_ids"]) == ("completed", None, [])


async def test_a_job_id_without_row_ends_saying_so(client: Client, remote_settings: Settings) -> None:
    async with harness(client, remote_settings) as h:
        missing = str(uuid.uuid4())
        result = await (await h.start(missing)).result()
        assert (result.status, result.error_message) == ("skipped", "job row not found")
