"""A real local Ray cluster for tests: a head that trains nothing (it stands for the server's machine) and two
one-CPU nodes, all on loopback, as ``ray.cluster_utils.Cluster`` starts them (~7 s)."""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

#: One token for every cluster of this test process: Ray's token loader reads it once per process and keeps it.
TOKEN = secrets.token_hex(32)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def local_cluster(nodes: int = 2, client_port: int | None = None) -> Iterator[Any]:
    """Yields the started cluster; removes it and its folder, and restores the environment, when resumed. With
    ``client_port``, the head also serves Ray Client connections (``ray://127.0.0.1:PORT``) there.

    Its auth token is made here and given in the environment (Ray 2.59+ would otherwise write one under the home
    directory), as is its session folder. Node health checks call a silent node dead within ~1.5 s. The variables
    are set before Ray is imported: it reads some of them at import."""
    temp = tempfile.mkdtemp(prefix="gp-ray-", dir="/tmp")  # short: Ray's socket paths must fit in 107 bytes
    home_token = Path.home() / ".ray" / "auth_token"
    had_home_token = home_token.exists()
    env = {
        "RAY_AUTH_MODE": "token",
        "RAY_AUTH_TOKEN": TOKEN,
        "RAY_TMPDIR": temp,
        "RAY_USAGE_STATS_ENABLED": "0",
        "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",  # every node on 127.0.0.1
        "GANPLAY_RAY_SCRATCH": os.path.join(temp, "scratch"),
    }
    saved = {key: os.environ.get(key) for key in env}
    sigterm = signal.getsignal(signal.SIGTERM)  # Ray's nodes install their own: the test process gets its back
    os.environ.update(env)
    health = {"health_check_period_ms": 500, "health_check_failure_threshold": 3, "health_check_initial_delay_ms": 0}
    try:
        from ray.cluster_utils import Cluster

        cluster = Cluster()
        try:
            head: dict[str, Any] = {"ray_client_server_port": client_port} if client_port else {}
            cluster.add_node(num_cpus=0, include_dashboard=False, _system_config=health, **head)
            for _ in range(nodes):
                cluster.add_node(num_cpus=1)
            yield cluster
        finally:
            cluster.shutdown()
    finally:
        signal.signal(signal.SIGTERM, sigterm)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        shutil.rmtree(temp, ignore_errors=True)
    assert had_home_token or not home_token.exists(), f"Ray wrote {home_token}: its token setting was not honoured"
