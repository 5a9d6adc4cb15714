"""What a run leaves behind: samples from its newest weights, the checkpoint itself, an export bundle."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request, Response, status
from fastapi.responses import FileResponse
from pydantic import BaseModel

from models.checkpoint import CheckpointError
from models.sampling import sample, samples_png
from server.api.deps import Jobs, require_run
from server.api.errors import ERRORS
from server.api.runs import run_detail
from server.db import repository as repo
from server.jobs import JobManager
from server.paths import checkpoint_path, snapshots_dir
from server.samples import GeneratorCache

router = APIRouter(prefix="/api/runs", tags=["artifacts"], responses=ERRORS)
SAMPLES: dict[int | str, dict[str, Any]] = {
    200: {"content": {"image/png": {}, "application/json": {}}, "description": "PNG grid or JSON samples"}
}


def _checkpoint(jobs: JobManager, run_id: str) -> Path:
    with jobs.sessions() as session:
        require_run(session, run_id)
    path = checkpoint_path(jobs.data_dir, run_id)
    if not path.exists():
        raise HTTPException(status.HTTP_409_CONFLICT, detail=f"run {run_id} has no checkpoint yet")
    return path


@router.get("/{run_id}/samples", responses=SAMPLES, response_model=None)
def samples(
    request: Request,
    run_id: str,
    jobs: Jobs,
    n: Annotated[int, Query(ge=1, le=1024)] = 64,
    seed: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
    label: Annotated[int | None, Query(ge=0)] = None,
    format: Literal["png", "json"] = "png",
) -> Response:
    """Samples from the run's newest weights: its checkpoint, or while it trains the generator its worker writes
    every few seconds (the step is in ``X-Checkpoint-Step``). The same ``seed`` gives the same samples from the
    same weights."""
    generators: GeneratorCache = request.app.state.generators
    try:
        loaded = None if jobs.is_deleted(run_id) else generators.get(jobs.data_dir, run_id)
        if loaded is None:
            with jobs.sessions() as session:
                require_run(session, run_id)  # 404 for an unknown run; it exists but has no weights yet: 409
            raise HTTPException(status.HTTP_409_CONFLICT, detail=f"run {run_id} has no weights yet")
        drawn = sample(loaded, n, seed, label)
    except CheckpointError as e:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=str(e)) from None
    except ValueError as e:  # label on an unconditional run, label out of range
        field, _, reason = str(e).partition(": ")
        raise HTTPException(422, detail=[{"field": field, "reason": reason or str(e)}]) from None
    headers = {"X-Checkpoint-Step": str(loaded.step)}
    if format == "json":
        body = {
            "step": loaded.step,
            "seed": seed,
            "label": label,
            "shape": list(drawn.shape),
            "samples": drawn.tolist(),
        }
        return Response(json.dumps(body), media_type="application/json", headers=headers)
    return Response(samples_png(loaded, drawn), media_type="image/png", headers=headers)


class Snapshots(BaseModel):
    steps: list[int]


def _snapshot_steps(jobs: JobManager, run_id: str) -> dict[int, Path]:
    with jobs.sessions() as session:
        require_run(session, run_id)
    folder = snapshots_dir(jobs.data_dir, run_id)
    files = folder.glob("*.png") if folder.is_dir() else ()
    return {int(f.stem): f for f in files if f.stem.isdigit()}


@router.get("/{run_id}/snapshots")
def snapshots(jobs: Jobs, run_id: str) -> Snapshots:
    """Steps of the sample grids an image run saved as it trained (its live frames), oldest first; a 2D run has
    none. Each is served by ``/snapshots/{step}``, so the page can scrub back through the run."""
    return Snapshots(steps=sorted(_snapshot_steps(jobs, run_id)))


@router.get("/{run_id}/snapshots/{step}", response_class=FileResponse, responses={200: {"content": {"image/png": {}}}})
def snapshot_png(jobs: Jobs, run_id: str, step: int) -> FileResponse:
    """One saved sample grid; the path is built from the integer step, never from client text."""
    path = _snapshot_steps(jobs, run_id).get(step)
    if path is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"run {run_id} saved no samples at step {step}")
    return FileResponse(path, media_type="image/png")


@router.get(
    "/{run_id}/checkpoint", response_class=FileResponse, responses={200: {"content": {"application/octet-stream": {}}}}
)
def checkpoint(jobs: Jobs, run_id: str) -> FileResponse:
    """Weights, optimisers and config; loads with ``torch.load(path, weights_only=True)``."""
    return FileResponse(
        _checkpoint(jobs, run_id), media_type="application/octet-stream", filename=f"ganplay-{run_id}.pt"
    )


@router.get("/{run_id}/export", responses={200: {"content": {"application/zip": {}}}}, response_model=None)
def export(request: Request, run_id: str, jobs: Jobs) -> Response:
    """A zip of config.json, changes.json, metrics.csv and (when there is one) checkpoint.pt."""
    detail = run_detail(jobs, run_id)
    with jobs.sessions() as session:
        history = repo.metrics(session, run_id)
    table = io.StringIO()
    writer = csv.writer(table)
    names = sorted(history["series"])
    writer.writerow(["step", *names])
    for i, step in enumerate(history["steps"]):
        writer.writerow([step, *(history["series"][name][i] for name in names)])
    bundle = io.BytesIO()
    with zipfile.ZipFile(bundle, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("config.json", json.dumps(detail.config, indent=2))
        z.writestr("changes.json", json.dumps([c.model_dump() for c in detail.changes], indent=2))
        z.writestr("run.json", detail.model_dump_json(indent=2, exclude={"config", "changes"}))
        z.writestr("metrics.csv", table.getvalue())
        path = checkpoint_path(jobs.data_dir, run_id)
        if path.exists():
            z.write(path, "checkpoint.pt")
    return Response(
        bundle.getvalue(),
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="ganplay-{run_id}.zip"'},
    )
