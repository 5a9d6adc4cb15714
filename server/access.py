"""Who may do what to a run, a sweep or an upload (GANPLAY_AUTH=users), decided once, here, for REST and websocket
alike; and the watch that closes a revoked user's open streams.

The rules: anyone signed in may list, watch, sample and fork (a fork is the forker's own), create runs and sweeps
and upload; only the owner or an admin may patch, pause, resume, stop, step or delete a run, stop or delete a sweep,
or delete an upload. With ``watch=owners`` only the owner and admins may watch (read, stream, sample, fork) a run or
a sweep, unless an admin has shared the run with everyone. Only an admin may share. Without users (``auth`` none or
token) there is no owner and whoever gets past the token may do everything, as before users existed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from server.db import repository as repo
from server.db.engine import DATABASE_ERRORS

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Caller:
    """Who is asking: a signed-in user (``name``, ``admin``, ``user_id``), or, on a server without users, ``OPEN``."""

    name: str | None
    admin: bool
    user_id: int | None = None

    @property
    def quota_key(self) -> str | None:
        """What the caller's quotas count against: the user (a space keeps it apart from any address), or None
        for ``OPEN`` (the caller's address decides)."""
        return None if self.name is None else f"user {self.name}"


OPEN = Caller(name=None, admin=True)  # no users: everyone may do everything (the token, if any, guards mutations)


def can_control(caller: Caller, owner: str | None) -> bool:
    """Steer, stop or delete: the owner or an admin. A run made before users existed (no owner): admins only."""
    return caller.admin or (caller.name is not None and caller.name == owner)


def can_watch(caller: Caller, owner: str | None, shared: bool, watch: str) -> bool:
    return watch == "everyone" or shared or can_control(caller, owner)


def can_use_upload(caller: Caller, owner: str | None, watch: str) -> bool:
    """See an upload in the list or train on it: anyone where everyone watches everything; with ``watch=owners``
    its owner or an admin alone, as with runs (an upload may be a student's own pictures). Never shared: a shared
    run's fork keeps the data its parent trained on, which is the admin's choice to show."""
    return can_watch(caller, owner, False, watch)


def listed_owner(caller: Caller, watch: str) -> str | None:
    """Whose runs and sweeps a list shows the caller: with ``watch=owners`` a user who is not an admin sees their
    own (and shared runs); anyone else sees all (None)."""
    return caller.name if watch == "owners" and not caller.admin else None


def can_share(caller: Caller) -> bool:
    """Sharing puts a run in front of the whole class and, with ``watch=owners``, opens it to everyone: that is the
    instructor's call, so only admins share (a student shows their run by asking for it to be shared)."""
    return caller.admin


def control_refused(caller: Caller, what: str, owner: str | None, verb: str) -> str | None:
    """Why ``caller`` may not ``verb`` ``what`` (e.g. "run 1a2b…"), or None when they may."""
    if can_control(caller, owner):
        return None
    if owner is None:
        return f"{what} has no owner (it was made before users existed): only an admin may {verb} it"
    return f"{what} belongs to {owner}: only its owner or an admin may {verb} it"


def watch_refused(caller: Caller, what: str, owner: str | None, shared: bool, watch: str) -> str | None:
    if can_watch(caller, owner, shared, watch):
        return None
    return (
        f"{what} belongs to {owner or 'no one'}: on this server only its owner and admins may watch it "
        "(GANPLAY_WATCH=owners) unless an admin shares it"
    )


def share_refused(caller: Caller) -> str | None:
    return None if can_share(caller) else "only an admin may share a run with everyone or stop sharing it"


# ----------------------------------------------------------------------------------------- revoked tokens

POLL_SECONDS = 0.5


class Revocations:
    """Closes the streams of a user whose token was revoked, within ``POLL_SECONDS`` plus one query.

    A revocation is written by ``ganplay users revoke``, another process with no line to the server, so the server
    has to look. One poller for all open streams asks the database, every half second, which of their users are
    still active: one indexed query however many streams are open (a per-stream re-check would cost a query per
    viewer per half second: 600 a second for a class of 300 viewers). A stream registers its user with
    ``watching`` and gets an event that is set when that user is revoked; the stream then closes itself (4401),
    so no other task writes to its socket. The poller runs only while some stream is open."""

    def __init__(self, sessions: Callable[[], Session], interval: float = POLL_SECONDS):
        self.sessions = sessions
        self.interval = interval
        self._events: dict[int, set[asyncio.Event]] = {}
        self._task: asyncio.Task[None] | None = None

    @contextlib.contextmanager
    def watching(self, user_id: int) -> Iterator[asyncio.Event]:
        revoked = asyncio.Event()
        self._events.setdefault(user_id, set()).add(revoked)
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._poll())
        try:
            yield revoked
        finally:
            events = self._events.get(user_id)
            if events is not None:
                events.discard(revoked)
                if not events:
                    del self._events[user_id]

    async def _poll(self) -> None:
        while self._events:
            await asyncio.sleep(self.interval)
            ids = list(self._events)
            try:
                active = await run_in_threadpool(self._active, ids)
            except DATABASE_ERRORS as e:  # a moment's trouble: keep the streams, look again next time
                log.warning("could not check for revoked tokens (will retry): %s", e)
                continue
            for user_id in set(ids) - active:
                for event in self._events.get(user_id, ()):
                    event.set()

    def _active(self, ids: list[int]) -> set[int]:
        with self.sessions() as session:
            return repo.active_user_ids(session, ids)


def revocations(app: Any) -> Revocations:
    """The app's one ``Revocations``, made on first use (its sessions are the job manager's)."""
    found: Revocations | None = getattr(app.state, "revocations", None)
    if found is None:
        found = app.state.revocations = Revocations(app.state.jobs.sessions)
    return found
