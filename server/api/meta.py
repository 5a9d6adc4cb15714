"""Read-only facts about this server: health, the config schema, the presets."""

from __future__ import annotations

from typing import Any

import torch
from fastapi import APIRouter, Request
from pydantic import BaseModel

from models.config import config_schema
from models.presets import PRESETS

router = APIRouter(prefix="/api", tags=["meta"])


class Health(BaseModel):
    status: str
    devices: list[str]
    torch: str
    executor: str
    running: int
    queued: int


class PresetOut(BaseModel):
    name: str
    title: str
    description: str
    group: str
    watch: list[str]
    effect: str | None
    config: dict[str, Any]


@router.get("/health")
def health(request: Request) -> Health:
    devices = ["cpu"] + [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    executor = request.app.state.jobs.executor
    return Health(
        status="ok",
        devices=devices,
        torch=torch.__version__,
        executor=type(executor).__name__,
        running=len(executor.running()),
        queued=len(executor.queued()),
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
