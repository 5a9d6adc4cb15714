"""Runs: create, list, read, patch live, control, fork, share, delete, metrics. Thin: the job manager does the work;
``server/access.py`` says who may do what (403), through ``deps``."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field, model_validator

from models.alerts import remedy
from models.config import ConfigError, RunConfig, apply_patch, parse_config
from models.presets import PresetError, preset_config
from server.access import Caller, can_control, can_share, listed_owner, share_refused
from server.api.deps import (
    CallerDep,
    Jobs,
    act,
    check_upload,
    config_error,
    controlled_run,
    forbidden,
    require_run,
    require_watch,
    watched_run,
)
from server.api.errors import ERRORS
from server.db import repository as repo
from server.pools import lane
from server.security import client_id, confine_config_paths, confine_override_paths, file_paths_in

router = APIRouter(prefix="/api/runs", tags=["runs"], responses=ERRORS)


class RunCreate(BaseModel):
    """Either a full ``config`` or a ``preset`` with optional ``overrides`` of any field."""

    config: dict[str, Any] | None = None
    preset: str | None = None
    overrides: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _one_source(self) -> RunCreate:
        if (self.config is None) == (self.preset is None):
            raise ValueError("give either config or preset")
        return self


class ForkCreate(BaseModel):
    overrides: dict[str, Any] = Field(default_factory=dict)


class ConfigChangeOut(BaseModel):
    step: int
    changes: dict[str, Any]


class RunSummary(BaseModel):
    """A run as the list shows it; read straight from its database row."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    status: str
    step: int
    preset: str | None
    parent_id: str | None
    parent_step: int | None
    created_at: datetime
    reason: str | None
    checkpoint_step: int | None
    device: str | None = Field(description="Where the run trains (or last trained); null until it starts.")
    sweep_id: str | None = Field(None, description="The sweep this run is a cell of (GET /api/sweeps/{id}).")
    sweep_cell: int | None = Field(None, description="Which cell of its sweep it is.")
    last_metrics: dict[str, Any] | None
    owner: str | None = Field(None, description="The user who made it (GANPLAY_AUTH=users); null without users.")
    shared: bool = Field(False, description="An admin shared it with everyone signed in.")


class Fix(BaseModel):
    label: str
    patch: dict[str, Any] = Field(description="A live patch the run's current config accepts.")


class AlertOut(BaseModel):
    step: int
    kind: str
    message: str
    cleared: bool = Field(False, description="True when this reports the end of an earlier alert's episode.")
    fix: Fix | None = Field(None, description="The suggested trick, for the run's current config; none once cleared.")


DETAIL_ENTRIES = 500  # newest config changes and alerts a run's detail (and its stream's snapshot) carries
RUNS_PAGE = 100  # runs per page of the run list by default
RUNS_PAGE_MAX = 500


class RunDetail(RunSummary):
    config: dict[str, Any]
    changes: list[ConfigChangeOut] = Field(
        description=f"The newest {DETAIL_ENTRIES} live changes, oldest first (the export holds them all)."
    )
    changes_total: int
    alerts: list[AlertOut] = Field(description=f"The newest {DETAIL_ENTRIES} alerts, oldest first.")
    alerts_total: int
    can_control: bool | None = Field(
        None,
        description="Whether the caller may patch, pause, resume, stop and delete it (its owner or an admin; "
        "anyone without users); null in a stream's snapshot, whose `access` event says it for that connection.",
    )
    can_share: bool | None = Field(None, description="Whether the caller may share it (admins); null as above.")


class ShareIn(BaseModel):
    shared: bool = Field(description="true: everyone signed in may watch and fork it, and it is listed as shared.")


class Accepted(BaseModel):
    run_id: str
    config: dict[str, Any]
    detail: str


class Metrics(BaseModel):
    steps: list[int]
    series: dict[str, list[float | None]]


def alerts_with_fixes(alerts: list[dict[str, Any]], config: RunConfig) -> list[AlertOut]:
    """A run's alerts, each raised one with the trick that suits the run's config as it is now."""
    out = []
    for alert in alerts:
        fix = None if alert["cleared"] else remedy(alert["kind"], config)
        out.append(AlertOut(**alert, fix=None if fix is None else Fix(label=fix.label, patch=fix.patch)))
    return out


