"""Sweeps: create (from a preset, a config or a sweep lesson), list, read with every cell's run, stop, delete.

A sweep's cells are ordinary runs (``runs.sweep_id``): forkable, comparable, streamed like any other. The job
manager starts them through the executor's queue and the client's run quota (README, "Sweeps")."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request, Response, status
from pydantic import BaseModel, Field, WithJsonSchema

from models.config import ConfigError, RunConfig
from models.presets import PresetError
from models.sweeps import (
    MAX_CELLS,
    MAX_SEEDS,
    SWEEP_LESSONS,
    Axis,
    SweepLessonError,
    build_sweep,
    get_lesson,
    grid_points,
)
from server.access import Caller, can_control, listed_owner
from server.api.deps import CallerDep, Jobs, act, check_upload, config_error, require_control, require_watch
from server.api.errors import ERRORS
from server.db import repository as repo
from server.db.tables import Run, Sweep
from server.executor import check_device
from server.security import client_id, confine_config_paths
from server.status import CELL_CANCELLED, CELL_DELETED, CELL_PENDING, LIVE_STATUSES, SweepStatus

router = APIRouter(prefix="/api/sweeps", tags=["sweeps"], responses=ERRORS)

SWEEPS_PAGE = 50  # sweeps per page of the list by default
SWEEPS_PAGE_MAX = 200

GRID_SCHEMA = WithJsonSchema(
    {
        "type": "object",
        "additionalProperties": {"type": "array", "items": {}},
        "description": f'{{dotted config path: [values]}}, e.g. {{"train.lr_g": [1e-4, 1e-3]}}; at most {MAX_CELLS} '
        "cells (grid points × seeds).",
    }
)
SEEDS_SCHEMA = WithJsonSchema(
    {
        "type": "array",
        "items": {"type": "integer", "minimum": 0},
        "description": f"Seeds to repeat the grid over (at most {MAX_SEEDS}); default: the config's own seed.",
    }
)


class SweepCreate(BaseModel):
    """One of ``preset`` (with ``overrides``), ``config`` or ``lesson`` (a sweep lesson: its preset and grid, with
    ``overrides`` over its own and ``seeds`` replacing its)."""

    preset: str | None = None
    config: dict[str, Any] | None = None
    lesson: str | None = None
    overrides: dict[str, Any] = Field(default_factory=dict)
    # Checked by models.sweeps rather than by pydantic, so every refusal names the field as the request spelt it.
    grid: Annotated[Any, GRID_SCHEMA] = None
    seeds: Annotated[Any, SEEDS_SCHEMA] = None


class AxisOut(BaseModel):
    path: str
    values: list[Any]


class CellOut(BaseModel):
    index: int
    params: dict[str, Any] = Field(description="The value of each axis, by path, in the axes' order.")
    seed: int
    run_id: str | None = Field(description="Null while the cell waits for room under the client's run quota.")
    status: str = Field(
        description="Its run's status; 'pending' before it starts, 'cancelled' if the sweep was stopped first, "
        "'deleted' if its run was deleted on its own."
    )
    step: int
    steps: int
    metrics: dict[str, Any] | None = Field(description="The run's latest metrics, as the run list has them.")


class SweepSummary(BaseModel):
    id: str
    created_at: datetime
    status: SweepStatus = Field(
        description="running: a cell waits or a run is live; finished: every cell's run has ended; stopped: by a "
        "stop or a delete."
    )
    preset: str | None
    lesson: str | None
    axes: list[AxisOut]
    seeds: list[int]
    n_cells: int
    counts: dict[str, int] = Field(description="How many cells are in each status.")
    owner: str | None = Field(None, description="The user who made it, and owns its runs (GANPLAY_AUTH=users).")


class SweepDetail(SweepSummary):
    base: dict[str, Any] = Field(description="The full config every cell starts from.")
    cells: list[CellOut]
    can_control: bool = Field(True, description="Whether the caller may stop and delete it (its owner or an admin).")


class SweepLessonOut(BaseModel):
    name: str
    title: str
    description: str
    preset: str
    overrides: dict[str, Any]
    axes: list[AxisOut]
    seeds: list[int]
    n_cells: int
    watch: list[str]


def _status(row: Sweep, live: bool) -> SweepStatus:
    if row.stopped:
        return "stopped"
    return "running" if live or row.next_cell < row.n_cells else "finished"


def _waiting(row: Sweep) -> str:
    return CELL_CANCELLED if row.stopped else CELL_PENDING


def _summary(row: Sweep, counts: dict[str, int]) -> SweepSummary:
    return SweepSummary(
        id=row.id,
        created_at=row.created_at,
        status=_status(row, any(counts.get(s) for s in LIVE_STATUSES)),
        preset=row.preset,
        lesson=row.lesson,
        axes=[AxisOut(**a) for a in row.axes],
        seeds=row.seeds,
        n_cells=row.n_cells,
        counts={k: v for k, v in counts.items() if v},
        owner=row.owner,
    )


def _detail(row: Sweep, runs: list[Run], caller: Caller) -> SweepDetail:
    by_cell = {run.sweep_cell: run for run in runs}
    axes = [Axis(a["path"], tuple(a["values"])) for a in row.axes]
    cells = []
    for index, (params, seed) in enumerate(grid_points(axes, row.seeds)):
        run = by_cell.get(index)
        steps = int(params.get("steps", row.base["steps"]))
        if run is None:
            state = _waiting(row) if index >= row.next_cell else CELL_DELETED
            cells.append(
                CellOut(
                    index=index, params=params, seed=seed, run_id=None, status=state, step=0, steps=steps, metrics=None
                )
            )
        else:
            cells.append(
                CellOut(
                    index=index,
                    params=params,
                    seed=seed,
                    run_id=run.id,
                    status=run.status,
                    step=run.step,
                    steps=int(run.config.get("steps", steps)),
                    metrics=run.last_metrics,
                )
            )
    counts: dict[str, int] = {}
    for cell in cells:
        counts[cell.status] = counts.get(cell.status, 0) + 1
    summary = _summary(row, counts)
    return SweepDetail(**summary.model_dump(), base=row.base, cells=cells, can_control=can_control(caller, row.owner))


def require_sweep(jobs: Jobs, sweep_id: str) -> Sweep:
    """The sweep, or a 404 naming it."""
    with jobs.sessions() as session:
        row = repo.get_sweep(session, sweep_id)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no sweep {sweep_id}")
    return row


def sweep_detail(jobs: Jobs, sweep_id: str, caller: Caller) -> SweepDetail:
    with jobs.sessions() as session:
        row = repo.get_sweep(session, sweep_id)
        if row is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no sweep {sweep_id}")
        return _detail(row, repo.sweep_runs(session, [sweep_id])[sweep_id], caller)


@router.post("", status_code=status.HTTP_201_CREATED)
def create_sweep(body: SweepCreate, jobs: Jobs, request: Request, caller: CallerDep) -> SweepDetail:
    """Every cell's config is checked before anything is stored (422 naming the field: ``grid.train.lr_g[2]``,
    ``seeds[1]``, ``grid`` past the cell limit); 429 past the client's sweep quota. Cells past the client's run
    quota wait (``pending``) and start as its runs end."""
    settings = request.app.state.settings
    gpus = jobs.executor.gpus

    def check(config: RunConfig) -> RunConfig:
        check_device(config.device, gpus)
        check_upload(request, caller, config)
        return confine_config_paths(config, settings)

    sources = [name for name in ("preset", "config", "lesson") if getattr(body, name) is not None]
    if len(sources) != 1:
        raise HTTPException(422, detail=[{"field": "preset", "reason": "give one of preset, config or lesson"}])
    try:
        if body.lesson is not None:
            if body.grid is not None:
                raise ConfigError(
                    [{"field": "grid", "reason": "a lesson brings its own grid; give a preset to choose one"}]
                )
            sweep = get_lesson(body.lesson).sweep(body.overrides, body.seeds, check=check)
        else:
            sweep = build_sweep(
                preset=body.preset,
                config=body.config,
                overrides=body.overrides,
                grid=body.grid,
                seeds=body.seeds,
                check=check,
            )
    except PresetError as e:
        raise HTTPException(422, detail=[{"field": "preset", "reason": str(e)}]) from None
    except SweepLessonError as e:
        raise HTTPException(422, detail=[{"field": "lesson", "reason": str(e)}]) from None
    except ConfigError as e:
        raise config_error(e) from None
    created = act(lambda: jobs.create_sweep(sweep, client=client_id(request), owner=caller.name))
    return sweep_detail(jobs, created, caller)


@router.get("")
def list_sweeps(
    jobs: Jobs,
    request: Request,
    response: Response,
    caller: CallerDep,
    limit: Annotated[int, Query(ge=1, le=SWEEPS_PAGE_MAX)] = SWEEPS_PAGE,
    offset: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
) -> list[SweepSummary]:
    """A page of sweeps, newest first, each with how many cells are in each status; ``X-Total-Count`` says how
    many there are in all. With GANPLAY_WATCH=owners a user who is not an admin sees only their own."""
    mine = listed_owner(caller, request.app.state.settings.watch)
    with jobs.sessions() as session:
        response.headers["X-Total-Count"] = str(repo.count_sweeps(session, visible_to=mine))
        rows = repo.list_sweeps(session, limit, offset, visible_to=mine)
        counted = repo.sweep_status_counts(session, [row.id for row in rows])
        out = []
        for row in rows:
            counts = dict(counted[row.id])
            deleted = row.next_cell - sum(counts.values())
            counts |= {_waiting(row): row.n_cells - row.next_cell, CELL_DELETED: deleted}
            out.append(_summary(row, counts))
        return out


@router.get("/lessons")
def lessons() -> list[SweepLessonOut]:
    """The sweep lessons, runnable by name: ``POST /api/sweeps {"lesson": name}``."""
    out = []
    for lesson in SWEEP_LESSONS.values():
        sweep = lesson.sweep()
        out.append(
            SweepLessonOut(
                name=lesson.name,
                title=lesson.title,
                description=lesson.description,
                preset=lesson.preset,
                overrides=lesson.overrides,
                axes=[AxisOut(**axis.as_json()) for axis in sweep.axes],
                seeds=list(sweep.seeds),
                n_cells=sweep.size,
                watch=list(lesson.watch),
            )
        )
    return out


@router.get("/{sweep_id}")
def get_sweep(sweep_id: str, jobs: Jobs, request: Request, caller: CallerDep) -> SweepDetail:
    require_watch(request, require_sweep(jobs, sweep_id))
    return sweep_detail(jobs, sweep_id, caller)


@router.post("/{sweep_id}/stop", status_code=status.HTTP_202_ACCEPTED)
def stop_sweep(sweep_id: str, jobs: Jobs, request: Request, caller: CallerDep) -> SweepDetail:
    """No further cell starts and every live run of it is stopped (each run's stream says when it has). Its owner
    or an admin only (403)."""
    require_control(request, require_sweep(jobs, sweep_id), "stop")
    act(lambda: jobs.stop_sweep(sweep_id))
    return sweep_detail(jobs, sweep_id, caller)


@router.delete("/{sweep_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_sweep(sweep_id: str, jobs: Jobs, request: Request) -> None:
    """The sweep, its runs and their files: a live run's files go when its worker has stopped. Its owner or an
    admin only (403)."""
    require_control(request, require_sweep(jobs, sweep_id), "delete")
    with jobs.sessions() as session:
        run_ids = [run.id for run in repo.sweep_runs(session, [sweep_id])[sweep_id]]
    act(lambda: jobs.delete_sweep(sweep_id))
    for run_id in run_ids:
        request.app.state.generators.forget(run_id)
