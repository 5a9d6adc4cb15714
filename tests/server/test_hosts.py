"""The Host check (DNS rebinding) and the cross-site rule for mutating calls, over real HTTP and websockets.

A page on ``evil.example`` whose name an attacker rebinds to 127.0.0.1 is same-origin with this server in the
browser's eyes: its requests carry ``Host: evil.example:PORT`` and a matching ``Origin``, so only the Host header
gives it away. A page that is merely foreign can still send "simple" requests (form posts, multipart uploads) to
any site: those carry its ``Origin`` (and ``Sec-Fetch-Site: cross-site``), which mutating routes must refuse.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from server.settings import Settings
from tests.server.conftest import api_routes, serve
from tests.server.test_runs_api import receive_until
from tests.server.upload_files import npz_bytes

NAMED = "ganplay.example"  # in allowed_hosts without a port: any port
PINNED = "pinned.example:8899"  # in allowed_hosts with its port: that port only
TRUSTED_ORIGIN = "http://trusted.example:3000"  # in allowed_origins


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("hosts")


@pytest.fixture(scope="module")
def server(data_dir: Path) -> Iterator[str]:
    """No token: what a foreign page can do is then limited by the Host and Origin checks alone."""
    yield from serve(
        data_dir,
        warm_workers=1,
        max_concurrent=1,
        allowed_hosts=[NAMED, PINNED],
        allowed_origins=[TRUSTED_ORIGIN],
        max_runs_per_client=50,
    )


@pytest.fixture(scope="module")
def run_id(server: str) -> Iterator[str]:
    """A live run (it trains for a long time) that the tests may stream and try to stop."""
    body = {"preset": "ring-vanilla", "overrides": {"steps": 10_000_000}}
    run = httpx.post(f"{server}/api/runs", json=body, timeout=30)
    assert run.status_code == 201, run.text
    run_id = run.json()["id"]
    with connect(f"{server.replace('http://', 'ws://')}/api/runs/{run_id}/stream") as ws:
        receive_until(ws, lambda e: e.get("status") == "running" or e.get("run", {}).get("status") == "running")
    yield run_id
    httpx.post(f"{server}/api/runs/{run_id}/stop", timeout=30)


def port_of(server: str) -> int:
    return int(server.rsplit(":", 1)[1])


def allowed_host_headers(port: int) -> list[str]:
    return [
        f"127.0.0.1:{port}",
        f"localhost:{port}",
        "localhost",
        "localhost:1",
        f"[::1]:{port}",
        f"LocalHost:{port}",
        f"localhost.:{port}",
        NAMED,
        f"{NAMED}:443",
        f"{NAMED.upper()}:{port}",
        PINNED,
    ]


REFUSED_HOST_HEADERS = [
    "evil.example:8899",
    "evil.example",
    "pinned.example:8900",
    "pinned.example",
    "127.0.0.1.evil.example",
    "localhost.evil.example:8000",
    f"{NAMED}.evil.example",
    f"evil.{NAMED}",
    "127.0.0.2",
    "[::2]:8000",
    "localhost:80:80",
    "localhost:http",
    "[::1",
    "evil.example:8899@127.0.0.1",
    "",
]


# ----------------------------------------------------------------------------------------- Host, REST


def test_rest_calls_naming_an_allowed_host_are_answered(server: str):
    """Loopback names with any port, the configured names (any port, or their pinned one): 200 for the API and the
    page, whatever the case of the name or a trailing dot."""
    for host in allowed_host_headers(port_of(server)):
        for path in ("/api/runs", "/"):
            response = httpx.get(server + path, headers={"Host": host})
            assert response.status_code == 200, (host, path, response.text)


@pytest.mark.parametrize("host", REFUSED_HOST_HEADERS)
def test_rest_calls_naming_another_host_are_400_with_a_reason(server: str, data_dir: Path, host: str):
    """A rebound name (or anything that is not an allowed name): 400 naming ``host`` for reads, the page and
    mutating calls alike; nothing is created."""
    before = len(httpx.get(f"{server}/api/runs").json())
    for method, path in (("GET", "/api/runs"), ("GET", "/"), ("POST", "/api/runs"), ("POST", "/api/datasets")):
        body = {"preset": "ring-vanilla", "overrides": {"steps": 10}}
        response = httpx.request(method, server + path, json=body, headers={"Host": host})
        assert response.status_code == 400, (method, path, response.text)
        [error] = response.json()["detail"]
        assert error["field"] == "host" and "GANPLAY_ALLOWED_HOSTS" in error["reason"]
    assert len(httpx.get(f"{server}/api/runs").json()) == before
    assert not (data_dir / "datasets").exists() or list((data_dir / "datasets").iterdir()) == []


def test_a_request_without_a_host_header_is_400(server: str):
    """HTTP/1.0 lets a client leave Host out; such a request names no host this server answers to."""
    with socket.create_connection(("127.0.0.1", port_of(server)), timeout=30) as sock:
        sock.sendall(b"GET /api/runs HTTP/1.0\r\n\r\n")
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    assert answer.split(b"\r\n", 1)[0].split()[1] == b"400", answer[:200]
    assert json.loads(answer.partition(b"\r\n\r\n")[2])["detail"][0]["field"] == "host"


def test_allowed_hosts_star_answers_any_host_and_the_bind_address_is_answered():
    """``*`` turns the check off (behind a proxy that checks); a bind address that names a host is answered, one
    that names every interface (0.0.0.0, ::) is not a name; IPv6 bind addresses are matched bracketed."""
    from server.security import host_ok

    assert host_ok(Settings(allowed_hosts=["*"]), "anything.example:1")
    assert host_ok(Settings(host="192.0.2.7"), "192.0.2.7:8000")
    assert host_ok(Settings(host="fe80::1"), "[fe80::1]:8000")
    assert not host_ok(Settings(host="0.0.0.0"), "0.0.0.0:8000")
    assert not host_ok(Settings(host="::"), "[::]:8000")
    assert not host_ok(Settings(), "192.0.2.7:8000")


def test_allowed_hosts_is_read_comma_separated_or_as_json_from_the_environment(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("GANPLAY_ALLOWED_HOSTS", "a.example, [::1]:8000,b.example:80")
    assert Settings().allowed_hosts == ["a.example", "[::1]:8000", "b.example:80"]
    monkeypatch.setenv("GANPLAY_ALLOWED_HOSTS", '["c.example"]')
    assert Settings().allowed_hosts == ["c.example"]


# ----------------------------------------------------------------------------------------- Host × Origin, websocket


def open_stream(server: str, run_id: str, host: str, origin: str | None) -> str:
    """Open the run's stream over a socket to this server while the handshake names ``host`` (as a rebound page's
    would); 'snapshot' when admitted and streaming, else 'refused <status>'."""
    sock = socket.create_connection(("127.0.0.1", port_of(server)), timeout=30)
    try:
        with connect(f"ws://{host}/api/runs/{run_id}/stream", sock=sock, origin=origin, open_timeout=30) as ws:
            return json.loads(ws.recv(timeout=30))["type"]
    except InvalidStatus as e:
        return f"refused {e.response.status_code}"
    finally:
        sock.close()


def websocket_cases(port: int) -> list[tuple[str, str | None, str]]:
    """(Host, Origin, expected): the Host decides first (400 at the handshake), then the Origin (403)."""
    local = f"127.0.0.1:{port}"
    return [
        (local, None, "snapshot"),  # a script, not a browser
        (local, f"http://{local}", "snapshot"),  # our own page
        (f"localhost:{port}", f"http://localhost:{port}", "snapshot"),
        (f"{NAMED}:{port}", f"http://{NAMED}:{port}", "snapshot"),  # a configured name, its own page
        (local, TRUSTED_ORIGIN, "snapshot"),  # an allowed origin
        (local, "http://evil.example:8899", "refused 403"),  # a foreign page
        (local, "null", "refused 403"),
        ("evil.example:8899", "http://evil.example:8899", "refused 400"),  # DNS rebinding: same-origin by name
        ("evil.example:8899", None, "refused 400"),
        ("evil.example:8899", f"http://{local}", "refused 400"),
        ("pinned.example:8900", "http://pinned.example:8900", "refused 400"),
    ]


def test_websocket_host_and_origin_matrix(server: str, run_id: str):
    """Each (Host, Origin) pair is admitted (snapshot sent) or refused at the handshake as the matrix says."""
    outcomes = {
        (host, origin): open_stream(server, run_id, host, origin)
        for host, origin, _ in websocket_cases(port_of(server))
    }
    expected = {(host, origin): want for host, origin, want in websocket_cases(port_of(server))}
    assert outcomes == expected


def test_rest_host_and_origin_matrix_for_a_read_and_a_mutating_call(server: str, run_id: str):
    """The same pairs over REST: a read is refused only for its Host (a foreign page cannot read the answer anyway);
    a mutating call (here a patch the run accepts) also for a foreign Origin."""
    port = port_of(server)
    for host, origin, want in websocket_cases(port):
        headers = {"Host": host} | ({"Origin": origin} if origin else {})
        read = httpx.get(f"{server}/api/runs/{run_id}", headers=headers)
        patch = httpx.patch(f"{server}/api/runs/{run_id}/config", json={"train": {"lr_g": 1e-4}}, headers=headers)
        status = {"snapshot": (200, 202), "refused 403": (200, 403), "refused 400": (400, 400)}[want]
        assert (read.status_code, patch.status_code) == status, (host, origin, read.text, patch.text)


# ----------------------------------------------------------------------------------------- cross-site


FORGED = {
    "foreign-origin": {"Origin": "http://evil.example"},
    "foreign-origin-same-host-other-port": {"Origin": "http://127.0.0.1:1"},
    "null-origin": {"Origin": "null"},
    "https-foreign-origin": {"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"},
    "sec-fetch-site-cross-site-without-origin": {"Sec-Fetch-Site": "cross-site"},
}


@pytest.mark.parametrize(("method", "path"), api_routes(mutating=True))
@pytest.mark.parametrize("headers", list(FORGED.values()), ids=list(FORGED))
def test_every_mutating_route_refuses_a_request_a_foreign_page_could_forge(
    server: str, run_id: str, data_dir: Path, method: str, path: str, headers: dict
):
    """A foreign (or "null") Origin, or Sec-Fetch-Site: cross-site, on any mutating route: 403 naming ``origin``;
    the run keeps running and nothing is stored."""
    url = server + path.replace("{run_id}", run_id).replace("{action}", "stop").replace("{dataset_id}", "0" * 32)
    runs = len(httpx.get(f"{server}/api/runs").json())
    body = {"preset": "ring-vanilla", "overrides": {"steps": 10}}
    response = httpx.request(method, url, json=body, headers=headers)
    assert response.status_code == 403, response.text
    [error] = response.json()["detail"]
    assert error["field"] == "origin" and "cross-site" in error["reason"]
    assert len(httpx.get(f"{server}/api/runs").json()) == runs
    assert httpx.get(f"{server}/api/runs/{run_id}").json()["status"] in ("queued", "starting", "running")


def test_a_foreign_pages_simple_form_post_cannot_stop_a_run_or_upload(server: str, run_id: str, data_dir: Path):
    """The two attacks as a browser sends them: a form post to /stop and a multipart upload, each with the foreign
    page's Origin and Sec-Fetch-Site. Both 403; the run still trains and no dataset is stored."""
    forged = {"Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "no-cors"}
    stop = httpx.post(
        f"{server}/api/runs/{run_id}/stop",
        content=b"",
        headers=forged | {"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert stop.status_code == 403, stop.text
    upload = httpx.post(
        f"{server}/api/datasets", files={"file": ("p.npz", npz_bytes(x=np.zeros((10, 2))))}, headers=forged
    )
    assert upload.status_code == 403, upload.text
    assert httpx.get(f"{server}/api/datasets").json() == []
    assert httpx.get(f"{server}/api/runs/{run_id}").json()["status"] in ("queued", "starting", "running")


def test_own_page_allowed_origins_and_clients_without_an_origin_may_still_mutate(server: str):
    """Same-origin (the page's Origin and Sec-Fetch-Site: same-origin), an allowed origin's page (cross-site, but
    its Origin vouches for it), and non-browser clients (no Origin, no Sec-Fetch-Site): each creates a run and
    stops it."""
    own = {"Origin": server, "Sec-Fetch-Site": "same-origin"}
    for headers in (own, {"Origin": TRUSTED_ORIGIN, "Sec-Fetch-Site": "cross-site"}, {}):
        body = {"preset": "ring-vanilla", "overrides": {"steps": 10_000_000}}
        created = httpx.post(f"{server}/api/runs", json=body, headers=headers, timeout=30)
        assert created.status_code == 201, (headers, created.text)
        stopped = httpx.post(f"{server}/api/runs/{created.json()['id']}/stop", headers=headers)
        assert stopped.status_code == 202, (headers, stopped.text)
