"""The FastAPI app factory: routers under /api, the static web page at /."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from server.api import meta
from server.settings import Settings, get_settings


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        yield

    app = FastAPI(title="ganplay", version="0.1.0", lifespan=lifespan)
    app.state.settings = settings
    app.include_router(meta.router)
    app.mount("/", StaticFiles(directory=settings.web_dir, html=True), name="web")
    return app
