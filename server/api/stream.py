"""WS /api/runs/{id}/stream: a snapshot of the run first, then its live events; the client may control it (with
GANPLAY_AUTH=users: its owner or an admin; an ``access`` event after the snapshot says whether this one may).
Small events are JSON text; frames are binary messages, and what a 2D run's frames share is sent once
(the format: server/wire.py)."""

from __future__ import annotations

import asyncio
import json
import logging
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, HTTPException, WebSocket, WebSocketDisconnect
from starlette.concurrency import run_in_threadpool
from starlette.websockets import WebSocketDisconnected

from models.config import ConfigError
from server.access import OPEN, Caller, can_control, can_share, can_watch, control_refused, revocations
from server.api.runs import run_detail
from server.db import repository as repo
from server.db.engine import DATABASE_ERRORS
from server.jobs import InvalidStateError, JobManager, RunNotFoundError
from server.pools import Lane, lane
from server.security import CLOSE_FORBIDDEN, CLOSE_UNAUTHORISED, admit_websocket
from server.wire import FRAME_TYPES, Encoded, encode, has_static, json_text, static_of, static_text

log = logging.getLogger(__name__)
router = APIRouter(tags=["stream"])
SNAPSHOT_POINTS = 2000
CLOSE_UNKNOWN_RUN = 4404
CLOSE_TOO_SLOW = 4008
CLIENT_GONE = (WebSocketDisconnect, WebSocketDisconnected)  # the second: receiving after a failed send


# Recent events encoded (server/wire.py), by identity: the hub hands every subscriber the same event object (a
# subscriber that falls behind merges metrics into a copy of its own), so an event watched by a hundred pages is
# encoded once.
_encoded: OrderedDict[int, tuple[dict[str, Any], Encoded]] = OrderedDict()
ENCODED_KEPT = 128


def encoded(event: dict[str, Any]) -> Encoded:
    """``encode(event)``, shared events encoded once (on the event loop's thread only)."""
    hit = _encoded.get(id(event))
    if hit is not None and hit[0] is event:
        return hit[1]
    out = encode(event)
    _encoded[id(event)] = (event, out)  # the event is kept with its encoding, so its id cannot be reused meanwhile
    if len(_encoded) > ENCODED_KEPT:
        _encoded.popitem(last=False)
    return out


@dataclass(frozen=True)
class Snapshot:
    """What a new subscriber is sent first: the ``snapshot`` event's text, then at once the run's newest frames
    (``binary_frames`` of them, binary as live frames are), and the ``static`` event text that the snapshot's
    ``static`` stands for (the connection then sends it again only if a frame's static parts differ)."""

    text: str
    frames: list[str | bytes]
    static: str | None


def snapshot(jobs: JobManager, run_id: str) -> Snapshot | None:
    """The run as a new subscriber first sees it, encoded in the reading thread rather than on the event loop; its
    history downsampled by the database to ``SNAPSHOT_POINTS``, so a snapshot decodes and sends as many rows at
    step 100 000 as at step 2000. What a 2D run's field frames share (bounds, real points, mode centres) is in its
    ``static``, not in the frame that follows it; small frames (``preparing``) stay in its ``frames``."""
    try:
        detail = run_detail(jobs, run_id)
    except HTTPException:  # 404: no such run (anything else is a real error and propagates)
        return None
    with jobs.sessions() as session:
        history = repo.metrics(session, run_id, max_points=SNAPSHOT_POINTS)
    latest = jobs.latest_frames(run_id)
    frames = [encode(frame) for frame in latest if frame["type"] in FRAME_TYPES]
    static = next((static_of(frame) for frame in latest if has_static(frame)), None)
    first = {
        "type": "snapshot",
        "run": detail.model_dump(mode="json"),
        "metrics": history,
        "static": static,
        "frames": [frame for frame in latest if frame["type"] not in FRAME_TYPES],
        "binary_frames": len(frames),
    }
    return Snapshot(
        json_text(first), [frame.message for frame in frames], None if static is None else static_text(static)
    )


