"""Bytes per frame a viewer receives, and what the page spends reading one: the lean stream (server/wire.py)
beside the same frames as the stream used to send them, JSON.

Over a real websocket to a real server (``live_server``), a ``ring-vanilla`` run's field frames and a
``digits-dcgan`` run's image frames are received and measured as they arrive: each frame's message, the
``static`` event and the snapshot (a late viewer's, once the run has a frame). The reference is the same frame as
JSON the way the stream sent it before: its static parts included, its arrays as JSON numbers (float32 values, as
``tolist`` gives them), an image as base64 PNG. The script also works against a server that still sends JSON:
it measures whatever arrives, so the same script run on an older checkout gives the "before" over the wire.

The page's cost: ``node`` reads each received frame with the page's own ``web/src/wire.js`` (static parts put
back) and, for comparison, ``JSON.parse``s its JSON form, 300 times each; microseconds per frame.

    python benchmarks/stream_bytes.py [--frames 20]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from websockets.asyncio.client import connect

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.live_server import create_run, http, live_server, wait_ready, ws_url

ROOT = Path(__file__).resolve().parents[1]
NODE_BENCH = """
import { readFileSync } from "node:fs";
import { createReader } from "%(wire)s";
const dir = process.argv[1];
const statics = JSON.parse(readFileSync(dir + "/static.json", "utf8"));
const frames = statics.frames.map((name) => readFileSync(dir + "/" + name));
const texts = statics.frames.map((name) => readFileSync(dir + "/" + name + ".json", "utf8"));
const rounds = 300;
const time = (fn) => {
  fn();
  const t0 = performance.now();
  for (let i = 0; i < rounds; i++) fn();
  return (performance.now() - t0) / rounds / frames.length * 1000;
};
const binary = time(() => {
  const reader = createReader();
  if (statics.text) reader.read(statics.text);
  for (const f of frames) reader.read(f.buffer.slice(f.byteOffset, f.byteOffset + f.byteLength));
});
const copy = time(() => { for (const f of frames) f.buffer.slice(f.byteOffset, f.byteOffset + f.byteLength); });
const parsed = time(() => { for (const t of texts) JSON.parse(t); });
console.log(JSON.stringify({ wire_us: binary - copy, json_us: parsed }));
"""


def as_json(event: dict[str, Any]) -> str:
    """The frame as the stream sent it before: JSON, PNG bytes as base64."""
    if isinstance(event.get("png"), bytes):
        event = {**event, "png": base64.b64encode(event["png"]).decode()}
    return json.dumps(event, separators=(",", ":"), ensure_ascii=False)


def read(raw: str | bytes, static: dict[str, Any] | None) -> dict[str, Any]:
    """The event a message carries, a 2D field frame with the static parts put back (a JSON frame has them)."""
    if isinstance(raw, str):
        return dict(json.loads(raw))
    from server.wire import decode  # only a lean server sends binary: the script also runs on older checkouts

    event = decode(raw)
    if event["type"] == "field" and event.get("kind") != "dirac" and static:
        event.update(static)
    return event


async def watch(base: str, run_id: str, kind: str, frames: int) -> dict[str, Any]:
    """A late viewer's snapshot (after the run's first frame), then ``frames`` live frames of ``kind``."""
    url = ws_url(base, run_id)
    async with connect(url, max_size=None, ping_interval=None, compression=None) as first:
        while True:  # wait for the first frame, so the late viewer's snapshot has one
            if read(await asyncio.wait_for(first.recv(), 300), None)["type"] == kind:
                break
    out: dict[str, Any] = {"frames": [], "static": [], "snapshot": 0, "static_text": None}
    static: dict[str, Any] | None = None
    async with connect(url, max_size=None, ping_interval=None, compression=None) as ws:
        while len(out["frames"]) < frames:
            raw = await asyncio.wait_for(ws.recv(), 300)
            event = read(raw, static)
            if event["type"] == "snapshot":
                out["snapshot"] = len(raw)
                static = event.get("static")
                if static:
                    out["static_text"] = json.dumps({"type": "static", **static}, separators=(",", ":"))
            elif event["type"] == "static":
                out["static"].append(len(raw))
                static = {k: event[k] for k in ("bounds", "real", "centers")}
                out["static_text"] = raw
            elif event["type"] == kind:
                out["frames"].append((raw, as_json(event)))
    http().post(f"{base}/api/runs/{run_id}/stop")
    return out


def page_cost(field: dict[str, Any]) -> dict[str, float] | None:
    """Microseconds the page spends reading a field frame: wire.js on what arrived, JSON.parse on its JSON form."""
    node = shutil.which("node")
    binary = [raw for raw, _ in field["frames"] if isinstance(raw, bytes)]
    if node is None or not binary:
        return None
    with tempfile.TemporaryDirectory() as folder:
        names = []
        for i, (raw, text) in enumerate(field["frames"]):
            if isinstance(raw, bytes):
                (Path(folder) / f"f{i}").write_bytes(raw)
                (Path(folder) / f"f{i}.json").write_text(text)
                names.append(f"f{i}")
        (Path(folder) / "static.json").write_text(json.dumps({"text": field["static_text"], "frames": names}))
        script = NODE_BENCH % {"wire": (ROOT / "web" / "src" / "wire.js").as_uri()}
        done = subprocess.run(
            [node, "--input-type=module", "-e", script, folder], capture_output=True, text=True, check=True
        )
    result: dict[str, float] = json.loads(done.stdout)
    return result


def figures(name: str, watched: dict[str, Any]) -> tuple[float, float]:
    sent = [len(raw) for raw, _ in watched["frames"]]
    before = [len(text.encode()) for _, text in watched["frames"]]
    kinds = {"binary" if isinstance(raw, bytes) else "JSON text" for raw, _ in watched["frames"]}
    now, then = statistics.mean(sent), statistics.mean(before)
    print(f"| {name} | {', '.join(sorted(kinds))} | {now / 1000:.1f} kB | {then / 1000:.1f} kB | {now / then:.2f} |")
    return now, then


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=20)
    args = parser.parse_args()
    with live_server(warm_workers=1, max_concurrent=2) as server:
        wait_ready(server.base)
        ring = create_run(server.base, "ring-vanilla", {"steps": 100_000})
        field = asyncio.run(watch(server.base, ring, "field", args.frames))
        digits = create_run(server.base, "digits-dcgan", {"steps": 100_000})
        image = asyncio.run(watch(server.base, digits, "samples", args.frames))
    print("| frames | sent as | bytes per frame | as JSON before | ratio |")
    print("|---|---|---|---|---|")
    field_now, field_then = figures("ring-vanilla field", field)
    image_now, image_then = figures("digits-dcgan samples (PNG)", image)
    statics = field["static"]
    print(
        f"ring-vanilla: late viewer's snapshot {field['snapshot'] / 1000:.1f} kB (static parts inside: "
        f"{len((field['static_text'] or '').encode()) / 1000:.1f} kB, sent once); static events after it: "
        f"{len(statics)}"
    )
    cost = page_cost(field)
    if cost is not None:
        print(
            f"page, per field frame: wire.js {cost['wire_us']:.0f} µs, JSON.parse of its JSON form "
            f"{cost['json_us']:.0f} µs"
        )
    print(
        f"stream_bytes: field frame {field_now / 1000:.1f} kB vs {field_then / 1000:.1f} kB as JSON "
        f"({field_now / field_then:.2f}); image frame {image_now / 1000:.1f} kB vs {image_then / 1000:.1f} kB "
        f"({image_now / image_then:.2f})"
    )


if __name__ == "__main__":
    main()
