"""Storage path rules, the local folder backend, and the Supabase backend driven through
the real storage3 client against `FakeSupabaseStorage`."""

from __future__ import annotations

import json
import os
import traceback
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio

from clients.local_storage import LocalFolderStorage
from clients.storage_paths import (
    UnusablePath,
    resolve_attach_path,
    validate_storage_path,
)
from clients.supabase_storage import StorageUnavailable, SupabaseStorage
from domain.errors import ObjectNotFound
from tests.fakes.storage_server import FakeSupabaseStorage

FIXTURES = Path("/work/shared/spec/fixtures")
KEY = "sb-secret-service-key-0123456789"
BUCKET = "attachments"
WEBP = b"RIFF\x10\x00\x00\x00WEBPVP8 fake-bytes\x00\xff\r\n"


def _attach_rows() -> dict[int, dict[str, Any]]:
    rows = json.loads((FIXTURES / "quel_attach.json").read_text())
    return {row["attach_id"]: row for row in rows}


def _resolve_row(attach_id: int) -> str:
    row = _attach_rows()[attach_id]
    return resolve_attach_path(row["attach_file_path"], row["attach_directory"])


def _full_error_text(error: BaseException) -> str:
    return "".join(traceback.format_exception(error))


# --- path resolution -------------------------------------------------------------------


def test_bare_legacy_upload_name_gets_uploads_folder() -> None:
    assert _resolve_row(51001) == "uploads/upload-2025-12-05T02-14-07-331Z.webp"


def test_null_file_path_falls_back_to_directory() -> None:
    assert _resolve_row(51003) == "uploads/upload-2025-12-05T02-14-33-045Z.webp"


def test_empty_file_path_falls_back_to_directory() -> None:
    assert _resolve_row(51004) == "uploads/upload-2025-12-05T02-14-41-610Z.webp"


def test_attachment_without_any_path_is_unusable() -> None:
    with pytest.raises(UnusablePath, match="no file path"):
        _resolve_row(51018)


def test_every_fixture_row_with_a_path_resolves_into_a_known_folder() -> None:
    for attach_id, row in _attach_rows().items():
        if attach_id == 51018:
            continue
        path = resolve_attach_path(row["attach_file_path"], row["attach_directory"])
        assert path.startswith(("uploads/upload-", "generated-images/user-")), attach_id


def test_file_path_wins_over_directory() -> None:
    assert resolve_attach_path("uploads/a.webp", "uploads/b.webp") == "uploads/a.webp"


def test_whitespace_only_file_path_is_skipped() -> None:
    assert resolve_attach_path("   ", "uploads/b.webp") == "uploads/b.webp"


def test_bare_upload_name_in_directory_fallback_is_fixed_up_too() -> None:
    assert resolve_attach_path(None, "upload-x.webp") == "uploads/upload-x.webp"


def test_rooted_upload_name_is_not_fixed_up_but_refused_as_absolute() -> None:
    with pytest.raises(UnusablePath, match="absolute"):
        resolve_attach_path("/upload-x.webp", None)


def test_resolved_path_is_validated() -> None:
    with pytest.raises(UnusablePath, match=r"'\.\.' segment"):
        resolve_attach_path("uploads/../../etc/passwd", None)


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("/etc/passwd", "absolute"),
        ("/uploads/x.webp", "absolute"),
        ("..", r"'\.\.' segment"),
        ("uploads/../x.webp", r"'\.\.' segment"),
        ("uploads/x/..", r"'\.\.' segment"),
        ("uploads/./x.webp", r"'\.' segment"),
        ("http://evil.example/x.webp", "scheme"),
        ("https:x.webp", "scheme"),
        ("file:uploads/x.webp", "scheme"),
        ("C:uploads/x.webp", "scheme"),
        ("uploads\\x.webp", "backslash"),
        ("..\\x.webp", "backslash"),
        ("uploads/x\x00.webp", "control character"),
        ("uploads/x\n.webp", "control character"),
        ("uploads/x\x7f.webp", "control character"),
        ("uploads//x.webp", "empty segment"),
        ("uploads/", "empty segment"),
        ("uploads/%2e%2e/x.webp", "'%'"),
    ],
)
def test_unsafe_storage_path_is_refused_with_a_message_naming_it(path: str, reason: str) -> None:
    with pytest.raises(UnusablePath, match=reason) as caught:
        validate_storage_path(path)
    assert repr(path) in str(caught.value)


