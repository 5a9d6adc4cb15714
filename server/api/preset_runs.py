"""Which stored run may stand for each preset's picture: one request for the lessons gallery, instead of the whole
run list plus a detail per candidate read by the page (which grew with every preset and every stored run)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import BaseModel, Field

from models.presets import PRESETS, same_setup
from server.access import listed_owner
from server.api.deps import CallerDep, Jobs
from server.api.errors import ERRORS
from server.api.runs import RunSummary
from server.db import repository as repo

router = APIRouter(prefix="/api/presets", tags=["meta"], responses=ERRORS)

CANDIDATES = 20  # a preset's stored runs read, best first, before it is said to have none that match it


class PresetRun(BaseModel):
    preset: str
    run: RunSummary | None = Field(
        description="The run to draw the preset's picture from: started from the preset with none of its settings "
        "changed (a different seed, device or length aside), not a fork or a sweep cell, trained; ended runs "
        "before live ones, then the furthest trained, then the newest. Null when this server has none the caller "
        "may watch."
    )


@router.get("/runs")
def preset_runs(
    jobs: Jobs,
    request: Request,
    caller: CallerDep,
    names: Annotated[str, Query(max_length=4096, description="Comma-separated preset names.")],
) -> list[PresetRun]:
    """For each preset named, in the order given, the stored run that may stand for its picture."""
    wanted = list(dict.fromkeys(name for name in names.split(",") if name))
    unknown = [name for name in wanted if name not in PRESETS]
    if unknown or not wanted:
        reason = f"unknown presets: {', '.join(unknown[:5])}" if unknown else "name at least one preset"
        raise HTTPException(422, detail=[{"field": "names", "reason": reason}])
    mine = listed_owner(caller, request.app.state.settings.watch)
    found = []
    with jobs.sessions() as session:
        for name in wanted:
            runs = repo.preset_runs_with_weights(session, name, CANDIDATES, visible_to=mine)
            run = next((r for r in runs if same_setup(name, r.config)), None)
            found.append(PresetRun(preset=name, run=RunSummary.model_validate(run) if run else None))
    return found
