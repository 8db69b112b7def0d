"""The Redis side of the reliable queue: the producer's list, one processing list per bridge,
the bridges' liveness keys, and the moves between the lists, each atomic in Redis."""

from __future__ import annotations

import redis.asyncio as redis

Raw = bytes | str
"""A value exactly as popped: bytes that may not be valid UTF-8, or text."""

DEAD_LETTERS = "jobs:dead"

# A blocked take looks at the stop event again after this long on an empty queue.
WAIT_SECONDS = 1

# Up to ARGV[1] ids from the consuming end of the queue to the head of the processing list.
_TAKE = """
local taken = {}
for i = 1, tonumber(ARGV[1]) do
  local value = redis.call('LMOVE', KEYS[1], KEYS[2], 'RIGHT', 'LEFT')
  if not value then break end
  taken[i] = value
end
return taken
"""

# Pairs (value, dead-letter entry or ''): one occurrence of each value out of the processing list
# KEYS[1], and its entry onto KEYS[2] only if that occurrence was still there. Atomic, so an id is
# never both dead-lettered and still to re-drive; keyed by the occurrence, so a settle replayed
# after its reply was lost finds its values gone and pushes no dead letter twice.
_SETTLE = """
local pushed = 0
for i = 1, #ARGV, 2 do
  if redis.call('LREM', KEYS[1], 1, ARGV[i]) == 1 and ARGV[i + 1] ~= '' then
    redis.call('LPUSH', KEYS[2], ARGV[i + 1])
    pushed = pushed + 1
  end
end
return pushed
"""

# One occurrence of ARGV[1] back to the consuming end of the queue, only if it is still held.
_RETURN = """
if redis.call('LREM', KEYS[1], 1, ARGV[1]) == 1 then
  redis.call('RPUSH', KEYS[2], ARGV[1])
  return 1
end
return 0
"""


class ProcessingLists:
    def __init__(self, client: redis.Redis, queue: str) -> None:
        self.queue = queue
        self._redis = client
        self._take = client.register_script(_TAKE)
        self._return = client.register_script(_RETURN)
        self._settle = client.register_script(_SETTLE)

    def processing_list(self, bridge_id: str) -> str:
        return f"{self._processing_prefix}{bridge_id}"

    def liveness_key(self, bridge_id: str) -> str:
        return f"{self.queue}:bridge:{bridge_id}:alive"

    @property
    def _processing_prefix(self) -> str:
        return f"{self.queue}:processing:"

    async def take(self, processing_list: str, count: int) -> list[Raw]:
        """Oldest first; returns at once, empty when the queue is."""
        if count < 1:
            return []
        return list(await self._take(keys=[self.queue, processing_list], args=[count]))

    async def wait_take(self, processing_list: str) -> Raw | None:
        """One id, waiting up to WAIT_SECONDS for the producer."""
        return await self._redis.blmove(self.queue, processing_list, WAIT_SECONDS, "RIGHT", "LEFT")

    async def redrive(self, processing_list: str) -> int:
        """Moves a whole processing list back to the consuming end of the queue, its oldest id
        last so it is popped first. Each move is atomic: two bridges racing here lose nothing."""
        moved = 0
        while await self._redis.lmove(processing_list, self.queue, "LEFT", "RIGHT") is not None:
            moved += 1
        return moved

    async def settle(self, processing_list: str, handled: list[tuple[Raw, str | None]]) -> None:
        """Takes handled ids (the exact popped values) out of the processing list, each with its
        dead-letter entry when it has one, in one round trip. Safe to repeat."""
        args = [item for raw, entry in handled for item in (raw, entry or "")]
        await self._settle(keys=[processing_list, DEAD_LETTERS], args=args)

    async def return_to_queue(self, processing_list: str, raw: Raw) -> int:
        """1 when the id was still in the processing list and went back, else 0."""
        return int(await self._return(keys=[processing_list, self.queue], args=[raw]))

    async def dead_owners(self, own_id: str) -> list[str]:
        """Bridges whose processing list exists but whose liveness key expired."""
        owners = []
        async for key in self._redis.scan_iter(match=f"{self._processing_prefix}*", count=1000):
            name = key.decode() if isinstance(key, bytes) else key
            owner = name.removeprefix(self._processing_prefix)
            if owner != own_id and not await self._redis.exists(self.liveness_key(owner)):
                owners.append(owner)
        return owners
