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

# ARGV[1] dead-letter entries onto KEYS[2], then one occurrence of each further value out of the
# processing list KEYS[1]: atomic, so an id is never both dead-lettered and still to re-drive.
_SETTLE = """
local dead = tonumber(ARGV[1])
for i = 2, dead + 1 do
  redis.call('LPUSH', KEYS[2], ARGV[i])
end
for i = dead + 2, #ARGV do
  redis.call('LREM', KEYS[1], 1, ARGV[i])
end
return #ARGV - dead - 1
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

    async def settle(self, processing_list: str, handled: list[Raw], dead_letters: list[str]) -> None:
        """Takes handled ids (the exact popped values) out of the processing list and pushes
        the dead-letter entries, in one round trip."""
        await self._settle(keys=[processing_list, DEAD_LETTERS], args=[len(dead_letters), *dead_letters, *handled])

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
