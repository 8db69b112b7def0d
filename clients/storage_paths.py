"""Which storage path an attachment row points at, and whether a path is safe to use.

Pure functions: every backend and every caller applies the same rules (DOMAIN.md 5.1,
DECISIONS.md D5)."""

from __future__ import annotations

import re

# A URL scheme or a Windows drive at the start (`http:`, `file:`, `C:`): never a bucket key.
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
_LEGACY_BARE_UPLOAD = "upload-"
_LEGACY_UPLOAD_FOLDER = "uploads/"


class UnusablePath(ValueError):
    """An attachment has no storage path, or its path is unsafe; the message says which."""


class NoFilePath(UnusablePath):
    """The row names no path at all: the input is skipped, as the legacy worker did, while a
    path that is present but refused makes the job invalid (D5)."""


def resolve_attach_path(attach_file_path: str | None, attach_directory: str | None) -> str:
    """The bucket-relative path of an attachment row, validated.

    `attach_file_path` wins, `attach_directory` is the fallback, and blank values are
    skipped. Old front ends stored bare `upload-...` names for files that live under
    `uploads/`, so those get the folder prefixed before validation."""
    for candidate in (attach_file_path, attach_directory):
        if candidate is not None and candidate.strip():
            path = candidate
            break
    else:
        raise NoFilePath("attachment has no file path: attach_file_path and attach_directory are both empty")
    if path.startswith(_LEGACY_BARE_UPLOAD):
        path = _LEGACY_UPLOAD_FOLDER + path
    return validate_storage_path(path)


def validate_storage_path(path: str) -> str:
    """`path` unchanged if it is a plain bucket-relative key, else `UnusablePath`."""
    if not path.strip():
        raise UnusablePath(f"storage path {path!r} is empty")
    if any(ord(char) < 0x20 or ord(char) == 0x7F for char in path):
        raise UnusablePath(f"storage path {path!r} contains a control character")
    if "\\" in path:
        raise UnusablePath(f"storage path {path!r} contains a backslash; use '/' between folders")
    if path.startswith("/"):
        raise UnusablePath(f"storage path {path!r} is absolute; expected a bucket-relative path like 'uploads/x.webp'")
    if _SCHEME.match(path):
        raise UnusablePath(f"storage path {path!r} starts with a scheme; expected a bucket-relative path")
    # storage3 percent-decodes keys before sending them, so `%2e%2e` would become `..`
    # and `a%20b` could never be reached under its own name.
    if "%" in path:
        raise UnusablePath(f"storage path {path!r} contains '%'; percent-escapes are not allowed")
    segments = path.split("/")
    if ".." in segments:
        raise UnusablePath(f"storage path {path!r} contains a '..' segment")
    if "." in segments:
        raise UnusablePath(f"storage path {path!r} contains a '.' segment")
    if "" in segments:
        raise UnusablePath(f"storage path {path!r} has an empty segment (leading, trailing or double '/')")
    return path
