"""`GET /api/jobs/{jobId}/events`: Server-Sent Events of a 6-image job, read over TCP as a browser's
EventSource would, from before its first image to the `end` event; then the stream closes."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

import api.app
from operations.status import job_status
from tests.api.conftest import PRICE, ApiStack, modify_body
from tests.support.waiting import eventually


@dataclass(frozen=True)
class Event:
    name: str
    data: dict[str, Any]


async def server_sent_events(response: httpx.Response) -> AsyncIterator[Event]:
    """The events of a `text/event-stream` body (comments such as keep-alive pings are skipped)."""
    name, data = "message", ""
    async for line in response.aiter_lines():
        if line.startswith("event:"):
            name = line.removeprefix("event:").strip()
        elif line.startswith("data:"):
            data += line.removeprefix("data:").strip()
        elif not line and data:
            yield Event(name, json.loads(data))
            name, data = "message", ""


async def test_events_of_a_six_image_job_are_monotone_and_end_with_the_job(
    open_api: httpx.AsyncClient, stack: ApiStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Many polls per state of the job: an event sent without a change would show as a repeat.
    monkeypatch.setattr(api.app, "EVENTS_POLL_SECONDS", 0.02)
    member, _ = await stack.member(6 * PRICE)
    stack.gemini.hold()  # no image is done before the stream has shown the start
    stack.gemini.latency = 0.3  # then the images come in over several polls
    job_id = (await open_api.post("/api/modify/submit", json=modify_body(member, quantity=6))).json()["jobId"]
    events: list[Event] = []

    async with open_api.stream("GET", f"/api/jobs/{job_id}/events") as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        async for event in server_sent_events(response):
            events.append(event)
            if len(events) == 1:
                await eventually(lambda: stack.gemini.in_flight > 0, timeout=30, what="a Gemini call")
                stack.gemini.release()
        closed = response.is_closed

    assert closed, "the server closed the stream after the end event"
    produced = [event.data["completed_images"] for event in events]
    assert produced[0] == 0
    assert produced == sorted(produced), produced
    assert [event.name for event in events] == ["message"] * (len(events) - 1) + ["end"]
    last = events[-1].data
    assert (last["job_id"], last["job_status"], last["completed_images"], last["total_images"]) == (
        job_id,
        "completed",
        6,
        6,
    )
    assert last["workflow_status"] == "completed"
    # One event per change of status, stage, produced or failed count: no repeats.
    changes = [
        (e.data["job_status"], e.data["current_stage"], e.data["completed_images"], e.data["failed_images"])
        for e in events[:-1]
    ]
    assert len(changes) == len(set(changes))


class SlowReads:
    """`job_status`, each read held longer than the poll interval; counts the reads in flight at once."""

    def __init__(self, read: Any, *, hold: float) -> None:
        self._read, self._hold = read, hold
        self.done = 0
        self.in_flight = 0
        self.most_in_flight = 0

    async def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await asyncio.sleep(self._hold)
            return await self._read(*args, **kwargs)
        finally:
            self.in_flight -= 1
            self.done += 1


async def test_streams_of_one_job_share_one_status_read_at_a_time(
    open_api: httpx.AsyncClient, stack: ApiStack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Three viewers of a job. Each stream polling on its own would keep reads of the job in flight
    together (each read lasts longer than the interval); one shared poller reads one at a time."""
    monkeypatch.setattr(api.app, "EVENTS_POLL_SECONDS", 0.02)
    reads = SlowReads(job_status, hold=0.05)
    monkeypatch.setattr(api.app, "job_status", reads)
    member, _ = await stack.member(2 * PRICE)
    stack.gemini.hold()
    job_id = (await open_api.post("/api/modify/submit", json=modify_body(member, quantity=2))).json()["jobId"]
    opened = [asyncio.Event() for _ in range(3)]

    async def watch(opened: asyncio.Event) -> list[Event]:
        events: list[Event] = []
        async with open_api.stream("GET", f"/api/jobs/{job_id}/events") as response:
            async for event in server_sent_events(response):
                events.append(event)
                opened.set()
        return events

    watchers = [asyncio.create_task(watch(event)) for event in opened]
    await asyncio.gather(*(event.wait() for event in opened))
    # Each stream's own first read (when it opened) is over; from here on only polls read the job.
    reads.most_in_flight = reads.in_flight
    polled_from = reads.done
    await eventually(lambda: reads.done >= polled_from + 12, timeout=30, what="a dozen polls")
    stack.gemini.release()
    streams = await asyncio.gather(*watchers)

    assert reads.most_in_flight == 1
    for events in streams:
        assert (events[-1].name, events[-1].data["job_status"]) == ("end", "completed")
