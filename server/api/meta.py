"""Read-only facts about this server: health, the config schema, the presets, the chapter's lessons, and the
vocabulary the page reads (statuses, metrics and charts, alert kinds) so it keeps no list of its own."""

from __future__ import annotations

from functools import cache
from typing import Any

import torch
from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from models.alerts import ALERT_KINDS
from models.config import config_schema
from models.lessons import LESSONS
from models.metrics import CHARTS, METRICS
from models.presets import PRESETS
from models.sweeps import MAX_CELLS, MAX_SEEDS
from server.pools import lane
from server.status import (
    ACTIONS,
    ALL_STATUSES,
    CELL_STATUSES,
    FINAL_STATUSES,
    LIVE_STATUSES,
    PATCHABLE_STATUSES,
    SWEEP_STATUSES,
    ordered,
)

router = APIRouter(prefix="/api", tags=["meta"])


class ClusterNode(BaseModel):
    id: str
    address: str | None
    alive: bool
    cpus: float
    gpus: float


class ClusterLoss(BaseModel):
    """The last time the server lost its link to the cluster: a page opened later still learns of it."""

    at: float = Field(description="Unix time the link was lost.")
    error: str = Field(description="Why.")
    interrupted: int = Field(description="Runs that were training on the cluster then, now `interrupted`.")


class ClusterHealth(BaseModel):
    """The Ray cluster as the executor last heard from it (``GANPLAY_EXECUTOR=ray``)."""

    address: str = Field(description="What the server joins: `local` for a Ray instance of its own.")
    connected: bool
    error: str | None = Field(None, description="Why the cluster is unreachable; the server keeps trying.")
    nodes: list[ClusterNode] = []
    free_cpus: float | None = None
    free_gpus: float | None = None
    last_lost: ClusterLoss | None = Field(None, description="The last loss of the link since the server started.")


class Health(BaseModel):
    status: str
    devices: list[str]
    torch: str
    executor: str
    running: int
    queued: int
    cluster: ClusterHealth | None = Field(None, description="With the Ray executor: its cluster's nodes and room.")


class PresetOut(BaseModel):
    name: str
    title: str
    description: str
    group: str
    watch: list[str]
    effect: str | None
    config: dict[str, Any]


class Statuses(BaseModel):
    all: list[str]
    live: list[str] = Field(description="Owned by a worker or the queue: counted against the quota, stoppable.")
    final: list[str] = Field(description="A worker's last word on a run.")
    patchable: list[str] = Field(description="Live patches are accepted in these.")
    actions: dict[str, list[str]] = Field(description="pause/resume/stop → the statuses each is valid in.")


class AlertKind(BaseModel):
    kind: str
    title: str


class MetricOut(BaseModel):
    name: str
    label: str
    quality: bool
    summary: bool = Field(description="Shown beside each run in a run list.")


class SeriesOut(BaseModel):
    name: str
    label: str
    axis: str


class ChartOut(BaseModel):
    id: str
    title: str
    points: bool
    testid: str | None
    series: list[SeriesOut]


class SweepsMeta(BaseModel):
    statuses: list[str] = Field(description="A sweep's own status.")
    cell_statuses: list[str] = Field(
        description="A cell without a run: pending (waiting for quota), cancelled (stopped first), deleted (its run "
        "deleted); a cell with a run has the run's status."
    )
    max_cells: int
    max_seeds: int


class Meta(BaseModel):
    statuses: Statuses
    alerts: list[AlertKind]
    metrics: list[MetricOut]
    charts: list[ChartOut]
    sweeps: SweepsMeta


@router.get("/meta")
def meta() -> Meta:
    """The vocabulary, defined once in Python: run statuses and what each action accepts, metric labels and the
    charts grouping them, alert kinds and their titles."""
    labels = {m.name: m.label for m in METRICS}
    return Meta(
        statuses=Statuses(
            all=list(ALL_STATUSES),
            live=ordered(LIVE_STATUSES),
            final=ordered(FINAL_STATUSES),
            patchable=ordered(PATCHABLE_STATUSES),
            actions={action: ordered(allowed) for action, allowed in ACTIONS.items()},
        ),
        alerts=[AlertKind(kind=kind, title=title) for kind, title in ALERT_KINDS.items()],
        metrics=[MetricOut(name=m.name, label=m.label, quality=m.quality, summary=m.summary) for m in METRICS],
        charts=[
            ChartOut(
                id=c.id,
                title=c.title,
                points=c.points,
                testid=c.testid,
                series=[SeriesOut(name=s.name, label=labels[s.name], axis=s.axis) for s in c.series],
            )
            for c in CHARTS
        ],
        sweeps=SweepsMeta(
            statuses=list(SWEEP_STATUSES),
            cell_statuses=list(CELL_STATUSES),
            max_cells=MAX_CELLS,
            max_seeds=MAX_SEEDS,
        ),
    )


class LessonOut(BaseModel):
    name: str
    kind: str = Field(description="taxonomy, problem or fix")
    title: str
    chapter: str = Field(description="Where in the course chapter (or past it) the lesson comes from.")
    problem: list[str] = Field(description="Presets that show the problem.")
    fix: list[str] = Field(description="Presets that show the fix, to run beside the problem with the same seed.")
    sweeps: list[str] = Field(description="Sweep lessons (POST /api/sweeps {lesson}).")
    watch: list[str] = Field(description="The metrics that tell the story.")
    together: list[list[str]] = Field(
        description="Sets of presets to start at once and watch side by side (one set per dataset): a taxonomy "
        "lesson's families on the same data."
    )


@router.get("/lessons")
def lessons() -> list[LessonOut]:
    """The chapter's taxonomy, its problems, then its fixes, in the chapter's order (``models/lessons.py``)."""
    return [
        LessonOut(
            name=lesson.name,
            kind=lesson.kind,
            title=lesson.title,
            chapter=lesson.chapter,
            problem=list(lesson.problem),
            fix=list(lesson.fix),
            sweeps=list(lesson.sweeps),
            watch=list(lesson.watch),
            together=[list(names) for names in lesson.together],
        )
        for lesson in LESSONS
    ]


@router.get("/health")
async def health(request: Request) -> Health:
    """Answered in a lane of its own (``server/pools.py``), never in the threadpool the other sync routes share, so
    it still answers while a flood of other requests waits there. Not on the event loop itself either: the
    executor's lock, which the counts take, can be held while a control message waits for a busy worker."""
    return await lane(request.app, "health").run(_health, request.app.state.jobs.executor)


@cache
def _devices() -> list[str]:
    return ["cpu"] + [f"cuda:{i}" for i in range(torch.cuda.device_count())]


def _health(executor: Any) -> Health:
    return Health(
        status="ok",
        devices=_devices(),
        torch=torch.__version__,
        executor=type(executor).__name__,
        running=len(executor.running()),
        queued=len(executor.queued()),
        cluster=ClusterHealth(**executor.cluster_status()) if hasattr(executor, "cluster_status") else None,
    )


@router.get("/schema")
def schema() -> dict[str, Any]:
    """JSON schema of RunConfig: defaults, limits, help text and a ``live`` flag on every field."""
    return config_schema()


@router.get("/presets")
def presets() -> list[PresetOut]:
    return [
        PresetOut(
            name=p.name,
            title=p.title,
            description=p.description,
            group=p.group,
            watch=p.watch,
            effect=f"{p.effect}: {p.effect.text}" if p.effect else None,
            config=p.config().model_dump(mode="json"),
        )
        for p in PRESETS.values()
    ]
