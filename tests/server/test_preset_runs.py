"""GET /api/presets/runs: the stored run that may stand for each preset's picture, over a real server."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.server.conftest import serve, wait_until_completed
from tests.server.test_runs_api import create


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from serve(tmp_path_factory.mktemp("preset-runs"), warm_workers=1, max_concurrent=1)


def test_a_presets_picture_comes_from_a_run_of_that_very_setup_never_a_changed_one(server: str):
    same = create(server, preset="ring-ae", overrides={"steps": 200, "seed": 4})  # seed and length: the same setup
    wait_until_completed(server, same["id"])
    changed = create(server, preset="ring-ae", overrides={"steps": 400, "model.hidden": 32})  # trained further
    wait_until_completed(server, changed["id"])
    fork = httpx.post(f"{server}/api/runs/{same['id']}/fork", json={}, timeout=30)
    assert fork.status_code == 201, fork.text
    wait_until_completed(server, fork.json()["id"])

    response = httpx.get(f"{server}/api/presets/runs", params={"names": "ring-ae,ring-made,ring-ae"}, timeout=30)
    assert response.status_code == 200, response.text
    found = response.json()
    assert [f["preset"] for f in found] == ["ring-ae", "ring-made"]  # in the order asked, each once
    assert found[0]["run"]["id"] == same["id"] and found[0]["run"]["checkpoint_step"] == 200
    assert found[1]["run"] is None


@pytest.mark.parametrize("names", ["ring-ae,ring-vanila", "", ",", "x" * 5000])
def test_unknown_or_missing_preset_names_are_422_naming_the_field(server: str, names: str):
    response = httpx.get(f"{server}/api/presets/runs", params={"names": names}, timeout=30)
    assert response.status_code == 422, response.text
    fields = [d.get("field") or d.get("loc", [None])[-1] for d in response.json()["detail"]]
    assert "names" in fields
