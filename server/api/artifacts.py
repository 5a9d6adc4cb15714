"""What a run leaves behind: samples from its newest weights, the checkpoint itself, an export bundle; for whoever
may watch the run (``server/access.py``: everyone signed in, unless GANPLAY_WATCH=owners)."""

from __future__ import annotations

import csv
import io
import json
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, BinaryIO, Literal

from fastapi import APIRouter, HTTPException, Query, Request, Response, status
from fastapi.responses import FileResponse, StreamingResponse
from pydantic import BaseModel

from models.checkpoint import CheckpointError
from models.field import has_latent
from models.sampling import WALK_MAX_STEPS, LoadedGenerator, latent_walk, sample, samples_png, walk_labels, walk_png
from server.api.deps import Jobs, require_run, require_watch, watched_run
from server.api.errors import ERRORS
from server.api.runs import run_detail
from server.db import repository as repo
from server.jobs import JobManager
from server.paths import checkpoint_path, snapshots_dir
from server.pools import lane
from server.samples import GeneratorCache, largest_n, samples_bytes, walk_bytes

router = APIRouter(prefix="/api/runs", tags=["artifacts"], responses=ERRORS)
MAX_N = 1024
SAMPLES: dict[int | str, dict[str, Any]] = {
    200: {"content": {"image/png": {}, "application/json": {}}, "description": "PNG grid or JSON samples"}
}


def _checkpoint(request: Request, jobs: JobManager, run_id: str) -> Path:
    watched_run(request, jobs, run_id)
    path = checkpoint_path(jobs.data_dir, run_id)
    if not path.exists():
        raise HTTPException(status.HTTP_409_CONFLICT, detail=f"run {run_id} has no checkpoint yet")
    return path


@router.get("/{run_id}/samples", responses=SAMPLES, response_model=None)
async def samples(
    request: Request,
    run_id: str,
    jobs: Jobs,
    n: Annotated[int, Query(ge=1, le=MAX_N)] = 64,
    seed: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
    label: Annotated[int | None, Query(ge=0)] = None,
    format: Literal["png", "json"] = "png",
) -> Response:
    """Samples from the run's newest weights: its checkpoint, or while it trains the generator its worker writes
    every few seconds (the step is in ``X-Checkpoint-Step``). The same ``seed`` gives the same samples from the
    same weights. A response is bounded by its size in bytes as well as by ``n``: 413 when ``n`` samples of this
    run's shape in this format would exceed the ``max_samples_bytes`` setting. Drawn in the app's sampling lane, so
    requests for samples queue there and never hold the threads other routes use."""
    generators: GeneratorCache = request.app.state.generators
    limit = request.app.state.settings.max_samples_bytes
    check = request if request.app.state.settings.watch == "owners" else None  # else anyone may: no read needed
    body, media_type, step = await lane(request.app, "sampling").run(
        _draw, jobs, generators, run_id, n, seed, label, format, limit, check
    )
    return Response(body, media_type=media_type, headers={"X-Checkpoint-Step": str(step)})


def _draw(
    jobs: JobManager,
    generators: GeneratorCache,
    run_id: str,
    n: int,
    seed: int,
    label: int | None,
    format: str,
    limit: int,
    check: Request | None = None,
) -> tuple[bytes, str, int]:
    """``check``: the request, when whether its caller may watch the run has to be read first."""
    if check is not None:
        watched_run(check, jobs, run_id)
    try:
        loaded = _newest_generator(jobs, generators, run_id)
        _check_size(loaded.meta, n, format, limit)
        drawn = sample(loaded, n, seed, label)
    except CheckpointError as e:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=str(e)) from None
    except ValueError as e:  # label on an unconditional run, label out of range
        field, _, reason = str(e).partition(": ")
        raise HTTPException(422, detail=[{"field": field, "reason": reason or str(e)}]) from None
    if format == "json":
        body = {
            "step": loaded.step,
            "seed": seed,
            "label": label,
            "shape": list(drawn.shape),
            "samples": drawn.tolist(),
        }
        return json.dumps(body).encode(), "application/json", loaded.step
    return samples_png(loaded, drawn), "image/png", loaded.step