def run_detail(jobs: Jobs, run_id: str, newest: int | None = DETAIL_ENTRIES, caller: Caller | None = None) -> RunDetail:
    """A run with its newest changes and alerts: bounded, however often it was patched (``newest=None``: all, for
    the export); with ``caller``, what that caller may do to it."""
    with jobs.sessions() as session:
        run = require_run(session, run_id)
        summary = RunSummary.model_validate(run)
        return RunDetail(
            **summary.model_dump(),
            config=run.config,
            changes=[ConfigChangeOut(**c) for c in repo.config_changes(session, run_id, newest)],
            alerts=alerts_with_fixes(repo.alerts(session, run_id, newest), parse_config(run.config)),
            **repo.count_entries(session, run_id),
            can_control=None if caller is None else can_control(caller, run.owner),
            can_share=None if caller is None else can_share(caller),
        )


@router.post("", status_code=status.HTTP_201_CREATED)
def create_run(body: RunCreate, jobs: Jobs, request: Request, caller: CallerDep) -> RunDetail:
    """Data comes from built-ins and uploads; a dataset file path only under GANPLAY_DATA_ROOT (422 otherwise). The
    run is the caller's own (GANPLAY_AUTH=users) and counts against their quota."""
    try:
        config = preset_config(body.preset, body.overrides or None) if body.preset else parse_config(body.config or {})
        config = confine_config_paths(config, request.app.state.settings)
        check_upload(request, caller, config)
    except PresetError as e:
        raise HTTPException(422, detail=[{"field": "preset", "reason": str(e)}]) from None
    except ConfigError as e:
        raise config_error(e) from None
    created = act(lambda: jobs.create(config, preset=body.preset, client=client_id(request), owner=caller.name))
    return run_detail(jobs, created, caller=caller)


@router.get("")
def list_runs(
    jobs: Jobs,
    request: Request,
    response: Response,
    caller: CallerDep,
    limit: Annotated[int, Query(ge=1, le=RUNS_PAGE_MAX)] = RUNS_PAGE,
    offset: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
    shared: Annotated[bool | None, Query(description="only the runs shared with everyone (true) or the others")] = None,
) -> list[RunSummary]:
    """A page of the runs the caller may watch, newest first; ``X-Total-Count`` says how many there are in all."""
    mine = listed_owner(caller, request.app.state.settings.watch)
    with jobs.sessions() as session:
        response.headers["X-Total-Count"] = str(repo.count_runs(session, visible_to=mine, shared=shared))
        runs = repo.list_runs(session, limit, offset, visible_to=mine, shared=shared)
        return [RunSummary.model_validate(run) for run in runs]


@router.get("/{run_id}")
def get_run(run_id: str, jobs: Jobs, request: Request, caller: CallerDep) -> RunDetail:
    watched_run(request, jobs, run_id)
    return run_detail(jobs, run_id, caller=caller)


@router.put("/{run_id}/shared")
def share(run_id: str, body: ShareIn, jobs: Jobs, request: Request, caller: CallerDep) -> RunDetail:
    """Share a run with everyone signed in, or stop: an admin's call (403 otherwise). A shared run is listed as such
    (``GET /api/runs?shared=true``) and, with GANPLAY_WATCH=owners, everyone may watch and fork it."""
    with jobs.sessions() as session:
        require_run(session, run_id)
        reason = share_refused(caller)
        if reason is not None:
            raise forbidden(reason)
        act(lambda: repo.set_shared(session, run_id, body.shared))
        session.commit()
    return run_detail(jobs, run_id, caller=caller)


@router.patch("/{run_id}/config", status_code=status.HTTP_202_ACCEPTED)
def patch_config(run_id: str, patch: dict[str, Any], jobs: Jobs, request: Request) -> Accepted:
    """Live fields only; applied at the run's next step, acknowledged on its stream by a ``config`` event. Its owner
    or an admin only (403)."""
    controlled_run(request, jobs, run_id, "patch")
    new: RunConfig = act(lambda: jobs.patch(run_id, patch))
    return Accepted(run_id=run_id, config=new.model_dump(mode="json"), detail="applies at the next step")