@pytest.mark.parametrize(
    "path",
    [
        "uploads/upload-2025-11-25T16-03-11-467Z.webp",
        "generated-images/user-233ef9e6-17b4-484f-a2b9-67ec83708d7e/job-1/s0-c1-2.webp",
        "233ef9e6/modify_07ef814d_0_1733362001.png",
        "uploads/name with spaces..webp",
    ],
)
def test_plain_relative_path_passes_unchanged(path: str) -> None:
    assert validate_storage_path(path) == path


def test_unusable_path_is_a_value_error() -> None:
    assert issubclass(UnusablePath, ValueError)


# --- local folder storage --------------------------------------------------------------


@pytest.mark.asyncio
async def test_local_upload_then_download_round_trips_under_root_bucket_path(
    tmp_path: Path,
) -> None:
    storage = LocalFolderStorage(tmp_path, BUCKET)
    await storage.upload("generated-images/user-1/a.webp", WEBP, content_type="image/webp")
    assert await storage.download("generated-images/user-1/a.webp") == WEBP
    assert (tmp_path / BUCKET / "generated-images/user-1/a.webp").read_bytes() == WEBP


@pytest.mark.asyncio
async def test_local_upload_overwrites_existing_object(tmp_path: Path) -> None:
    storage = LocalFolderStorage(tmp_path, BUCKET)
    await storage.upload("uploads/a.webp", b"first", content_type="image/webp")
    await storage.upload("uploads/a.webp", b"second", content_type="image/webp")
    assert await storage.download("uploads/a.webp") == b"second"
    assert os.listdir(tmp_path / BUCKET / "uploads") == ["a.webp"]


@pytest.mark.asyncio
async def test_local_download_of_missing_object_raises_object_not_found(tmp_path: Path) -> None:
    storage = LocalFolderStorage(tmp_path, BUCKET)
    with pytest.raises(ObjectNotFound, match=r"uploads/missing\.webp"):
        await storage.download("uploads/missing.webp")


@pytest.mark.asyncio
async def test_local_download_of_a_folder_raises_object_not_found(tmp_path: Path) -> None:
    storage = LocalFolderStorage(tmp_path, BUCKET)
    await storage.upload("uploads/a.webp", WEBP, content_type="image/webp")
    with pytest.raises(ObjectNotFound):
        await storage.download("uploads")


@pytest.mark.asyncio
@pytest.mark.parametrize("path", ["../outside.webp", "/tmp/outside.webp", "uploads/../../outside.webp"])
async def test_local_path_escaping_the_bucket_is_refused(tmp_path: Path, path: str) -> None:
    storage = LocalFolderStorage(tmp_path / "root", BUCKET)
    with pytest.raises(UnusablePath):
        await storage.upload(path, WEBP, content_type="image/webp")
    assert not (tmp_path / "outside.webp").exists()
    assert not (tmp_path / "root" / "outside.webp").exists()


@pytest.mark.asyncio
async def test_local_symlink_leading_out_of_the_bucket_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (tmp_path / "root" / BUCKET).mkdir(parents=True)
    (tmp_path / "root" / BUCKET / "link").symlink_to(outside)
    storage = LocalFolderStorage(tmp_path / "root", BUCKET)
    with pytest.raises(UnusablePath, match="outside bucket folder"):
        await storage.upload("link/x.webp", WEBP, content_type="image/webp")
    assert list(outside.iterdir()) == []


@pytest.mark.asyncio
async def test_local_failed_write_keeps_old_object_and_leaves_no_temp_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    storage = LocalFolderStorage(tmp_path, BUCKET)
    await storage.upload("uploads/a.webp", b"old", content_type="image/webp")

    def crash(src: str, dst: str) -> None:
        raise OSError("disk went away")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="disk went away"):
        await storage.upload("uploads/a.webp", b"new-but-never-complete", content_type="image/webp")
    monkeypatch.undo()
    assert await storage.download("uploads/a.webp") == b"old"
    assert os.listdir(tmp_path / BUCKET / "uploads") == ["a.webp"]