def _newest_generator(jobs: JobManager, generators: GeneratorCache, run_id: str) -> LoadedGenerator:
    """The generator of the run's newest weights: 404 for an unknown run, 409 for one with no weights yet. Raises
    CheckpointError when its file is unreadable."""
    loaded = None if jobs.is_deleted(run_id) else generators.get(jobs.data_dir, run_id)
    if loaded is None:
        with jobs.sessions() as session:
            require_run(session, run_id)  # 404 for an unknown run; it exists but has no weights yet: 409
        raise HTTPException(status.HTTP_409_CONFLICT, detail=f"run {run_id} has no weights yet")
    return loaded


def _check_size(meta: dict[str, Any], n: int, format: str, limit: int) -> None:
    """413 naming ``n``, the limit and the largest ``n`` that fits, before anything is sampled."""
    size = samples_bytes(meta, n, format)
    if size <= limit:
        return
    shape = "×".join(str(d) for d in meta["sample_shape"])
    fits = largest_n(meta, format, limit, MAX_N)
    advice = f"ask for n ≤ {fits}" if fits else "this run's samples cannot be served in this format"
    if format == "json" and largest_n(meta, "png", limit, MAX_N) > fits:
        advice += " or format=png"
    raise HTTPException(
        status.HTTP_413_CONTENT_TOO_LARGE,
        detail=[
            {
                "field": "n",
                "reason": f"{n} samples of {shape} as {format} come to about {size} bytes; a samples response is "
                f"limited to {limit} bytes: {advice}",
            }
        ],
    )


@router.get(
    "/{run_id}/walk",
    responses={
        200: {"content": {"image/png": {}}, "description": "PNG: the walk's samples in a row (a row per label)"}
    },
    response_class=Response,
)
async def walk(
    request: Request,
    run_id: str,
    jobs: Jobs,
    seed_a: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
    seed_b: Annotated[int, Query(ge=0, le=2**31 - 1)] = 1,
    steps: Annotated[int, Query(ge=2, le=WALK_MAX_STEPS)] = 8,
    label: Annotated[int | None, Query(ge=0)] = None,
) -> Response:
    """A latent walk of an image run: ``steps`` samples from its newest weights along the spherical path from the
    latent of ``seed_a`` (sample 0 of ``/samples?seed=seed_a``) to that of ``seed_b``, as one PNG strip. A
    conditional run gets a grid with one row per label (the same latents in each row), or the row of ``label``.
    2D runs have none (409): their latent plane is the field view's manifold layer; nor has MADE, which has no
    latent code (409). Bounded like ``/samples``
    (413 over ``max_samples_bytes``) and drawn in the same sampling lane."""
    generators: GeneratorCache = request.app.state.generators
    limit = request.app.state.settings.max_samples_bytes
    check = request if request.app.state.settings.watch == "owners" else None
    body, step = await lane(request.app, "sampling").run(
        _walk, jobs, generators, run_id, seed_a, seed_b, steps, label, limit, check
    )
    return Response(body, media_type="image/png", headers={"X-Checkpoint-Step": str(step)})


def _walk(
    jobs: JobManager,
    generators: GeneratorCache,
    run_id: str,
    seed_a: int,
    seed_b: int,
    steps: int,
    label: int | None,
    limit: int,
    check: Request | None = None,
) -> tuple[bytes, int]:
    if check is not None:
        watched_run(check, jobs, run_id)
    try:
        loaded = _newest_generator(jobs, generators, run_id)
        if not loaded.meta["is_image"]:
            raise HTTPException(
                status.HTTP_409_CONFLICT,
                detail=f"run {run_id} is not an image run: a 2D run's latent plane is the field view's manifold layer",
            )
        if not has_latent(loaded.config.model.family):
            raise HTTPException(
                status.HTTP_409_CONFLICT,
                detail=f"run {run_id} is a {loaded.config.model.family} run: it has no latent code to walk (its noise "
                "picks each pixel in turn)",
            )
        rows = len(walk_labels(loaded, label) or [None])
        size = walk_bytes(loaded.meta, rows, steps)
        if size > limit:
            advice = "ask for fewer steps" + (" or one label" if rows > 1 else "")
            raise HTTPException(
                status.HTTP_413_CONTENT_TOO_LARGE,
                detail=[
                    {
                        "field": "steps",
                        "reason": f"a walk of {rows} × {steps} samples comes to about {size} "
                        f"bytes; a samples response is limited to {limit} bytes: {advice}",
                    }
                ],
            )
        images = latent_walk(loaded, seed_a, seed_b, steps, label)
    except CheckpointError as e:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=str(e)) from None
    except ValueError as e:  # label on an unconditional run, label out of range
        field, _, reason = str(e).partition(": ")
        raise HTTPException(422, detail=[{"field": field, "reason": reason or str(e)}]) from None
    return walk_png(loaded, images, steps), loaded.step


