"""Object storage in a folder on this machine."""

from __future__ import annotations

import asyncio
import os
import tempfile
from pathlib import Path

from clients.storage_paths import UnusablePath, validate_storage_path
from domain.errors import ObjectNotFound


class LocalFolderStorage:
    """Embedded default for laptops and tests, NOT for production: objects live as files
    under `root/<bucket>/<path>`, so only this machine sees them.

    Uploads are atomic (a temp file renamed over the target) and overwrite, so a crash
    never leaves half an object and a retried upload is harmless. Content types are not
    kept; the path's extension is all a reader gets."""

    def __init__(self, root: Path, bucket: str) -> None:
        if "/" in bucket:
            raise UnusablePath(f"bucket name {bucket!r} must be a single folder name")
        validate_storage_path(bucket)
        self.root = root
        self.bucket = bucket
        self._bucket_dir = (root / bucket).resolve()

    def __repr__(self) -> str:
        return f"LocalFolderStorage(root={str(self.root)!r}, bucket={self.bucket!r})"

    async def download(self, path: str) -> bytes:
        return await asyncio.to_thread(self._read, path)

    async def size(self, path: str) -> int | None:
        return await asyncio.to_thread(self._size, path)

    async def upload(self, path: str, data: bytes, *, content_type: str) -> None:
        await asyncio.to_thread(self._write_atomically, path, data)

    async def delete(self, path: str) -> None:
        await asyncio.to_thread(self._remove, path)

    async def close(self) -> None:
        """Nothing is held open between calls."""

    def _file_for(self, path: str) -> Path:
        validate_storage_path(path)
        target = (self._bucket_dir / path).resolve()
        # The path rules already forbid `..`; this also catches symlinks leading out.
        if not target.is_relative_to(self._bucket_dir):
            raise UnusablePath(f"storage path {path!r} leads outside bucket folder {str(self._bucket_dir)!r}")
        return target

    def _read(self, path: str) -> bytes:
        try:
            return self._file_for(path).read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError) as error:
            raise ObjectNotFound(f"object '{self.bucket}/{path}' not found under {str(self.root)!r}") from error

    def _size(self, path: str) -> int | None:
        file = self._file_for(path)
        return file.stat().st_size if file.is_file() else None

    def _write_atomically(self, path: str, data: bytes) -> None:
        file = self._file_for(path)
        file.parent.mkdir(parents=True, exist_ok=True)
        descriptor, temp_name = tempfile.mkstemp(dir=file.parent, prefix=f".{file.name}.", suffix=".partial")
        try:
            with os.fdopen(descriptor, "wb") as temp:
                temp.write(data)
                temp.flush()
                os.fsync(temp.fileno())
            os.replace(temp_name, file)
        except BaseException:
            Path(temp_name).unlink(missing_ok=True)
            raise

    def _remove(self, path: str) -> None:
        self._file_for(path).unlink(missing_ok=True)
