"""Events pulled from an executor (local or Ray), kept per run, so executor tests can wait for what they expect."""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from server.executor import Executor

Event = dict[str, Any]


class Events:
    """Events pulled from the executor, kept per run, so tests can wait for what they expect."""

    def __init__(self, executor: Executor):
        self.executor = executor
        self.by_run: dict[str, list[Event]] = defaultdict(list)
        self.ready_pids: set[int] = set()  # local workers that said they are warm

    def pump(self, timeout: float) -> None:
        event = self.executor.next_event(timeout)
        if event is None:
            return
        if event["type"] == "worker_ready":
            self.ready_pids.add(event["pid"])
        else:
            self.by_run[event["run_id"]].append(event)

    def wait(self, run_id: str, predicate: Callable[[Event], bool], timeout: float = 60) -> Event:
        deadline = time.monotonic() + timeout
        seen = 0
        while time.monotonic() < deadline:
            events = self.by_run[run_id]
            for event in events[seen:]:
                if predicate(event):
                    return event
            seen = len(events)
            self.pump(0.05)
        raise AssertionError(f"{run_id}: no matching event within {timeout} s; got {self.kinds(run_id)}")

    def status(self, run_id: str, status: str, timeout: float = 60) -> Event:
        return self.wait(run_id, lambda e: e["type"] == "status" and e.get("status") == status, timeout)

    def status_after(self, run_id: str, status: str, earlier: Event, timeout: float = 60) -> Event:
        """The first ``status`` event that comes after the event ``earlier``."""
        events = self.by_run[run_id]
        return self.wait(
            run_id,
            lambda e: e["type"] == "status" and e["status"] == status and events.index(e) > events.index(earlier),
            timeout,
        )

    def metrics_after(self, run_id: str, step: int, timeout: float = 60) -> Event:
        return self.wait(run_id, lambda e: e["type"] == "metrics" and e["rows"][-1]["step"] > step, timeout)

    def kinds(self, run_id: str) -> list[str]:
        return [e.get("status", e["type"]) for e in self.by_run[run_id]]

    def statuses(self, run_id: str) -> list[str]:
        return [e["status"] for e in self.by_run[run_id] if e["type"] == "status"]
