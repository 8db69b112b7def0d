"""Which jobs the task queues serve first (DECISIONS D13): Temporal priority keys, 1 before 5."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class JobPriorities:
    interactive: int = 1
    """Modify / in-paint jobs: a person waits for them in the editor."""
    batch: int = 3
    """Generation jobs (Temporal's default key)."""

    def key(self, *, interactive: bool) -> int:
        return self.interactive if interactive else self.batch
