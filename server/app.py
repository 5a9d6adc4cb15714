"""The FastAPI app factory: routers under /api, the static web page at /."""

from __future__ import annotations

import asyncio
import importlib.util
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from server.api import artifacts, datasets, meta, preset_runs, runs, stream, sweeps, users
from server.api.errors import database_unavailable
from server.db.engine import DATABASE_ERRORS, make_engine, make_session_factory, sqlite_url
from server.db.migrate import upgrade
from server.executor import Executor, LocalExecutor, default_max_concurrent
from server.hub import Hub
from server.jobs import JobManager
from server.limits import UploadLimitMiddleware
from server.ray_executor import RayExecutor
from server.samples import GeneratorCache
from server.security import HostAndSiteMiddleware, TokenMiddleware, nested_too_deeply
from server.settings import Settings, get_settings


def make_executor(settings: Settings, gpus: int) -> Executor:
    """The executor the settings name (README, "Executors"): worker processes here, or actors on a Ray cluster."""
    cores = os.cpu_count() or 1
    if settings.executor == "ray":
        if importlib.util.find_spec("ray") is None:
            raise RuntimeError("GANPLAY_EXECUTOR=ray needs Ray: pip install 'ganplay[ray]'")
        return RayExecutor(
            settings.ray_address,
            cpus_per_run=settings.ray_cpus_per_run,
            gpu_fraction=settings.ray_gpus_per_run,
            warm=settings.warm_workers,
            max_concurrent=settings.max_concurrent,
            local_cpus=max(1, cores - 1),  # a Ray instance of its own leaves a core to the server, as locally
            local_gpus=gpus,
        )
    return LocalExecutor(
        max_concurrent=settings.max_concurrent or default_max_concurrent(cores),
        warm=settings.warm_workers,
        cores=cores,
        gpus=gpus,
    )


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        import torch

        settings.data_dir.mkdir(parents=True, exist_ok=True)
        url = settings.database_url or sqlite_url(settings.data_dir)
        upgrade(url)
        engine = make_engine(url)
        executor = make_executor(settings, torch.cuda.device_count())
        app.state.hub = Hub(asyncio.get_running_loop())
        app.state.generators = GeneratorCache()
        app.state.jobs = JobManager(
            executor,
            make_session_factory(engine),
            app.state.hub,
            settings.data_dir,
            settings.max_runs_per_client,
            snapshots_per_run=settings.snapshots_per_run,
            max_sweeps_per_client=settings.max_sweeps_per_client,
        )
        app.state.jobs.start()
        try:
            yield
        finally:
            app.state.jobs.close()
            engine.dispose()

    app = FastAPI(title="ganplay", version="0.1.0", lifespan=lifespan)
    app.state.settings = settings
    for error in DATABASE_ERRORS:
        app.add_exception_handler(error, database_unavailable)
    app.add_exception_handler(RecursionError, nested_too_deeply)
    app.add_middleware(TokenMiddleware)
    app.add_middleware(UploadLimitMiddleware)  # counts the bytes as they arrive, before anything inside reads them
    app.add_middleware(HostAndSiteMiddleware)  # outermost: a foreign Host or a forged request goes no further
    app.include_router(meta.router)
    app.include_router(preset_runs.router)
    app.include_router(artifacts.router)
    app.include_router(datasets.router)
    app.include_router(runs.router)
    app.include_router(sweeps.router)
    app.include_router(stream.router)
    app.include_router(users.router)
    app.mount("/", StaticFiles(directory=settings.web_dir, html=True), name="web")
    return app