@router.post("/{run_id}/fork", status_code=status.HTTP_201_CREATED)
def fork(run_id: str, body: ForkCreate, jobs: Jobs, request: Request, caller: CallerDep) -> RunDetail:
    """Dataset file paths, set by the overrides or kept from the parent, only under GANPLAY_DATA_ROOT (422). Anyone
    who may watch the parent may fork it; the fork is the caller's own."""
    parent = watched_run(request, jobs, run_id).config
    inherited = file_paths_in(parent)
    try:
        overrides = confine_override_paths(request.app.state.settings, body.overrides, inherited)
        forked_config = apply_patch(parse_config(parent), overrides, live_only=False) if overrides else None
        if forked_config is not None and forked_config.dataset.model_dump() != parent.get("dataset"):
            check_upload(request, caller, forked_config)  # a new upload; the parent's own data it keeps
    except ConfigError as e:
        raise config_error(e) from None
    forked = act(lambda: jobs.fork(run_id, overrides, client=client_id(request), owner=caller.name))
    return run_detail(jobs, forked, caller=caller)


class StepIn(BaseModel):
    update: Literal["d", "g", "both"] = Field(
        "both", description="d: one D update; g: one G update; both: one full step (d_steps D updates, one G update)."
    )


@router.post("/{run_id}/step", status_code=status.HTTP_202_ACCEPTED)
def step(run_id: str, jobs: Jobs, request: Request, caller: CallerDep, body: StepIn | None = None) -> RunDetail:
    """A paused run only (409 otherwise): one update by hand, GAN Lab's manual mode. Each is a step of its own (the
    step counter moves by one, one metrics row) and enters the change log as ``{"manual": "one D update"}`` and so
    on; it comes back on the run's stream. Its owner or an admin only (403)."""
    controlled_run(request, jobs, run_id, "step")
    act(lambda: jobs.step(run_id, (body or StepIn()).update))
    return run_detail(jobs, run_id, caller=caller)


@router.post("/{run_id}/{action}", status_code=status.HTTP_202_ACCEPTED)
def control(run_id: str, action: str, jobs: Jobs, request: Request, caller: CallerDep) -> RunDetail:
    """Its owner or an admin only (403)."""
    if action not in ("pause", "resume", "stop"):
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no action {action}; use pause, resume or stop")
    controlled_run(request, jobs, run_id, action)
    act(lambda: jobs.control(run_id, action))
    return run_detail(jobs, run_id, caller=caller)


@router.delete("/{run_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete(run_id: str, jobs: Jobs, request: Request) -> None:
    """Its owner or an admin only (403)."""
    controlled_run(request, jobs, run_id, "delete")
    act(lambda: jobs.delete(run_id))
    request.app.state.generators.forget(run_id)


@router.get("/{run_id}/metrics")
async def metrics(
    request: Request,
    run_id: str,
    jobs: Jobs,
    since: Annotated[int | None, Query(ge=-1, le=2**31 - 1, description="exclusive; a step")] = None,
    names: Annotated[str | None, Query(description="comma-separated metric names")] = None,
    max_points: Annotated[int | None, Query(ge=2, le=repo.METRICS_MAX_POINTS)] = None,
) -> Metrics:
    """Downsampled by the database past ``max_points``; without it, more than ``METRICS_MAX_POINTS`` points is a 422
    (page with ``since``). Read in the app's history lane (``server/pools.py``), not the shared threadpool."""
    return await lane(request.app, "history").run(_metrics, request, jobs, run_id, since, names, max_points)


def _metrics(
    request: Request, jobs: Jobs, run_id: str, since: int | None, names: str | None, max_points: int | None
) -> Metrics:
    with jobs.sessions() as session:
        require_watch(request, require_run(session, run_id))
        try:
            found = repo.metrics(
                session, run_id, since=since, max_points=max_points, names=names.split(",") if names else None
            )
        except repo.TooManyPointsError as e:
            raise HTTPException(422, detail=[{"field": "max_points", "reason": str(e)}]) from None
        return Metrics(**found)