class Snapshots:
    """Snapshot reads in the app's history lane, shared by the handshakes of a run that wait for the same turn.

    A hundred pages opening one run at once cost a few reads, not a hundred in a row. A handshake joins only a read
    that has not started: it subscribed to the run's events before that read begins, so every event the read misses
    still reaches it. Once a read starts, later handshakes wait for the next one.
    """

    def __init__(self, lane: Lane):
        self.lane = lane
        self._waiting: dict[str, asyncio.Future[Snapshot | None]] = {}

    async def get(self, jobs: JobManager, run_id: str) -> Snapshot | None:
        waiting = self._waiting.get(run_id)
        if waiting is not None:
            return await asyncio.shield(waiting)
        future: asyncio.Future[Snapshot | None] = asyncio.get_running_loop().create_future()
        self._waiting[run_id] = future
        try:
            async with self.lane.turn():
                del self._waiting[run_id]  # this read starts now: later handshakes need a later one
                first = await self.lane.run_now(snapshot, jobs, run_id)
        except BaseException as e:
            if self._waiting.get(run_id) is future:
                del self._waiting[run_id]
            if isinstance(e, asyncio.CancelledError):
                future.cancel()
            else:
                future.set_exception(e)
                future.exception()  # retrieved here: a batch no one joined logs nothing
            raise
        future.set_result(first)
        return first


def snapshots(app: Any) -> Snapshots:
    found: Snapshots | None = getattr(app.state, "snapshots", None)
    if found is None:
        found = app.state.snapshots = Snapshots(lane(app, "history"))
    return found


async def _send_events(ws: WebSocket, subscriber: Any, static: str | None) -> None:
    """Events as they come; before a 2D field frame, its static parts unless they are the ones this connection
    last got (``static``: from its snapshot, or none yet)."""
    while True:
        event = await subscriber.get()
        if subscriber.overflowed:
            await ws.close(CLOSE_TOO_SLOW, "client too far behind; reconnect for a fresh snapshot")
            return
        out = encoded(event)
        if out.static is not None and out.static != static:
            await ws.send_text(out.static)
            static = out.static
        await _send(ws, out.message)


async def _send(ws: WebSocket, message: str | bytes) -> None:
    if isinstance(message, bytes):
        await ws.send_bytes(message)
    else:
        await ws.send_text(message)


COMMANDS = ("patch", "pause", "resume", "stop", "step")
STEP_UPDATES = ("d", "g", "both")  # a ``step`` command's ``update``: one D update, one G update, one full step
CLOSE_UNSUPPORTED_DATA = 1003  # a binary frame: commands are JSON text


def parse_command(text: str) -> tuple[dict[str, Any] | None, dict[str, str] | None]:
    """The command a text frame holds, or why it holds none (a field and a reason, as config errors give them)."""
    try:
        message = json.loads(text)
    except RecursionError:
        return None, {"field": "message", "reason": "nested too deeply"}
    except ValueError as e:
        return None, {"field": "message", "reason": f"not JSON: {e}"}
    if not isinstance(message, dict):
        return None, {"field": "message", "reason": "expected a JSON object with a type"}
    if message.get("type") not in COMMANDS:
        return message, {"field": "type", "reason": "expected patch, pause, resume, stop or step"}
    if message["type"] == "step" and message.get("update", "both") not in STEP_UPDATES:
        return message, {"field": "update", "reason": "expected d (one D update), g (one G update) or both (one step)"}
    if message["type"] == "patch" and not isinstance(message.get("patch") or {}, dict):
        return message, {"field": "patch", "reason": "expected an object of the fields to change"}
    return message, None


async def _receive_commands(ws: WebSocket, jobs: JobManager, run_id: str, access: Access) -> None:
    """Commands from the client, each answered by an ``error`` event when it cannot be followed (or this caller may
    not give it); the connection stays open for the next. A binary frame closes it with 1003: no client of this API
    sends one."""
    while True:
        frame = await ws.receive()
        if frame["type"] == "websocket.disconnect":
            raise WebSocketDisconnect(frame.get("code", 1000), frame.get("reason"))
        if frame.get("text") is None:
            await ws.close(CLOSE_UNSUPPORTED_DATA, "binary frames are not accepted: send commands as JSON text")
            return
        message, problem = parse_command(frame["text"])
        message_id = message.get("id") if message is not None else None
        refused = None if message is None or problem is not None else access.refused(message["type"])
        try:
            if problem is not None:
                errors = [problem]
            elif refused is not None:
                errors = [{"field": "type", "reason": refused}]
            elif message is not None and message["type"] == "patch":
                await run_in_threadpool(jobs.patch, run_id, message.get("patch") or {}, message_id)
                continue
            elif message is not None and message["type"] == "step":
                await run_in_threadpool(jobs.step, run_id, message.get("update", "both"), message_id)
                continue
            elif message is not None:
                await run_in_threadpool(jobs.control, run_id, message["type"])
                continue
        except ConfigError as e:
            errors = e.errors
        except (InvalidStateError, RunNotFoundError) as e:
            errors = [{"field": "type", "reason": str(e)}]
        except RecursionError:
            errors = [{"field": "patch", "reason": "nested too deeply"}]
        except DATABASE_ERRORS as e:
            log.warning("run %s: command not followed, database unavailable: %s", run_id, type(e).__name__)
            errors = [{"field": "type", "reason": "the database is unavailable; try again"}]
        await ws.send_json({"type": "error", "id": message_id, "errors": errors})


