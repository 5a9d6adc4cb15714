"""What the routes share: the job manager and the caller as dependencies, the run-or-404 lookup, the 403s of
``server/access.py``'s rules, and the mapping of the job manager's errors to HTTP statuses. Routes stay thin; this
is the one place each of those is decided."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, TypeVar

from fastapi import Depends, HTTPException, Request, status
from sqlalchemy.orm import Session

from models.config import ConfigError, RunConfig
from server.access import Caller, can_use_upload, control_refused, watch_refused
from server.datasets_store import get_upload
from server.db import repository as repo
from server.db.tables import Run, Sweep
from server.jobs import InvalidStateError, JobManager, QuotaError, RunNotFoundError
from server.security import request_caller

T = TypeVar("T")


def get_jobs(request: Request) -> JobManager:
    return request.app.state.jobs


Jobs = Annotated[JobManager, Depends(get_jobs)]
CallerDep = Annotated[Caller, Depends(request_caller)]


def not_found(run_id: str) -> HTTPException:
    return HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no run {run_id}")


def config_error(e: ConfigError) -> HTTPException:
    """422 naming each field and the reason."""
    return HTTPException(422, detail=e.errors)


def require_run(session: Session, run_id: str) -> Run:
    """The run, or a 404 naming it."""
    run = repo.get_run(session, run_id)
    if run is None:
        raise not_found(run_id)
    return run


def forbidden(reason: str) -> HTTPException:
    return HTTPException(status.HTTP_403_FORBIDDEN, detail=reason)


def _what(row: Run | Sweep) -> str:
    return f"{'run' if isinstance(row, Run) else 'sweep'} {row.id}"


def require_control(request: Request, row: Run | Sweep, verb: str) -> None:
    """403 unless the caller may ``verb`` (patch, pause, stop, delete, …) this run or sweep: its owner or an admin."""
    reason = control_refused(request_caller(request), _what(row), row.owner, verb)
    if reason is not None:
        raise forbidden(reason)


def require_watch(request: Request, row: Run | Sweep) -> None:
    """403 unless the caller may watch this run or sweep (always, unless ``watch=owners``)."""
    shared = row.shared if isinstance(row, Run) else False
    reason = watch_refused(request_caller(request), _what(row), row.owner, shared, request.app.state.settings.watch)
    if reason is not None:
        raise forbidden(reason)


def watched_run(request: Request, jobs: JobManager, run_id: str) -> Run:
    """The run, when it exists (404) and the caller may watch it (403)."""
    with jobs.sessions() as session:
        run = require_run(session, run_id)
    require_watch(request, run)
    return run


def controlled_run(request: Request, jobs: JobManager, run_id: str, verb: str) -> Run:
    """The run, when it exists (404) and the caller may ``verb`` it (403)."""
    with jobs.sessions() as session:
        run = require_run(session, run_id)
    require_control(request, run, verb)
    return run


def check_upload(request: Request, caller: Caller, config: RunConfig) -> None:
    """A config that trains on an upload names one this server stores and the caller may use (422 on
    ``dataset.id`` otherwise, at once, rather than a run that fails in its worker). Someone else's upload under
    ``watch=owners`` gets the same answer as an id never made, so nobody learns which ids exist."""
    dataset = config.dataset
    if dataset.kind != "upload":
        return
    settings = request.app.state.settings
    meta = get_upload(settings.data_dir, dataset.id)
    if meta is None or not can_use_upload(caller, meta.get("owner"), settings.watch):
        reason = f"no upload {dataset.id} on this server that you may train on (GET /api/datasets lists them)"
        raise ConfigError([{"field": "dataset.id", "reason": reason}])


def act(action: Callable[[], T]) -> T:
    """Run a job-manager action, its errors as HTTP statuses: unknown run or sweep 404, wrong status 409, bad config
    422, over the quota 429."""
    try:
        return action()
    except RunNotFoundError as e:
        raise not_found(e.args[0]) from None
    except repo.SweepNotFoundError as e:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no sweep {e.args[0]}") from None
    except InvalidStateError as e:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=str(e)) from None
    except ConfigError as e:
        raise config_error(e) from None
    except QuotaError as e:
        raise HTTPException(status.HTTP_429_TOO_MANY_REQUESTS, detail=str(e)) from None


__all__ = [
    "CallerDep",
    "Jobs",
    "act",
    "config_error",
    "controlled_run",
    "forbidden",
    "get_jobs",
    "not_found",
    "require_control",
    "require_run",
    "require_watch",
    "watched_run",
]
