"""Fans a run's events out to its websocket subscribers without ever waiting for one of them.

Each subscriber has its own pending list. Publishing only appends to those lists, so a stalled or vanished client
costs the producer (and training behind it) nothing. What a slow client receives is still complete where it
matters: metric rows are merged into one batch and never dropped; sample and field frames coalesce to the newest,
since an old picture is worthless once a newer one exists; status, config and alert events keep their order.
A client so far behind that its unsent metric rows exceed ``max_rows`` is cut off (it can reconnect and get a
fresh snapshot) rather than let it hold unbounded memory.
"""

from __future__ import annotations

import asyncio
import threading
from collections import defaultdict, deque
from typing import Any

Event = dict[str, Any]
COALESCED = frozenset({"samples", "field"})


class Subscriber:
    def __init__(self, max_rows: int = 200_000):
        self.max_rows = max_rows
        self.pending: deque[Event] = deque()
        self.rows_pending = 0
        self.frames_dropped = 0
        self.overflowed = False
        self._merged: Event | None = None  # the one pending metrics event this subscriber owns (may extend)
        self._ready = asyncio.Event()

    def offer(self, event: Event) -> None:
        """Called on the event loop's thread only (the hub sees to that)."""
        kind = event["type"]
        last = self.pending[-1] if self.pending else None
        if kind == "metrics":
            self.rows_pending += len(event["rows"])
            if last is not None and last["type"] == "metrics":
                if last is not self._merged:  # copy on write: the event is shared with every other subscriber
                    last = self._merged = {**last, "rows": list(last["rows"])}
                    self.pending[-1] = last
                last["rows"].extend(event["rows"])
            else:
                self.pending.append(event)  # shared, unchanged: encoded once for all subscribers
            if self.rows_pending > self.max_rows:
                self.overflowed = True
        elif kind in COALESCED and (i := self._index_of(kind)) is not None:
            self.pending[i] = event  # keep its place in the order, show the newest picture
            self.frames_dropped += 1
        else:
            self.pending.append(event)
        self._ready.set()

    def _index_of(self, kind: str) -> int | None:
        for i, event in enumerate(self.pending):
            if event["type"] == kind:
                return i
        return None

    async def get(self) -> Event:
        """The next event to send; waits while there is none."""
        while not self.pending:
            self._ready.clear()
            await self._ready.wait()
        event = self.pending.popleft()
        if event["type"] == "metrics":
            self.rows_pending -= len(event["rows"])
        return event


class Hub:
    """Run id → subscribers. ``publish`` may be called from any thread; delivery happens on ``loop``."""

    def __init__(self, loop: asyncio.AbstractEventLoop):
        self.loop = loop
        self._subscribers: dict[str, set[Subscriber]] = defaultdict(set)
        self._lock = threading.Lock()

    def subscribe(self, run_id: str, max_rows: int = 200_000) -> Subscriber:
        subscriber = Subscriber(max_rows)
        with self._lock:
            self._subscribers[run_id].add(subscriber)
        return subscriber

    def unsubscribe(self, run_id: str, subscriber: Subscriber) -> None:
        with self._lock:
            self._subscribers[run_id].discard(subscriber)
            if not self._subscribers[run_id]:
                del self._subscribers[run_id]

    def subscriber_count(self, run_id: str) -> int:
        with self._lock:
            return len(self._subscribers.get(run_id, ()))

    def publish(self, run_id: str, event: Event) -> None:
        """Never blocks: hands the event to the loop, which appends it to each subscriber's pending list."""
        with self._lock:
            if not self._subscribers.get(run_id):
                return
        if self._on_loop():
            self._deliver(run_id, event)
        else:
            self.loop.call_soon_threadsafe(self._deliver, run_id, event)

    def _on_loop(self) -> bool:
        try:
            return asyncio.get_running_loop() is self.loop
        except RuntimeError:
            return False

    def _deliver(self, run_id: str, event: Event) -> None:
        with self._lock:
            subscribers = list(self._subscribers.get(run_id, ()))
        for subscriber in subscribers:
            subscriber.offer(event)