@pytest.mark.asyncio
async def test_local_delete_removes_object_and_tolerates_missing_one(tmp_path: Path) -> None:
    storage = LocalFolderStorage(tmp_path, BUCKET)
    await storage.upload("uploads/a.webp", WEBP, content_type="image/webp")
    await storage.delete("uploads/a.webp")
    await storage.delete("uploads/a.webp")
    with pytest.raises(ObjectNotFound):
        await storage.download("uploads/a.webp")


def test_local_bucket_name_must_be_one_folder(tmp_path: Path) -> None:
    with pytest.raises(UnusablePath):
        LocalFolderStorage(tmp_path, "../elsewhere")


# --- Supabase storage against the fake server ------------------------------------------


@pytest.fixture
def fake() -> Iterator[FakeSupabaseStorage]:
    with FakeSupabaseStorage(service_key=KEY) as server:
        yield server


@pytest_asyncio.fixture
async def supabase(fake: FakeSupabaseStorage) -> AsyncIterator[SupabaseStorage]:
    storage = SupabaseStorage(url=fake.url, service_key=KEY, bucket=BUCKET, timeout_seconds=5)
    yield storage
    await storage.close()


@pytest.mark.asyncio
async def test_supabase_upload_posts_object_with_content_type_and_upsert(
    fake: FakeSupabaseStorage, supabase: SupabaseStorage
) -> None:
    await supabase.upload("generated-images/user-1/a.webp", WEBP, content_type="image/webp")
    stored = fake.objects[(BUCKET, "generated-images/user-1/a.webp")]
    assert stored.data == WEBP
    assert stored.content_type == "image/webp"
    [request] = fake.requests
    assert request.method == "POST"
    assert request.path == "/storage/v1/object/attachments/generated-images/user-1/a.webp"
    assert request.content_type == "image/webp"
    assert request.upsert == "true"


@pytest.mark.asyncio
async def test_supabase_upload_twice_keeps_one_object_with_last_bytes(
    fake: FakeSupabaseStorage, supabase: SupabaseStorage
) -> None:
    await supabase.upload("uploads/a.png", b"first", content_type="image/png")
    await supabase.upload("uploads/a.png", b"second", content_type="image/png")
    assert list(fake.objects) == [(BUCKET, "uploads/a.png")]
    assert fake.get_object(BUCKET, "uploads/a.png") == b"second"


@pytest.mark.asyncio
async def test_supabase_download_returns_stored_bytes(fake: FakeSupabaseStorage, supabase: SupabaseStorage) -> None:
    fake.put_object(BUCKET, "uploads/upload-2025-12-05T02-14-07-331Z.webp", WEBP)
    assert await supabase.download("uploads/upload-2025-12-05T02-14-07-331Z.webp") == WEBP
    assert fake.requests[-1].method == "GET"


@pytest.mark.asyncio
async def test_supabase_path_with_spaces_round_trips(fake: FakeSupabaseStorage, supabase: SupabaseStorage) -> None:
    await supabase.upload("uploads/my photo.webp", WEBP, content_type="image/webp")
    assert fake.get_object(BUCKET, "uploads/my photo.webp") == WEBP
    assert await supabase.download("uploads/my photo.webp") == WEBP


@pytest.mark.asyncio
async def test_supabase_missing_object_raises_object_not_found(supabase: SupabaseStorage) -> None:
    with pytest.raises(ObjectNotFound, match=r"attachments/uploads/missing\.webp"):
        await supabase.download("uploads/missing.webp")


@pytest.mark.asyncio
async def test_supabase_path_forced_missing_raises_object_not_found(
    fake: FakeSupabaseStorage, supabase: SupabaseStorage
) -> None:
    fake.put_object(BUCKET, "uploads/a.webp", WEBP)
    fake.make_missing(BUCKET, "uploads/a.webp")
    with pytest.raises(ObjectNotFound):
        await supabase.download("uploads/a.webp")


