"""Gemini's quota held by every worker together: each generator call takes its own moment, one
interval after the one before it, from a single Redis key (DECISIONS D13).

The image task queue's server-side rate limit already hands out image activities at the quota's
rate, but after an idle spell it lets a second's worth (plus one) go at once, and the time
each image then spends preparing its request varies; so calls bunch up. Spacing the calls
themselves, on top of that limit, keeps any window within one call of the quota. The server's
limit stays the first gate: it keeps the backlog in Temporal, where fairness and priority order
it and the autoscaler sees it, so a turn here is rarely more than about a second away.
"""

from __future__ import annotations

import asyncio

import redis.asyncio as redis

# A reservation, not a check: the caller learns how long to wait for its moment, so nobody
# polls. The time is Redis's own, the one clock every worker shares. Microseconds since the
# epoch need 16 digits, beyond what Lua's tostring keeps, hence the explicit format.
_TAKE_TURN = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local start = math.max(now, tonumber(redis.call('GET', KEYS[1]) or '0'))
local following = start + tonumber(ARGV[1])
redis.call('SET', KEYS[1], string.format('%.0f', following), 'PX', math.floor((following - now) / 1000) + 1000)
return start - now
"""


def turn_key(image_task_queue: str) -> str:
    """One key per image task queue: the workers that share the server's limit share the spacing."""
    return f"quel:generator-turn:{image_task_queue}"


class CallSpacing:
    def __init__(self, client: redis.Redis, calls_per_second: float, *, key: str) -> None:
        self._take_turn = client.register_script(_TAKE_TURN)
        self._interval_microseconds = max(1, round(1_000_000 / calls_per_second))
        self._key = key

    async def wait_turn(self) -> float:
        """Returns once this call may go, and how many seconds that took. Redis errors
        propagate: no call goes without its turn, and the activity is retried before anything
        was paid for."""
        wait_microseconds = int(await self._take_turn(keys=[self._key], args=[self._interval_microseconds]))
        seconds = wait_microseconds / 1_000_000
        if seconds > 0:
            await asyncio.sleep(seconds)
        return seconds