class Snapshots(BaseModel):
    steps: list[int]


def _snapshot_steps(request: Request, jobs: JobManager, run_id: str) -> dict[int, Path]:
    with jobs.sessions() as session:
        require_watch(request, require_run(session, run_id))
    folder = snapshots_dir(jobs.data_dir, run_id)
    files = folder.glob("*.png") if folder.is_dir() else ()
    return {int(f.stem): f for f in files if f.stem.isdigit()}


@router.get("/{run_id}/snapshots")
def snapshots(request: Request, jobs: Jobs, run_id: str) -> Snapshots:
    """Steps of the sample grids an image run saved as it trained (its live frames), oldest first; a 2D run has
    none. Each is served by ``/snapshots/{step}``, so the page can scrub back through the run."""
    return Snapshots(steps=sorted(_snapshot_steps(request, jobs, run_id)))


@router.get("/{run_id}/snapshots/{step}", response_class=FileResponse, responses={200: {"content": {"image/png": {}}}})
def snapshot_png(request: Request, jobs: Jobs, run_id: str, step: int) -> FileResponse:
    """One saved sample grid; the path is built from the integer step, never from client text."""
    path = _snapshot_steps(request, jobs, run_id).get(step)
    if path is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"run {run_id} saved no samples at step {step}")
    return FileResponse(path, media_type="image/png")


@router.get(
    "/{run_id}/checkpoint", response_class=FileResponse, responses={200: {"content": {"application/octet-stream": {}}}}
)
def checkpoint(request: Request, jobs: Jobs, run_id: str) -> FileResponse:
    """Weights, optimisers and config; loads with ``torch.load(path, weights_only=True)``."""
    return FileResponse(
        _checkpoint(request, jobs, run_id), media_type="application/octet-stream", filename=f"ganplay-{run_id}.pt"
    )


@router.get("/{run_id}/export", responses={200: {"content": {"application/zip": {}}}}, response_model=None)
async def export(request: Request, run_id: str, jobs: Jobs) -> Response:
    """A zip of config.json, changes.json, metrics.csv and (when there is one) checkpoint.pt.

    The whole history, however long, so it is never held in memory: the CSV is written a page of rows at a time
    into a zip in an unnamed temporary file, built in the app's history lane, then streamed from that file."""
    bundle = await lane(request.app, "history").run(_export_zip, request, jobs, run_id)
    size = bundle.seek(0, io.SEEK_END)
    bundle.seek(0)
    return StreamingResponse(
        _chunks(bundle),
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="ganplay-{run_id}.zip"', "Content-Length": str(size)},
    )


def _export_zip(request: Request, jobs: JobManager, run_id: str) -> BinaryIO:
    watched_run(request, jobs, run_id)
    detail = run_detail(jobs, run_id, newest=None)
    bundle = tempfile.TemporaryFile()  # noqa: SIM115 -- closed by _chunks once streamed, or below on failure
    try:
        with zipfile.ZipFile(bundle, "w", zipfile.ZIP_DEFLATED) as z:
            z.writestr("config.json", json.dumps(detail.config, indent=2))
            z.writestr("changes.json", json.dumps([c.model_dump() for c in detail.changes], indent=2))
            z.writestr(
                "run.json", detail.model_dump_json(indent=2, exclude={"config", "changes", "can_control", "can_share"})
            )
            with (
                jobs.sessions() as session,
                z.open("metrics.csv", "w", force_zip64=True) as raw,
                io.TextIOWrapper(raw, encoding="utf-8", newline="") as table,
            ):
                names = repo.metric_names(session, run_id)
                writer = csv.writer(table)
                writer.writerow(["step", *names])
                for page in repo.metric_pages(session, run_id):
                    writer.writerows([step, *(values.get(name) for name in names)] for step, values in page)
            path = checkpoint_path(jobs.data_dir, run_id)
            if path.exists():
                z.write(path, "checkpoint.pt")
    except BaseException:
        bundle.close()
        raise
    return bundle


def _chunks(bundle: BinaryIO, size: int = 2**20) -> Iterator[bytes]:
    try:
        while chunk := bundle.read(size):
            yield chunk
    finally:
        bundle.close()