@pytest.mark.asyncio
async def test_supabase_plain_http_404_raises_object_not_found(
    fake: FakeSupabaseStorage, supabase: SupabaseStorage
) -> None:
    fake.put_object(BUCKET, "uploads/a.webp", WEBP)
    fake.fail_next(1, 404, body=b"Not Found")
    with pytest.raises(ObjectNotFound):
        await supabase.download("uploads/a.webp")


@pytest.mark.asyncio
async def test_supabase_503_raises_storage_unavailable_and_next_try_succeeds(
    fake: FakeSupabaseStorage, supabase: SupabaseStorage
) -> None:
    fake.fail_next(1, 503)
    with pytest.raises(StorageUnavailable, match="503"):
        await supabase.upload("uploads/a.webp", WEBP, content_type="image/webp")
    assert fake.objects == {}
    await supabase.upload("uploads/a.webp", WEBP, content_type="image/webp")
    assert fake.get_object(BUCKET, "uploads/a.webp") == WEBP


@pytest.mark.asyncio
async def test_supabase_503_on_download_is_unavailable_not_missing(
    fake: FakeSupabaseStorage, supabase: SupabaseStorage
) -> None:
    fake.put_object(BUCKET, "uploads/a.webp", WEBP)
    fake.fail_next(1, 503, body=b"<html>Service Unavailable</html>")
    with pytest.raises(StorageUnavailable, match="503"):
        await supabase.download("uploads/a.webp")


@pytest.mark.asyncio
async def test_supabase_wrong_key_is_rejected_without_revealing_it(
    fake: FakeSupabaseStorage,
) -> None:
    wrong_key = "sb-wrong-key-that-must-stay-secret"
    storage = SupabaseStorage(url=fake.url, service_key=wrong_key, bucket=BUCKET, timeout_seconds=5)
    try:
        with pytest.raises(StorageUnavailable, match="refused the service key") as caught:
            await storage.upload("uploads/a.webp", WEBP, content_type="image/webp")
    finally:
        await storage.close()
    assert fake.objects == {}
    assert wrong_key not in _full_error_text(caught.value)
    assert wrong_key not in repr(storage)


@pytest.mark.asyncio
async def test_supabase_key_never_appears_in_errors_or_repr(
    fake: FakeSupabaseStorage, supabase: SupabaseStorage
) -> None:
    fake.fail_next(1, 500, body=f"proxy echo: Authorization: Bearer {KEY}".encode())
    with pytest.raises(StorageUnavailable) as unavailable:
        await supabase.download("uploads/a.webp")
    with pytest.raises(ObjectNotFound) as missing:
        await supabase.download("uploads/a.webp")
    assert "[service key]" in str(unavailable.value)
    assert KEY not in _full_error_text(unavailable.value)
    assert KEY not in _full_error_text(missing.value)
    assert KEY not in repr(supabase)


@pytest.mark.asyncio
async def test_supabase_timeout_raises_storage_unavailable(fake: FakeSupabaseStorage) -> None:
    fake.put_object(BUCKET, "uploads/a.webp", WEBP)
    fake.latency = 0.5
    storage = SupabaseStorage(url=fake.url, service_key=KEY, bucket=BUCKET, timeout_seconds=0.1)
    try:
        with pytest.raises(StorageUnavailable, match="timed out"):
            await storage.download("uploads/a.webp")
    finally:
        await storage.close()


@pytest.mark.asyncio
async def test_supabase_connection_refused_raises_storage_unavailable_without_key() -> None:
    with FakeSupabaseStorage() as stopped:
        url = stopped.url
    storage = SupabaseStorage(url=url, service_key=KEY, bucket=BUCKET, timeout_seconds=2)
    try:
        with pytest.raises(StorageUnavailable, match="ConnectError") as caught:
            await storage.download("uploads/a.webp")
    finally:
        await storage.close()
    assert KEY not in _full_error_text(caught.value)


@pytest.mark.asyncio
async def test_supabase_delete_removes_object_and_tolerates_missing_one(
    fake: FakeSupabaseStorage, supabase: SupabaseStorage
) -> None:
    fake.put_object(BUCKET, "uploads/a.webp", WEBP)
    await supabase.delete("uploads/a.webp")
    await supabase.delete("uploads/a.webp")
    assert fake.objects == {}
    assert [(r.method, r.path) for r in fake.requests] == [("DELETE", "/storage/v1/object/attachments")] * 2