class Access:
    """What one connection's caller may do to the run, read once as it opens (a run's owner never changes, and a
    user's role changes only with a new token, which a revocation of the old one precedes)."""

    def __init__(self, caller: Caller, run_id: str, owner: str | None):
        self.caller, self.run_id, self.owner = caller, run_id, owner

    def refused(self, command: str) -> str | None:
        return control_refused(self.caller, f"run {self.run_id}", self.owner, command)

    def event(self) -> dict[str, Any]:
        return {
            "type": "access",
            "user": self.caller.name,
            "admin": self.caller.admin,
            "owner": self.owner,
            "can_control": can_control(self.caller, self.owner),
            "can_share": can_share(self.caller),
        }


def _owner_and_shared(jobs: JobManager, run_id: str) -> tuple[str | None, bool] | None:
    with jobs.sessions() as session:
        run = repo.get_run(session, run_id)
        return None if run is None else (run.owner, run.shared)


@router.websocket("/api/runs/{run_id}/stream")
async def stream(ws: WebSocket, run_id: str) -> None:
    jobs: JobManager = ws.app.state.jobs
    caller = await admit_websocket(ws)
    if caller is None:
        return
    access = Access(caller, run_id, None)
    if caller is not OPEN:  # users: whose run is it, and may this caller watch it?
        found = await run_in_threadpool(_owner_and_shared, jobs, run_id)
        if found is not None:
            access.owner = found[0]
            if not can_watch(caller, found[0], found[1], ws.app.state.settings.watch):
                who = f"{found[0]} and admins" if found[0] else "admins"
                reason = f"only {who} may watch this run (GANPLAY_WATCH=owners)"
                await ws.close(CLOSE_FORBIDDEN, reason.encode()[:123].decode(errors="ignore"))  # a close reason's most
                return
        if caller.user_id is not None:
            with revocations(ws.app).watching(caller.user_id) as revoked:
                await _stream(ws, jobs, run_id, access, revoked)
            return
    await _stream(ws, jobs, run_id, access, None)


async def _stream(ws: WebSocket, jobs: JobManager, run_id: str, access: Access, revoked: asyncio.Event | None) -> None:
    """The snapshot, then events out and commands in until the client goes, falls too far behind, or (``revoked``
    set) its user's token is revoked: then closed with 4401."""
    hub = ws.app.state.hub
    subscriber = hub.subscribe(run_id)  # before the snapshot: nothing falls between the two
    try:
        first = await snapshots(ws.app).get(jobs, run_id)  # in the history lane, not the shared threadpool
        if first is None:
            await ws.close(CLOSE_UNKNOWN_RUN, f"no run {run_id}")
            return
        await ws.send_text(first.text)
        if revoked is not None:
            await ws.send_json(access.event())
        for frame in first.frames:  # the snapshot's newest frames, binary
            await _send(ws, frame)
        tasks: list[asyncio.Task[Any]] = [
            asyncio.create_task(_send_events(ws, subscriber, first.static)),
            asyncio.create_task(_receive_commands(ws, jobs, run_id, access)),
        ]
        if revoked is not None:
            tasks.append(asyncio.create_task(revoked.wait()))
        done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        errors = [task.exception() for task in done]  # every one retrieved: none is "never retrieved" in the log
        for error in errors:
            if error is not None and not isinstance(error, CLIENT_GONE):
                raise error
        if revoked is not None and revoked.is_set():
            await ws.close(CLOSE_UNAUTHORISED, "token revoked")
    except CLIENT_GONE:
        pass  # a client that vanished mid-send or mid-receive is routine, not an error
    finally:
        hub.unsubscribe(run_id, subscriber)
