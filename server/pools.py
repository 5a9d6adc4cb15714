"""Lanes: bounded sets of threads for the server's slow work, one per kind, so a flood of one kind queues in its own
lane instead of filling the threadpool every other sync route (run list, control, uploads) runs in.

Each lane is an anyio ``CapacityLimiter``: at most ``capacity`` calls of that kind run at once, the rest wait their
turn (first come, first served) without holding a thread. Lanes are made per app, on first use inside its event
loop, because a limiter's waiters belong to one loop (tests run several servers in one process).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from anyio import CapacityLimiter, to_thread

T = TypeVar("T")

#: Threads per lane. History reads (websocket snapshots, metrics, exports) are mostly database work; sampling is a
#: generator forward pass that uses torch's own threads; health only reads in-memory state and never waits long.
CAPACITY = {"history": 4, "sampling": 2, "health": 2}


class Lane:
    def __init__(self, name: str, capacity: int):
        self.name = name
        self._turns = CapacityLimiter(capacity)  # whose turn it is
        self._threads = CapacityLimiter(capacity)  # the threads the turns run in

    @asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        """Wait for a free place in the lane; work started inside (``run_now``) runs before the next caller's."""
        async with self._turns:
            yield

    async def run_now(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` in one of the lane's threads; call inside ``turn()``."""
        return await to_thread.run_sync(fn, *args, limiter=self._threads)

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` in one of the lane's threads once it is this caller's turn."""
        async with self.turn():
            return await self.run_now(fn, *args)

    def busy(self) -> tuple[int, int]:
        """(calls running, calls waiting): what the benchmarks and tests read to see a flood queue here."""
        stats = self._turns.statistics()
        return int(stats.borrowed_tokens), int(stats.tasks_waiting)


def lane(app: Any, name: str) -> Lane:
    """The app's lane ``name`` (one of ``CAPACITY``), made on first use; call from the app's event loop."""
    lanes: dict[str, Lane] | None = getattr(app.state, "lanes", None)
    if lanes is None:
        lanes = app.state.lanes = {}
    if name not in lanes:
        lanes[name] = Lane(name, CAPACITY[name])
    return lanes[name]
