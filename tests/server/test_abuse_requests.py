"""Abusive requests over real HTTP, against real servers with workers: dataset file paths outside the operator's data
root, uploads beyond their quotas, and bodies nested deeper than a parser can take.

Expected outcome of each: a 4xx naming the field and the reason, the same answer whatever the file named is (no
oracle), nothing created, and the server still healthy.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from websockets.sync.client import connect

from models.config import parse_config
from server.datasets_store import UploadError, list_uploads, save_upload
from server.settings import Settings
from tests.server.conftest import serve
from tests.server.test_runs_api import receive_until, ws_url
from tests.server.upload_files import npz_bytes

REPO = Path(__file__).resolve().parents[2]
PER_CLIENT = 2
POINTS = npz_bytes(x=np.random.default_rng(0).normal(size=(300, 2)))


@pytest.fixture(scope="module")
def outside(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder outside every server's data dir and root: a readable .npz, a directory, an unreadable file."""
    folder = tmp_path_factory.mktemp("outside")
    (folder / "secret.npz").write_bytes(POINTS)
    (folder / "a-dir.npz").mkdir()
    unreadable = folder / "locked.npz"
    unreadable.write_bytes(POINTS)
    unreadable.chmod(0)
    return folder


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("requests")


@pytest.fixture(scope="module")
def server(data_dir: Path) -> Iterator[str]:
    """No data root (the default: no file paths over the API); two stored uploads per client."""
    yield from serve(
        data_dir, warm_workers=1, max_concurrent=1, max_runs_per_client=20, max_uploads_per_client=PER_CLIENT
    )


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory, outside: Path) -> Path:
    """The operator's data root: one .npz, and a symlink that leads out of it."""
    folder = tmp_path_factory.mktemp("root")
    (folder / "inside.npz").write_bytes(POINTS)
    (folder / "sub").mkdir()
    (folder / "sub" / "deeper.npz").write_bytes(POINTS)
    (folder / "escape.npz").symlink_to(outside / "secret.npz")
    (folder / "escape-dir").symlink_to(outside)
    return folder


@pytest.fixture(scope="module")
def rooted(tmp_path_factory: pytest.TempPathFactory, root: Path) -> Iterator[str]:
    """A server whose operator named a data root."""
    yield from serve(tmp_path_factory.mktemp("rooted"), warm_workers=1, max_concurrent=1, data_root=root)


def run_count(server: str) -> int:
    return len(httpx.get(f"{server}/api/runs").json())


