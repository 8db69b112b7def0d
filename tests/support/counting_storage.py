"""A local-folder storage that remembers every download, for tests of who reads what when."""

from __future__ import annotations

from pathlib import Path

from clients.local_storage import LocalFolderStorage


class CountingStorage(LocalFolderStorage):
    def __init__(self, root: Path) -> None:
        super().__init__(root, "attachments")
        self.downloads: list[str] = []

    async def download(self, path: str) -> bytes:
        self.downloads.append(path)
        return await super().download(path)
