"""Websocket viewers of one run, in a process of their own so their CPU is not billed to the server's process.

All viewers share one asyncio loop. ``--timed`` of them (spread over the connection order) parse every event and
record its latency: the receive wall time minus the wall time the worker stamped on the event (``time``; one
machine, one clock). The others only take the bytes off the socket (``decode=False``; JSON only for the small
status events), so the client side stays as cheap as a viewer can be and the server, not this process, is what
gets measured. Everyone stops when a viewer sees the run's final status. ``--stalled`` more connect and never
read a byte (a frozen browser tab): the server must neither block on them nor slow the others. Prints one JSON
object:
``{"connected_at", "latencies": {type: [s, ...]}, "received", "cpu_s"}``.

    python benchmarks/viewers.py ws://127.0.0.1:PORT/api/runs/ID/stream [--clients 100] [--timed 10]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from collections import defaultdict
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from server.wire import header

FINAL = frozenset({"completed", "stopped", "failed", "diverged"})


async def viewer(ws: ClientConnection, timed: bool, done: asyncio.Event, out: dict[str, Any]) -> None:
    try:
        while not done.is_set():
            raw = await ws.recv(decode=None if timed else False)  # timed: text as str, binary frames as bytes
            out["received"] += 1
            if not timed:
                if b'"type":"status"' in raw and json.loads(raw).get("status") in FINAL:
                    done.set()
                continue
            now = time.time()
            event = header(raw)  # a binary frame's arrays are not needed for its latency
            if "time" in event and event["type"] != "snapshot":
                out["latencies"][event["type"]].append(now - event["time"])
            if event["type"] == "status" and event.get("status") in FINAL:
                done.set()
    except ConnectionClosed:
        pass


async def main_async(url: str, clients: int, timed: int, stalled: int, deflate: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"received": 0, "latencies": defaultdict(list)}
    step = max(1, clients // max(timed, 1))
    # A stalled viewer's socket buffers fill, then the server's sends to it wait: that is the case to test.
    frozen = await asyncio.gather(
        *(connect(url, max_size=None, ping_interval=None, max_queue=1) for _ in range(stalled))
    )
    compression = "deflate" if deflate else None  # browsers offer permessage-deflate; so do we by default
    connections = await asyncio.gather(
        *(
            connect(url, max_size=None, ping_interval=None, max_queue=None, compression=compression)
            for _ in range(clients)
        )
    )
    out["connected_at"] = time.time()
    print(json.dumps({"connected_at": out["connected_at"]}), flush=True)
    done = asyncio.Event()
    tasks = [
        asyncio.create_task(viewer(ws, timed > 0 and i % step == 0 and i // step < timed, done, out))
        for i, ws in enumerate(connections)
    ]
    await done.wait()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*(ws.close() for ws in connections), return_exceptions=True)
    for ws in frozen:
        ws.transport.abort()
    times = os.times()
    out["cpu_s"] = times.user + times.system
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("url")
    parser.add_argument("--clients", type=int, default=1)
    parser.add_argument("--timed", type=int, default=1)
    parser.add_argument("--stalled", type=int, default=0)
    parser.add_argument("--no-deflate", action="store_true", help="do not offer permessage-deflate")
    args = parser.parse_args()
    result = asyncio.run(
        main_async(args.url, args.clients, min(args.timed, args.clients), args.stalled, not args.no_deflate)
    )
    json.dump(result, sys.stdout)
    print(flush=True)


if __name__ == "__main__":
    main()
