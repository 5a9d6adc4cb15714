"""WS /api/runs/{id}/stream: a snapshot of the run first, then its live events; the client may control it."""

from __future__ import annotations

import asyncio
import base64
import json
from collections import OrderedDict
from typing import Any

from fastapi import APIRouter, HTTPException, WebSocket, WebSocketDisconnect
from starlette.concurrency import run_in_threadpool
from starlette.websockets import WebSocketDisconnected

from models.config import ConfigError
from server.api.runs import run_detail
from server.db import repository as repo
from server.jobs import InvalidStateError, JobManager, RunNotFoundError
from server.security import admit_websocket

router = APIRouter(tags=["stream"])
SNAPSHOT_POINTS = 2000
CLOSE_UNKNOWN_RUN = 4404
CLOSE_TOO_SLOW = 4008
CLIENT_GONE = (WebSocketDisconnect, WebSocketDisconnected)  # the second: receiving after a failed send


def wire(event: dict[str, Any]) -> dict[str, Any]:
    """Events as JSON: PNG bytes become base64."""
    if isinstance(event.get("png"), bytes):
        return {**event, "png": base64.b64encode(event["png"]).decode()}
    return event


# JSON text of recent events by identity: the hub hands every subscriber the same event object (a subscriber that
# falls behind merges metrics into a copy of its own), so an event watched by a hundred pages is encoded once.
_texts: OrderedDict[int, tuple[dict[str, Any], str]] = OrderedDict()
TEXTS_KEPT = 128


def wire_text(event: dict[str, Any]) -> str:
    """``wire(event)`` as JSON text (as Starlette's ``send_json`` writes it); shared events encoded once."""
    hit = _texts.get(id(event))
    if hit is not None and hit[0] is event:
        return hit[1]
    text = json.dumps(wire(event), separators=(",", ":"), ensure_ascii=False)
    _texts[id(event)] = (event, text)  # the event is kept with its text, so its id cannot be reused meanwhile
    if len(_texts) > TEXTS_KEPT:
        _texts.popitem(last=False)
    return text


def snapshot(jobs: JobManager, run_id: str) -> dict[str, Any] | None:
    try:
        detail = run_detail(jobs, run_id)
    except HTTPException:  # 404: no such run (anything else is a real error and propagates)
        return None
    with jobs.sessions() as session:
        history = repo.metrics(session, run_id, max_points=SNAPSHOT_POINTS)
    frames = [wire(frame) for frame in jobs.latest_frames(run_id)]
    return {"type": "snapshot", "run": detail.model_dump(mode="json"), "metrics": history, "frames": frames}


async def _send_events(ws: WebSocket, subscriber: Any) -> None:
    while True:
        event = await subscriber.get()
        if subscriber.overflowed:
            await ws.close(CLOSE_TOO_SLOW, "client too far behind; reconnect for a fresh snapshot")
            return
        await ws.send_text(wire_text(event))


async def _receive_commands(ws: WebSocket, jobs: JobManager, run_id: str) -> None:
    while True:
        message = await ws.receive_json()
        kind = message.get("type") if isinstance(message, dict) else None
        try:
            if kind == "patch":
                await run_in_threadpool(jobs.patch, run_id, message.get("patch") or {}, message.get("id"))
            elif kind in ("pause", "resume", "stop"):
                await run_in_threadpool(jobs.control, run_id, kind)
            else:
                await ws.send_json(
                    {
                        "type": "error",
                        "id": message.get("id") if isinstance(message, dict) else None,
                        "errors": [{"field": "type", "reason": "expected patch, pause, resume or stop"}],
                    }
                )
        except ConfigError as e:
            await ws.send_json({"type": "error", "id": message.get("id"), "errors": e.errors})
        except (InvalidStateError, RunNotFoundError) as e:
            await ws.send_json(
                {"type": "error", "id": message.get("id"), "errors": [{"field": "type", "reason": str(e)}]}
            )


@router.websocket("/api/runs/{run_id}/stream")
async def stream(ws: WebSocket, run_id: str) -> None:
    jobs: JobManager = ws.app.state.jobs
    hub = ws.app.state.hub
    if not await admit_websocket(ws):
        return
    subscriber = hub.subscribe(run_id)  # before the snapshot: nothing falls between the two
    try:
        first = await run_in_threadpool(snapshot, jobs, run_id)
        if first is None:
            await ws.close(CLOSE_UNKNOWN_RUN, f"no run {run_id}")
            return
        await ws.send_json(first)
        tasks = [
            asyncio.create_task(_send_events(ws, subscriber)),
            asyncio.create_task(_receive_commands(ws, jobs, run_id)),
        ]
        done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        errors = [task.exception() for task in done]  # every one retrieved: none is "never retrieved" in the log
        for error in errors:
            if error is not None and not isinstance(error, CLIENT_GONE):
                raise error
    except CLIENT_GONE:
        pass  # a client that vanished mid-send or mid-receive is routine, not an error
    finally:
        hub.unsubscribe(run_id, subscriber)
