"""The status feed of a followed job: one poller for all its followers, gone with the last of them."""

from __future__ import annotations

import asyncio
import uuid
from contextlib import aclosing

import pytest

from api.status_feeds import StatusFeeds
from operations.status import JobStatusView

JOB = uuid.uuid4()


def view(completed: int) -> JobStatusView:
    return JobStatusView(
        job_id=str(JOB),
        job_status="processing",
        workflow_status="running",
        total_images=4,
        completed_images=completed,
        failed_images=0,
        generated_attach_ids=[],
        error_message=None,
        current_stage=0,
        stage_count=1,
        started_at=None,
        completed_at=None,
    )


class CountingReads:
    def __init__(self) -> None:
        self.count = 0
        self.failure: Exception | None = None

    async def __call__(self, job: uuid.UUID) -> JobStatusView:
        self.count += 1
        if self.failure is not None:
            raise self.failure
        return view(self.count)


def pollers() -> list[asyncio.Task[object]]:
    return [task for task in asyncio.all_tasks() if task.get_coro().__qualname__ == "StatusFeeds._poll"]  # type: ignore[union-attr]


async def test_followers_of_one_job_see_the_same_reads_and_the_last_to_leave_stops_the_poller() -> None:
    reads = CountingReads()
    feeds = StatusFeeds(reads)
    async with (
        aclosing(feeds.follow(JOB, view(0), interval=0.01)) as first,
        aclosing(feeds.follow(JOB, view(0), interval=0.01)) as second,
    ):
        seen_first = [(await anext(first)).completed_images for _ in range(4)]
        seen_second = [(await anext(second)).completed_images for _ in range(2)]
        assert len(pollers()) == 1
    assert seen_first[0] == 0 and seen_first == sorted(seen_first)
    assert seen_second[0] == 0 and seen_second[1] >= seen_first[1], "the second follower sees the shared reads"
    assert feeds.followed == 0
    await asyncio.sleep(0)  # the cancelled poller finishes on the loop's next turn
    assert pollers() == []


async def test_a_failed_read_ends_every_follower_and_the_next_one_starts_afresh() -> None:
    reads = CountingReads()
    reads.failure = RuntimeError("database gone")
    feeds = StatusFeeds(reads)
    async with (
        aclosing(feeds.follow(JOB, view(0), interval=0.01)) as failed,
        aclosing(feeds.follow(JOB, view(0), interval=0.01)) as still_open,
    ):
        await anext(failed)
        await anext(still_open)
        with pytest.raises(RuntimeError, match="database gone"):
            await anext(failed)
        reads.failure = None
        # `still_open` has not yet seen the error: a new follower must not join its dead feed.
        async with aclosing(feeds.follow(JOB, view(0), interval=0.01)) as fresh:
            await anext(fresh)
            assert (await asyncio.wait_for(anext(fresh), timeout=5)).completed_images == reads.count
        with pytest.raises(RuntimeError, match="database gone"):
            await anext(still_open)
    assert feeds.followed == 0