def post_run(server: str, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(f"{server}/api/runs", json=body, timeout=30)


def path_reason(response: httpx.Response) -> str:
    """The response is 422 naming ``dataset.path``; returns its reason."""
    assert response.status_code == 422, response.text
    errors = response.json()["detail"]
    assert [e["field"] for e in errors] == ["dataset.path"], errors
    return errors[0]["reason"]


def wait_status(server: str, run_id: str, statuses: set[str]) -> dict[str, Any]:
    """The run once its status is one of ``statuses``, read from its stream."""
    with connect(ws_url(server, run_id)) as ws:
        snapshot = json.loads(ws.recv(timeout=60))
        if snapshot["run"]["status"] not in statuses:
            receive_until(ws, lambda e: e["type"] == "status" and e["status"] in statuses, timeout=120)
    return httpx.get(f"{server}/api/runs/{run_id}").json()


@pytest.fixture(scope="module")
def parent(server: str) -> str:
    """A completed run with a checkpoint, to fork."""
    run = post_run(server, {"preset": "ring-vanilla", "overrides": {"steps": 20, "stream": {"checkpoint_every": 10}}})
    assert run.status_code == 201, run.text
    done = wait_status(server, run.json()["id"], {"completed", "failed"})
    assert done["status"] == "completed" and done["checkpoint_step"] is not None, done
    return done["id"]


# ----------------------------------------------------------------------------------------- dataset file paths


def path_bodies(path: str) -> dict[str, dict[str, Any]]:
    """Every way a create call can carry a dataset path."""
    return {
        "config-npz": {"config": {"steps": 10, "dataset": {"kind": "npz", "path": path}}},
        "config-fashion": {"config": {"steps": 10, "dataset": {"kind": "fashion_mnist", "path": path}}},
        "preset-nested": {"preset": "ring-vanilla", "overrides": {"dataset": {"kind": "npz", "path": path}}},
        "preset-dotted": {"preset": "ring-vanilla", "overrides": {"dataset.kind": "npz", "dataset.path": path}},
    }


def outside_paths(outside: Path, data_dir: Path) -> dict[str, str]:
    """Files outside the API's reach, existing or not, as absolute and relative paths."""
    relative = os.path.relpath(outside / "secret.npz", data_dir)
    return {
        "existing-absolute": str(outside / "secret.npz"),
        "existing-relative-to-data-dir": relative,
        "existing-dotdot": str(data_dir / ".." / relative),
        "directory": str(outside / "a-dir.npz"),
        "unreadable": str(outside / "locked.npz"),
        "missing": str(outside / "no-such.npz"),
        "missing-relative": "../../no/such.npz",
        "system-file": "/etc/passwd",
        "inside-the-data-dir": "ganplay.db",
    }


def test_without_a_data_root_every_dataset_path_over_the_api_is_422_with_one_message(
    server: str, data_dir: Path, outside: Path
):
    """npz.path and fashion_mnist.path in a config, nested or dotted preset overrides, for files that exist, do not,
    are directories or unreadable: each 422 naming dataset.path with the very same reason, and no run created."""
    before = run_count(server)
    reasons = {
        (form, label): path_reason(post_run(server, body))
        for label, path in outside_paths(outside, data_dir).items()
        for form, body in path_bodies(path).items()
    }
    assert len(set(reasons.values())) == 1, reasons
    assert "GANPLAY_DATA_ROOT" in next(iter(reasons.values()))
    assert run_count(server) == before


def test_uploaded_datasets_still_train_without_a_data_root(server: str):
    """Data over the API comes from uploads (and built-ins): an upload trains to completion."""
    made = upload(server)
    assert made.status_code == 201, made.text
    run = post_run(server, {"config": {"steps": 5, "dataset": {"kind": "upload", "id": made.json()["id"]}}})
    assert run.status_code == 201, run.text
    assert wait_status(server, run.json()["id"], {"completed", "failed"})["status"] == "completed"
    assert httpx.delete(f"{server}/api/datasets/{made.json()['id']}").status_code == 204


def test_built_in_datasets_pass_the_path_check_unchanged_without_a_data_root():
    """fashion_mnist without a path reads the server's own install: no path to refuse, the config kept as is."""
    from server.security import confine_config_paths

    for dataset in ({"kind": "fashion_mnist"}, {"kind": "ring"}, {"kind": "upload", "id": "0" * 32}):
        config = parse_config({"dataset": dataset})
        assert confine_config_paths(config, Settings()) == config


def test_fork_overrides_naming_a_file_are_422_without_a_data_root(
    server: str, parent: str, outside: Path, data_dir: Path
):
    """Every form a fork's overrides take (nested block, dotted, a dataset path beside a harmless block): 422 naming
    dataset.path, the same reason as a create's, and no run created."""
    secret = str(outside / "secret.npz")
    forms = [
        {"dataset": {"kind": "npz", "path": secret}},
        {"dataset.kind": "npz", "dataset.path": secret},
        {"dataset": {"kind": "npz", "path": "ok.npz"}, "dataset.path": secret},
        {"dataset": {"kind": "fashion_mnist", "path": str(outside)}},
        {"dataset": {"kind": "npz", "path": str(outside / "no-such.npz")}},
    ]
    create_reason = path_reason(post_run(server, path_bodies(secret)["config-npz"]))
    before = run_count(server)
    for overrides in forms:
        fork = httpx.post(f"{server}/api/runs/{parent}/fork", json={"overrides": overrides}, timeout=30)
        assert path_reason(fork) == create_reason, overrides
    assert run_count(server) == before
    plain = httpx.post(f"{server}/api/runs/{parent}/fork", json={"overrides": {"steps": 25}}, timeout=30)
    assert plain.status_code == 201, plain.text


def test_with_a_data_root_files_under_it_train_and_the_run_keeps_the_resolved_path(rooted: str, root: Path):
    """Relative (to the root, not to the server's data dir) and absolute paths under the root: 201, the stored
    config names the file's resolved absolute path (so the worker reads the file that was checked), and the runs
    complete on it."""
    runs = []
    for path, expected in (
        ("inside.npz", root / "inside.npz"),
        ("sub/../sub/deeper.npz", root / "sub" / "deeper.npz"),
        (str(root / "inside.npz"), root / "inside.npz"),
    ):
        run = post_run(
            rooted, {"preset": "ring-vanilla", "overrides": {"steps": 10, "dataset.kind": "npz", "dataset.path": path}}
        )
        assert run.status_code == 201, run.text
        assert run.json()["config"]["dataset"]["path"] == str(expected.resolve())
        runs.append(run.json()["id"])
    for run_id in runs:
        done = wait_status(rooted, run_id, {"completed", "failed"})
        assert done["status"] == "completed", done


def test_with_a_data_root_paths_leading_out_of_it_are_422_with_one_message(rooted: str, root: Path, outside: Path):
    """``..``, absolute paths elsewhere, and symlinks inside the root that lead out (to a file or a folder): 422
    naming dataset.path, one reason for all, whether the target exists or not; no run created."""
    before = run_count(rooted)
    paths = [
        "../outside.npz",
        str(outside / "secret.npz"),
        str(outside / "no-such.npz"),
        "escape.npz",
        "escape-dir/secret.npz",
        "escape-dir/no-such.npz",
        str(root) + "-sibling/inside.npz",
        "sub/../../inside.npz",
        "inside.npz\x00.txt",
    ]
    reasons = {path: path_reason(post_run(rooted, path_bodies(path)["config-npz"])) for path in paths}
    assert len(set(reasons.values())) == 1, reasons
    assert run_count(rooted) == before


def test_with_a_data_root_a_fork_may_switch_to_a_file_under_it(rooted: str, root: Path):
    """A fork's relative path is resolved against the root and stored absolute; one leading out is 422."""
    run = post_run(rooted, {"preset": "ring-vanilla", "overrides": {"steps": 20, "stream": {"checkpoint_every": 10}}})
    done = wait_status(rooted, run.json()["id"], {"completed", "failed"})
    assert done["status"] == "completed", done
    fork = httpx.post(
        f"{rooted}/api/runs/{done['id']}/fork",
        json={"overrides": {"dataset.kind": "npz", "dataset.path": "sub/deeper.npz"}},
        timeout=30,
    )
    assert fork.status_code == 201, fork.text
    assert fork.json()["config"]["dataset"]["path"] == str((root / "sub" / "deeper.npz").resolve())
    refused = httpx.post(
        f"{rooted}/api/runs/{done['id']}/fork",
        json={"overrides": {"dataset": {"kind": "npz", "path": "escape.npz"}}},
        timeout=30,
    )
    path_reason(refused)


def test_the_cli_still_trains_on_a_file_anywhere(outside: Path, tmp_path: Path):
    """Paths are confined over the API only: the command line reads any file its user can."""
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "server.cli",
            "train",
            "--preset",
            "ring-vanilla",
            "--steps",
            "5",
            "--threads",
            "1",
            "--json",
            "-q",
            "--set",
            "dataset.kind=npz",
            "--set",
            f"dataset.path={outside / 'secret.npz'}",
            "--out",
            str(tmp_path / "out"),
            "--data-dir",
            str(tmp_path / "data"),
        ],
        cwd=REPO,
        env=os.environ | {"PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads((tmp_path / "out" / "config.json").read_text())["dataset"]["path"] == str(outside / "secret.npz")


# ----------------------------------------------------------------------------------------- upload quotas


def upload(server: str, name: str = "p.npz") -> httpx.Response:
    return httpx.post(f"{server}/api/datasets", files={"file": (name, POINTS)}, timeout=30)


def stored_files(data_dir: Path) -> list[str]:
    folder = data_dir / "datasets"
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_uploads_beyond_the_per_client_quota_are_429_and_deleting_one_frees_its_place(server: str, data_dir: Path):
    """A client's third stored upload (max_uploads_per_client = 2) is 429 naming the setting, nothing stored;
    DELETE removes one (204: unlisted, its files gone), after which the client may upload again."""
    for existing in httpx.get(f"{server}/api/datasets").json():
        httpx.delete(f"{server}/api/datasets/{existing['id']}")
    first, second = upload(server), upload(server)
    assert first.status_code == second.status_code == 201, (first.text, second.text)
    before = stored_files(data_dir)
    over = upload(server)
    assert over.status_code == 429, over.text
    [error] = over.json()["detail"]
    assert error["field"] == "file" and "max_uploads_per_client" in error["reason"]
    assert stored_files(data_dir) == before
    listing = httpx.get(f"{server}/api/datasets").json()
    assert "client" not in listing[0]  # the quota's bookkeeping is not published

    gone = first.json()["id"]
    assert httpx.delete(f"{server}/api/datasets/{gone}").status_code == 204
    assert gone not in [d["id"] for d in httpx.get(f"{server}/api/datasets").json()]
    assert not any(name.startswith(gone) for name in stored_files(data_dir))
    assert upload(server).status_code == 201


@pytest.mark.parametrize("dataset_id", ["0" * 32, "not-an-id", "%2e%2e", "A" * 32, "0" * 31 + "g"])
def test_deleting_an_unknown_dataset_is_404_and_touches_nothing(server: str, data_dir: Path, dataset_id: str):
    before = stored_files(data_dir)
    response = httpx.delete(f"{server}/api/datasets/{dataset_id}")
    assert response.status_code == 404, response.text
    assert stored_files(data_dir) == before and (data_dir / "ganplay.db").exists()


def test_deleting_a_dataset_twice_is_204_then_404(server: str):
    for existing in httpx.get(f"{server}/api/datasets").json():
        httpx.delete(f"{server}/api/datasets/{existing['id']}")
    made = upload(server)
    assert made.status_code == 201, made.text
    assert httpx.delete(f"{server}/api/datasets/{made.json()['id']}").status_code == 204
    assert httpx.delete(f"{server}/api/datasets/{made.json()['id']}").status_code == 404


def test_a_full_store_refuses_new_uploads_with_507_naming_the_limit(tmp_path: Path):
    """max_uploads = 1: the second upload is 507 naming max_uploads (kept uploads are never evicted), nothing
    stored; deleting the first makes room."""
    for base in serve(tmp_path / "data", warm_workers=0, max_uploads=1):
        first = upload(base)
        assert first.status_code == 201, first.text
        full = upload(base)
        assert full.status_code == 507, full.text
        assert "max_uploads" in full.json()["detail"][0]["reason"]
        assert [d["id"] for d in httpx.get(f"{base}/api/datasets").json()] == [first.json()["id"]]
        assert httpx.delete(f"{base}/api/datasets/{first.json()['id']}").status_code == 204
        assert upload(base).status_code == 201


def test_the_store_counts_each_client_apart_and_all_of_them_together(tmp_path: Path):
    """One client at its quota does not stop another; the total stops everyone."""
    from server.datasets_store import UploadQuota

    def save(client: str) -> None:
        save_upload(tmp_path, "p.npz", POINTS, 2**20, UploadQuota(client, per_client=1, total=2))

    save("a")
    with pytest.raises(UploadError) as own:
        save("a")
    assert own.value.status_code == 429
    save("b")
    with pytest.raises(UploadError) as full:
        save("c")
    assert full.value.status_code == 507
    assert sorted(m["client"] for m in list_uploads(tmp_path)) == ["a", "b"]


def test_uploads_racing_for_the_last_place_store_exactly_one(tmp_path: Path):
    """Eight uploads at once with room for one: one stored, seven refused; the count and the write are one step."""
    from server.datasets_store import UploadQuota

    start = threading.Barrier(8)
    outcomes: list[int] = []

    def attempt(i: int) -> None:
        start.wait()
        try:
            save_upload(tmp_path, f"{i}.npz", POINTS, 2**20, UploadQuota(f"client-{i}", 5, 1))
            outcomes.append(201)
        except UploadError as e:
            outcomes.append(e.status_code)

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(outcomes) == [201] + [507] * 7
    assert len(list_uploads(tmp_path)) == 1


# ----------------------------------------------------------------------------------------- deeply nested bodies


def nested_object(depth: int) -> str:
    return '{"a":' * depth + "1" + "}" * depth


DEPTHS = [100, 900, 950, 960, 970, 980, 990, 1000, 2000, 100_000]


def test_a_deeply_nested_json_upload_is_a_4xx_not_a_500(server: str, data_dir: Path):
    """``[`` 100 000 times as a JSON body and as a .json file: 422 naming the file, nothing stored."""
    before = stored_files(data_dir)
    for existing in httpx.get(f"{server}/api/datasets").json():
        httpx.delete(f"{server}/api/datasets/{existing['id']}")
    body = httpx.post(
        f"{server}/api/datasets", content=b"[" * 100_000, headers={"content-type": "application/json"}, timeout=30
    )
    as_file = httpx.post(f"{server}/api/datasets", files={"file": ("deep.json", b"[" * 100_000)}, timeout=30)
    for response in (body, as_file):
        assert response.status_code == 422, response.text
        assert response.json()["detail"][0]["field"] == "file"
    assert set(stored_files(data_dir)) <= set(before)
    assert httpx.get(f"{server}/api/health").json()["status"] == "ok"


def test_deeply_nested_run_bodies_are_4xx_at_every_depth(server: str, parent: str):
    """Create (a nested list, nested overrides), fork and patch (nested objects) at depths around and far beyond
    the interpreter's recursion limit: each a 4xx, never a 500; no run created; the server healthy."""
    before = run_count(server)
    live = post_run(server, {"preset": "ring-vanilla", "overrides": {"steps": 10_000_000}}).json()["id"]
    wait_status(server, live, {"running"})
    headers = {"content-type": "application/json"}
    bad: list[tuple[str, int, int]] = []
    for depth in DEPTHS:
        calls = [
            ("create-list", "POST", "/api/runs", "[" * depth),
            ("create", "POST", "/api/runs", f'{{"preset": "ring-vanilla", "overrides": {nested_object(depth)}}}'),
            ("fork", "POST", f"/api/runs/{parent}/fork", f'{{"overrides": {nested_object(depth)}}}'),
            ("patch", "PATCH", f"/api/runs/{live}/config", nested_object(depth)),
        ]
        for label, method, path, content in calls:
            status = httpx.request(method, server + path, content=content, headers=headers, timeout=60).status_code
            if not 400 <= status < 500:
                bad.append((label, depth, status))
    assert bad == []
    assert run_count(server) == before + 1
    assert httpx.get(f"{server}/api/runs/{live}").json()["status"] == "running"
    assert httpx.get(f"{server}/api/health").json()["status"] == "ok"
    assert httpx.post(f"{server}/api/runs/{live}/stop").status_code == 202
    wait_status(server, live, {"stopped"})


def test_a_recursion_error_escaping_any_route_is_a_400_naming_the_body(tmp_path: Path):
    """Whatever code a deep body reaches after the parser took it (a recursive walk over a patch, say) answers 400
    naming the body, not 500: here a route of the real app that walks its body recursively."""
    from fastapi.testclient import TestClient

    from server.app import create_app

    app = create_app(Settings(data_dir=tmp_path))

    @app.post("/api/test-recursion")
    def recurse(body: dict[str, Any]) -> int:
        def walk(node: Any) -> int:
            return 1 + max((walk(v) for v in node.values()), default=0) if isinstance(node, dict) else 0

        return walk(body)

    app.router.routes.insert(0, app.router.routes.pop())  # ahead of the page mounted at /
    client = TestClient(app, base_url="http://127.0.0.1", raise_server_exceptions=False)
    headers = {"content-type": "application/json"}
    shallow = client.post("/api/test-recursion", content=nested_object(3), headers=headers)
    assert shallow.status_code == 200 and shallow.json() == 3, shallow.text
    deep = client.post("/api/test-recursion", content=nested_object(600), headers=headers)  # parses; the walk cannot
    assert deep.status_code == 400, deep.text
    assert deep.json()["detail"] == [{"field": "body", "reason": "nested too deeply"}]