@pytest.mark.asyncio
async def test_supabase_unsafe_path_is_refused_before_any_request(
    fake: FakeSupabaseStorage, supabase: SupabaseStorage
) -> None:
    with pytest.raises(UnusablePath):
        await supabase.download("../other-bucket/secret.webp")
    assert fake.requests == []


def test_fake_serves_public_download_without_a_key(fake: FakeSupabaseStorage) -> None:
    fake.put_object(BUCKET, "uploads/a.webp", WEBP)
    response = httpx.get(f"{fake.url}/storage/v1/object/public/{BUCKET}/uploads/a.webp")
    assert response.status_code == 200
    assert response.content == WEBP
    assert response.headers["content-type"] == "image/webp"


def test_fake_refuses_create_over_existing_object_without_upsert(fake: FakeSupabaseStorage) -> None:
    fake.put_object(BUCKET, "uploads/a.webp", b"old")
    response = httpx.post(
        f"{fake.url}/storage/v1/object/{BUCKET}/uploads/a.webp",
        content=b"new",
        headers={"Authorization": f"Bearer {KEY}", "apikey": KEY, "Content-Type": "image/webp"},
    )
    assert response.json()["statusCode"] == "409"
    assert fake.get_object(BUCKET, "uploads/a.webp") == b"old"


@pytest.mark.asyncio
async def test_supabase_redirect_to_another_host_is_refused_and_the_key_stays_home(
    fake: FakeSupabaseStorage, supabase: SupabaseStorage
) -> None:
    with FakeSupabaseStorage(service_key=KEY) as elsewhere:
        elsewhere.put_object(BUCKET, "uploads/a.webp", WEBP)
        fake.redirect_next(1, to=elsewhere.url)
        with pytest.raises(StorageUnavailable) as caught:
            await supabase.download("uploads/a.webp")
        keys_sent_there = [request.headers.get("apikey") for request in elsewhere.requests]
    assert keys_sent_there == [], "the other host never saw the request, nor the key"
    assert "redirected to another host" in str(caught.value)
    assert KEY not in _full_error_text(caught.value)


@pytest.mark.asyncio
async def test_supabase_redirect_within_the_project_is_followed(
    fake: FakeSupabaseStorage, supabase: SupabaseStorage
) -> None:
    fake.put_object(BUCKET, "uploads/a.webp", WEBP)
    fake.redirect_next(1, to=fake.url)
    assert await supabase.download("uploads/a.webp") == WEBP
    assert [request.headers.get("apikey") for request in fake.requests] == [KEY, KEY]


@pytest.mark.asyncio
async def test_supabase_size_reads_the_details_not_the_object(
    fake: FakeSupabaseStorage, supabase: SupabaseStorage
) -> None:
    fake.put_object(BUCKET, "generated-images/user-1/a.webp", WEBP)
    assert await supabase.size("generated-images/user-1/a.webp") == len(WEBP)
    assert await supabase.size("generated-images/user-1/none.webp") is None
    assert [(r.method, r.path) for r in fake.requests] == [
        ("GET", "/storage/v1/object/info/attachments/generated-images/user-1/a.webp"),
        ("GET", "/storage/v1/object/info/attachments/generated-images/user-1/none.webp"),
    ]


@pytest.mark.asyncio
async def test_supabase_size_unknown_to_storage_is_measured(
    fake: FakeSupabaseStorage, supabase: SupabaseStorage
) -> None:
    fake.put_object(BUCKET, "generated-images/user-1/a.webp", WEBP, size_known=False)
    assert await supabase.size("generated-images/user-1/a.webp") == len(WEBP)


@pytest.mark.asyncio
async def test_local_size_of_an_object_and_of_a_missing_one(tmp_path: Path) -> None:
    storage = LocalFolderStorage(tmp_path, BUCKET)
    await storage.upload("uploads/a.webp", WEBP, content_type="image/webp")
    assert await storage.size("uploads/a.webp") == len(WEBP)
    assert await storage.size("uploads/none.webp") is None
    assert await storage.size("uploads") is None, "a folder is no object"
