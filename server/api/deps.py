"""What the routes share: the job manager as a dependency, the run-or-404 lookup, and the mapping of the job
manager's errors to HTTP statuses. Routes stay thin; this is the one place each of those is decided."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, TypeVar

from fastapi import Depends, HTTPException, Request, status
from sqlalchemy.orm import Session

from models.config import ConfigError
from server.db import repository as repo
from server.db.tables import Run
from server.jobs import InvalidStateError, JobManager, QuotaError, RunNotFoundError

T = TypeVar("T")


def get_jobs(request: Request) -> JobManager:
    return request.app.state.jobs


Jobs = Annotated[JobManager, Depends(get_jobs)]


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


__all__ = ["Jobs", "act", "config_error", "get_jobs", "not_found", "require_run"]
