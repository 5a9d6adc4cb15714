"""Typed server settings, read from ``GANPLAY_*`` environment variables; tests override ``get_settings``."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

MAX_SAMPLES_BYTES = 32 * 2**20  # default bound of one samples response
SNAPSHOTS_PER_RUN = 200  # default count of image snapshots kept on disk per run


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GANPLAY_", extra="ignore")

    host: str = Field("127.0.0.1", description="Bind address; loopback unless told otherwise.")
    port: int = Field(8000, ge=0, le=65535)
    data_dir: Path = Field(Path("data"), description="SQLite database, checkpoints, caches.")
    web_dir: Path = Field(Path(__file__).resolve().parent.parent / "web", description="The static web page.")
    database_url: str | None = Field(None, description="SQLAlchemy URL; default SQLite under data_dir.")
    max_concurrent: int | None = Field(
        None, ge=1, le=64, description="Runs training at once; default cores // 2, at least 2 on 2 cores."
    )
    warm_workers: int = Field(1, ge=0, le=16, description="Pre-started idle workers (torch already imported).")
    executor: Literal["local", "ray"] = Field(
        "local",
        description="Where runs train: `local` worker processes on this machine, or `ray` actors on a Ray cluster "
        '(README, "Executors").',
    )
    ray_address: str | None = Field(
        None,
        description="The Ray cluster the `ray` executor joins (`ray://head:10001`, `auto`); unset: a local Ray "
        "instance started with the server.",
    )
    ray_cpus_per_run: int = Field(
        1, ge=1, le=64, description="CPUs each run's Ray actor reserves; also its torch threads."
    )
    ray_gpus_per_run: float = Field(
        1.0,
        gt=0,
        le=1,
        description="Share of a GPU each CUDA run's Ray actor reserves: 0.25 lets four small runs share one GPU.",
    )
    ws_compression: bool = Field(
        False,
        description="permessage-deflate on websocket streams: field frames shrink for remote viewers, "
        "but each viewer then costs server CPU per frame (README, benchmarks/fanout.py); off "
        "because the server binds loopback by default.",
    )
    token: str | None = Field(
        None, description="The shared token of `auth=token`: every mutating call and every websocket needs it."
    )
    auth: Literal["none", "token", "users"] | None = Field(
        None,
        description="Who may use the API. `none`: anyone who reaches it; `token`: the shared `token` on every "
        "mutating call and websocket (reads open); `users`: every REST call (reads too; `/api/health` stays open) "
        "and websocket needs a user's own token (`ganplay users add NAME`), runs, sweeps and uploads have owners, "
        "and quotas count per user. Unset: `token` when `token` is set, else `none` (what earlier versions did).",
    )
    watch: Literal["everyone", "owners"] = Field(
        "everyone",
        description="With `auth=users`, who may watch a run (detail, stream, metrics, samples, export, fork) or a "
        "sweep: everyone signed in, or only its owner and admins (plus runs an admin shares with the class).",
    )
    allowed_origins: list[str] = Field(
        default_factory=list,
        description="Extra origins (scheme://host:port) whose pages may open websockets and send mutating calls.",
    )
    allowed_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Host header names answered besides loopback (127.0.0.1, localhost, [::1]) and `host`, "
        "comma-separated; `name` allows any port, `name:port` one; `*` allows any (behind a proxy that checks).",
    )
    data_root: Path | None = Field(
        None,
        description="Directory whose files a config may name over the API (dataset.path of npz and "
        "fashion_mnist); unset: the API takes no file paths, only built-in and uploaded datasets.",
    )
    max_upload_bytes: int = Field(50 * 2**20, ge=1024, le=2**31, description="Largest dataset upload accepted.")
    max_uploads: int = Field(200, ge=1, le=100_000, description="Uploaded datasets stored at once (507 beyond).")
    max_uploads_per_client: int = Field(20, ge=1, le=100_000, description="Stored uploads per client (429 beyond).")
    max_runs_per_client: int = Field(
        8,
        ge=1,
        le=1000,
        description="Live (queued/running/paused) runs per client: per user with `auth=users`, else per address "
        "(as are the other per-client quotas).",
    )
    max_sweeps_per_client: int = Field(
        4,
        ge=1,
        le=1000,
        description="Sweeps per client with a cell waiting or live (429 beyond); their runs count "
        "against max_runs_per_client, and cells past it wait until the client's runs end.",
    )
    max_samples_bytes: int = Field(
        MAX_SAMPLES_BYTES,
        ge=2**16,
        le=2**32,
        description="Largest samples response (413 beyond, naming the n that fits).",
    )
    snapshots_per_run: int = Field(
        SNAPSHOTS_PER_RUN,
        ge=2,
        le=100_000,
        description="Image sample grids kept per run; older ones are thinned evenly.",
    )

    @model_validator(mode="after")
    def _auth_mode(self) -> Settings:
        """Fill in the default ``auth`` and refuse settings that contradict it: a shared token that would be
        silently ignored, or a watch restriction without users to restrict."""
        if self.auth is None:
            self.auth = "token" if self.token else "none"
        if self.auth == "token" and not self.token:
            raise ValueError("GANPLAY_AUTH=token needs GANPLAY_TOKEN (the shared token)")
        if self.auth != "token" and self.token:
            raise ValueError(
                f"GANPLAY_TOKEN is set but GANPLAY_AUTH={self.auth} ignores it: unset it, or use GANPLAY_AUTH=token "
                "(with users, each person has a token of their own: ganplay users add NAME)"
            )
        if self.watch == "owners" and self.auth != "users":
            raise ValueError("GANPLAY_WATCH=owners needs GANPLAY_AUTH=users: without users no run has an owner")
        return self

    @field_validator("allowed_hosts", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        """``a.example,b.example:8000`` (the form an environment variable takes) or a JSON list of names."""
        if isinstance(value, str):
            text = value.strip()
            if text.startswith('["') or text == "[]":
                return json.loads(text)
            return [part.strip() for part in text.split(",") if part.strip()]
        return value


@lru_cache
def get_settings() -> Settings:
    return Settings()
