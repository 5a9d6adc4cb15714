"""The saved image snapshots of a run are listed by step and served as PNG, for the page's scrubber."""

from __future__ import annotations

from pathlib import Path

import httpx

from server.paths import snapshots_dir

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _run(base: str) -> str:
    response = httpx.post(f"{base}/api/runs", json={"preset": "ring-vanilla", "overrides": {"steps": 1}}, timeout=30)
    assert response.status_code == 201, response.text
    return response.json()["id"]


def test_saved_snapshots_are_listed_oldest_first_and_served(live_server: str, tmp_path: Path):
    run_id = _run(live_server)
    folder = snapshots_dir(tmp_path / "data", run_id)  # where the event pump writes an image run's frames
    folder.mkdir(parents=True, exist_ok=True)
    for step in (200, 1, 100):
        (folder / f"{step:08d}.png").write_bytes(PNG_MAGIC + bytes([step % 256]))
    (folder / "notes.txt").write_text("not a snapshot")
    listed = httpx.get(f"{live_server}/api/runs/{run_id}/snapshots").json()
    assert listed == {"steps": [1, 100, 200]}
    png = httpx.get(f"{live_server}/api/runs/{run_id}/snapshots/100")
    assert png.status_code == 200 and png.headers["content-type"] == "image/png"
    assert png.content == PNG_MAGIC + bytes([100])


def test_a_run_without_snapshots_lists_none_and_unknown_steps_or_runs_are_404(live_server: str):
    run_id = _run(live_server)
    assert httpx.get(f"{live_server}/api/runs/{run_id}/snapshots").json() == {"steps": []}
    assert httpx.get(f"{live_server}/api/runs/{run_id}/snapshots/5").status_code == 404
    assert httpx.get(f"{live_server}/api/runs/{'0' * 32}/snapshots").status_code == 404
