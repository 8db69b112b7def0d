"""One status read per interval for each job that event streams follow, however many follow it:
every open stream used to read the row, describe the workflow and query its progress on its own."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass, field

from operations.status import JobStatusView

StatusRead = Callable[[uuid.UUID], Awaitable[JobStatusView]]


@dataclass
class _Feed:
    latest: JobStatusView
    version: int = 0
    failure: Exception | None = None
    followers: int = 0
    changed: asyncio.Condition = field(default_factory=asyncio.Condition)
    poller: asyncio.Task[None] | None = None


class StatusFeeds:
    def __init__(self, read: StatusRead) -> None:
        self._read = read
        self._feeds: dict[uuid.UUID, _Feed] = {}

    @property
    def followed(self) -> int:
        """Jobs with a poller running."""
        return len(self._feeds)

    async def follow(self, job: uuid.UUID, first: JobStatusView, *, interval: float) -> AsyncGenerator[JobStatusView]:
        """`first`, then each status the job's poller reads (the latest one, when the follower
        is slower than the poller). A read that fails ends every follower with its error. Close
        the iterator (`contextlib.aclosing`): the last follower to leave stops the poller."""
        feed = self._feeds.get(job)
        if feed is None:
            feed = self._feeds[job] = _Feed(first)
            feed.poller = asyncio.create_task(self._poll(job, feed, interval))
        feed.followers += 1
        try:
            seen = feed.version
            yield first
            while True:
                async with feed.changed:
                    while feed.version == seen:
                        await feed.changed.wait()
                if feed.failure is not None:
                    raise feed.failure
                seen = feed.version
                yield feed.latest
        finally:
            feed.followers -= 1
            if not feed.followers:
                self._forget(job, feed)
                if feed.poller is not None:
                    feed.poller.cancel()

    async def _poll(self, job: uuid.UUID, feed: _Feed, interval: float) -> None:
        try:
            while True:
                await asyncio.sleep(interval)
                view = await self._read(job)
                async with feed.changed:
                    feed.latest, feed.version = view, feed.version + 1
                    feed.changed.notify_all()
        except Exception as error:
            # Its followers end with the error; whoever follows the job next starts afresh.
            self._forget(job, feed)
            async with feed.changed:
                feed.failure, feed.version = error, feed.version + 1
                feed.changed.notify_all()

    def _forget(self, job: uuid.UUID, feed: _Feed) -> None:
        if self._feeds.get(job) is feed:
            del self._feeds[job]
