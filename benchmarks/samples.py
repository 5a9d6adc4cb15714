"""``GET /api/runs/{id}/samples`` against the same sampling done bare, in this process, in the same run.

Three requests, each on a checkpoint of a short real run: 64 2D points as JSON (``ring-vanilla``), a PNG grid of
64 28×28 images (``fashion-dcgan``), and 64 conditional digits of one label as a PNG (``digits-cgan``,
``label=3``). The bare side is what the route must do at least: ``models.sampling.sample`` on a generator
already loaded from that checkpoint (the server caches it too), then the same encoding (``json.dumps`` of the
points, ``samples_png``). Requests and bare calls alternate one for one, so the two see the same machine; the
server runs in a thread of this process with the same torch threads. The HTTP side includes the client's own
work (httpx, keep-alive connection): that is what a caller waits for.

What the server adds is measured against its floor: an empty route on the same server (a sync route, so it pays
the same threadpool hop as the samples route), timed in the same rounds. The goal is read as HTTP ÷ (bare + floor):
a route that costs no more than sampling plus an empty request scores 1.0.

    python benchmarks/samples.py [--requests 50] [--device cpu]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from fastapi import Response
from fastapi.routing import APIRoute

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.live_server import Tap, create_run, live_server, percentile
from models.checkpoint import load_checkpoint
from models.sampling import load_generator, sample, samples_png
from server.paths import checkpoint_path

CASES = [  # label, preset, steps, query
    ("64 2D points, json", "ring-vanilla", 50, {"n": 64, "format": "json"}),
    ("64 28×28 images, png", "fashion-dcgan", 10, {"n": 64, "format": "png"}),
    ("64 digits label=3, png", "digits-cgan", 20, {"n": 64, "format": "png", "label": 3}),
]


def empty_route() -> Response:
    """The HTTP floor: nothing to do, through the same server, middleware and threadpool as the samples route."""
    return Response(b"")


def bare(loaded: Any, query: dict[str, Any]) -> bytes:
    drawn = sample(loaded, query["n"], 0, query.get("label"))
    if query["format"] == "json":
        return json.dumps(
            {
                "step": loaded.step,
                "seed": 0,
                "label": query.get("label"),
                "shape": list(drawn.shape),
                "samples": drawn.tolist(),
            }
        ).encode()
    return samples_png(loaded, drawn)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--device", default=None, help="where the runs train (the server samples on the CPU)")
    args = parser.parse_args()
    print("| request | bare p50 / p95 ms | empty route p50 / p95 ms | HTTP p50 / p95 ms | p95 HTTP ÷ (bare + floor) |")
    print("|---|---|---|---|---|")
    ratios = {}
    with live_server(warm_workers=1, max_concurrent=1) as server, httpx.Client(base_url=server.base) as client:
        # First in the table: the page's static mount at / would otherwise answer the path with a 404.
        server.app.router.routes.insert(0, APIRoute("/bench/empty", empty_route, methods=["GET"]))
        for label, preset, steps, query in CASES:
            run_id = create_run(server.base, preset, {"steps": steps}, args.device)
            Tap(server, run_id).wait_final()
            loaded = load_generator(load_checkpoint(checkpoint_path(server.app.state.jobs.data_dir, run_id)))
            url = f"/api/runs/{run_id}/samples"
            assert client.get(url, params=query).status_code == 200  # the server's generator cache filled
            bare(loaded, query)
            times: dict[str, list[float]] = {"bare": [], "floor": [], "http": []}
            for _ in range(args.requests):
                started = time.perf_counter()
                bare(loaded, query)
                times["bare"].append(time.perf_counter() - started)
                started = time.perf_counter()
                client.get("/bench/empty").raise_for_status()
                times["floor"].append(time.perf_counter() - started)
                started = time.perf_counter()
                client.get(url, params=query).raise_for_status()
                times["http"].append(time.perf_counter() - started)
            b50, b95, f50, f95, h50, h95 = (
                percentile(times[side], q) * 1000 for side in ("bare", "floor", "http") for q in (50, 95)
            )
            ratios[label] = h95 / (b95 + f95)
            print(
                f"| {label} | {b50:.1f} / {b95:.1f} | {f50:.1f} / {f95:.1f} | {h50:.1f} / {h95:.1f} "
                f"| {ratios[label]:.2f} |",
                flush=True,
            )
    print("samples: p95 HTTP ÷ (bare + floor) " + ", ".join(f"{label} {r:.2f}" for label, r in ratios.items()))


if __name__ == "__main__":
    main()
