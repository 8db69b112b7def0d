"""Large buffers freed by worker threads go back to the system (quel/allocator.py).

Each case runs in a fresh interpreter: the allocator setting is process-wide and cannot be undone.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc allocator only")

# Image work runs in threads (asyncio.to_thread), whose glibc arenas keep freed buffers that
# sit below a live small allocation. Prints the MiB the process still holds after the work.
WORKLOAD = """
import sys
from concurrent.futures import ThreadPoolExecutor

import psutil

from quel.allocator import map_large_buffers_separately

if sys.argv[1] == "tuned":
    assert map_large_buffers_separately()
survivors = []

def decode_and_encode(_: int) -> None:
    freed_first = b"z" * (4 << 20)
    del freed_first
    buffers = []
    for _ in range(20):
        buffers.append(b"x" * (2 << 20))
        survivors.append(b"y" * 4096)

rss = lambda: psutil.Process().memory_info().rss >> 20
before = rss()
with ThreadPoolExecutor(4) as pool:
    list(pool.map(decode_and_encode, range(8)))
print(rss() - before)
"""


def kept_mib(mode: str, **env: str) -> int:
    environment = {key: value for key, value in os.environ.items() if key != "MALLOC_MMAP_THRESHOLD_"}
    completed = subprocess.run(
        [sys.executable, "-c", WORKLOAD, mode],
        env={**environment, **env},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return int(completed.stdout)


def test_buffers_freed_by_threads_are_returned_once_tuned() -> None:
    assert kept_mib("tuned") < 8
    assert kept_mib("default") > 24, "glibc's defaults keep them: the case tests something"


def test_an_operators_own_threshold_is_left_alone() -> None:
    with pytest.raises(subprocess.CalledProcessError):
        kept_mib("tuned", MALLOC_MMAP_THRESHOLD_=str(64 * 1024 * 1024))
