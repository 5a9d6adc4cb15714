"""The event hub: a slow subscriber never holds up the producer, loses no metric row, sees the newest frame."""

from __future__ import annotations

import asyncio
import threading

import pytest

from server.hub import Hub


def metrics(*steps: int) -> dict:
    return {"type": "metrics", "rows": [{"step": float(s)} for s in steps]}


def frame(kind: str, step: int) -> dict:
    return {"type": kind, "step": step}


async def drain(subscriber, n: int) -> list[dict]:
    return [await asyncio.wait_for(subscriber.get(), 1) for _ in range(n)]


def test_a_subscriber_that_never_reads_does_not_block_publishing_and_loses_no_metric_rows():
    async def scenario() -> None:
        hub = Hub(asyncio.get_running_loop())
        stalled = hub.subscribe("r")
        for step in range(10_000):
            hub.publish("r", metrics(step))  # returns at once whatever the subscriber does
        (batch,) = await drain(stalled, 1)
        assert [row["step"] for row in batch["rows"]] == list(range(10_000))
        assert not stalled.pending

    asyncio.run(scenario())


def test_frames_coalesce_to_the_newest_while_status_and_config_keep_their_order():
    async def scenario() -> None:
        hub = Hub(asyncio.get_running_loop())
        sub = hub.subscribe("r")
        hub.publish("r", frame("field", 1))
        hub.publish("r", metrics(1, 2))
        hub.publish("r", {"type": "config", "step": 3})
        hub.publish("r", frame("field", 2))
        hub.publish("r", frame("samples", 2))
        hub.publish("r", metrics(3))
        hub.publish("r", frame("field", 3))
        hub.publish("r", {"type": "status", "status": "completed"})
        events = await drain(sub, 6)
        assert [e["type"] for e in events] == ["field", "metrics", "config", "samples", "metrics", "status"]
        assert events[0]["step"] == 3 and sub.frames_dropped == 2
        assert [r["step"] for r in events[1]["rows"]] == [1, 2] and [r["step"] for r in events[4]["rows"]] == [3]

    asyncio.run(scenario())


def test_one_slow_subscriber_does_not_delay_another():
    async def scenario() -> None:
        hub = Hub(asyncio.get_running_loop())
        hub.subscribe("r")  # never read
        fast = hub.subscribe("r")
        for step in range(3):
            hub.publish("r", metrics(step))
            (event,) = await drain(fast, 1)
            assert event["rows"][0]["step"] == step

    asyncio.run(scenario())


def test_publishing_from_another_thread_is_delivered_on_the_loop():
    async def scenario() -> None:
        hub = Hub(asyncio.get_running_loop())
        sub = hub.subscribe("r")
        thread = threading.Thread(target=lambda: [hub.publish("r", metrics(s)) for s in range(100)])
        thread.start()
        thread.join()
        rows = []
        while len(rows) < 100:
            rows += (await asyncio.wait_for(sub.get(), 1))["rows"]
        assert [r["step"] for r in rows] == list(range(100))

    asyncio.run(scenario())


def test_subscribers_of_other_runs_and_unsubscribed_ones_get_nothing():
    async def scenario() -> None:
        hub = Hub(asyncio.get_running_loop())
        other, gone = hub.subscribe("other"), hub.subscribe("r")
        hub.unsubscribe("r", gone)
        hub.publish("r", metrics(1))
        assert not other.pending and not gone.pending and hub.subscriber_count("r") == 0
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(other.get(), 0.05)

    asyncio.run(scenario())


def test_a_subscriber_too_far_behind_is_marked_for_disconnection():
    async def scenario() -> None:
        hub = Hub(asyncio.get_running_loop())
        sub = hub.subscribe("r", max_rows=50)
        hub.publish("r", metrics(*range(40)))
        assert not sub.overflowed
        hub.publish("r", metrics(*range(40, 60)))
        assert sub.overflowed

    asyncio.run(scenario())
