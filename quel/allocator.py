"""glibc's allocator tuned for a process that handles many large image buffers.

By default glibc serves a freed buffer's size from its heap the next time instead of mapping it
afresh (it raises its mmap threshold each time a mapped buffer is freed). Image workers then keep
hundreds of MiB of freed input and output bytes in fragmented heaps, and their RSS after a job
says more about allocation order than about what they hold. With a fixed threshold every buffer
of 1 MiB or more gets its own mapping and goes back to the system when freed (bench/memory.py).
"""

from __future__ import annotations

import ctypes
import os
import platform

LARGE_BUFFER_BYTES = 1024 * 1024
_M_MMAP_THRESHOLD = -3
"""From glibc's malloc.h."""


def map_large_buffers_separately() -> bool:
    """True when the threshold was set. An operator's own MALLOC_MMAP_THRESHOLD_ wins, and other
    C libraries (musl, macOS) are left as they are."""
    if os.environ.get("MALLOC_MMAP_THRESHOLD_") or platform.libc_ver()[0] != "glibc":
        return False
    libc = ctypes.CDLL("libc.so.6")
    return bool(libc.mallopt(_M_MMAP_THRESHOLD, LARGE_BUFFER_BYTES))
