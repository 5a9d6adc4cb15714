"""The latent space of AE and VAE runs through the real server: a 2D run's field frames and an image run's sample
frames carry each data point's code (a binary array) and what the page needs to draw it; other families' frames
carry none."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from websockets.sync.client import connect

from server.wire import decode, header
from tests.server.conftest import serve
from tests.server.test_runs_api import create, ws_url

SLOW = {"samples_every": 10, "max_steps_per_second": 100}  # the run outlasts the connection: every frame is seen


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from serve(tmp_path_factory.mktemp("latent"), warm_workers=1, max_concurrent=1)


def frames_of(server: str, body: dict[str, Any], kind: str) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """Each ``kind`` frame of a run up to its completion, as (header, event): the header says which fields
    travelled as binary arrays."""
    run = create(server, **body)
    out = []
    with connect(ws_url(server, run["id"])) as ws:
        ws.recv(timeout=30)  # the snapshot
        while True:
            message = ws.recv(timeout=120)
            event = decode(message)
            if event["type"] == kind:
                out.append((header(message), event))
            if event["type"] == "status" and event["status"] in ("completed", "failed"):
                assert event["status"] == "completed", event
                return out


def arrays(head: dict[str, Any]) -> dict[str, list[int]]:
    return {a["name"]: a["shape"] for a in head["arrays"]}


def test_a_ring_vae_runs_field_frames_carry_its_codes_labelled_by_mode(server: str):
    frames = frames_of(server, {"preset": "ring-vae", "overrides": {"steps": 40, "stream": SLOW}}, "field")
    assert frames
    for head, event in frames:
        assert arrays(head)["latent"] == [512, 2]  # binary, beside D's grid and the samples
        info = event["latent_info"]
        assert info["axes"] == ["z1", "z2"] and info["encoding"] == "mean" and info["z_dim"] == 2
        assert info["label_kind"] == "mode" and info["label_count"] == 8
        assert len(info["labels"]) == 512 and set(info["labels"]) == set(range(8))
        assert info["prior_radii"] == [1.0, 2.0]
    assert frames[0][1]["latent"] != frames[-1][1]["latent"]  # the same points, moved by the learning encoder
    assert frames[0][1]["latent_info"]["labels"] == frames[-1][1]["latent_info"]["labels"]


def test_a_digits_ae_runs_sample_frames_carry_its_codes_projected_and_labelled_by_class(server: str):
    body = {"preset": "digits-ae", "overrides": {"steps": 30, "stream": SLOW}}
    frames = frames_of(server, body, "samples")
    assert frames
    head, event = frames[-1]
    assert set(arrays(head)) == {"png", "latent"} and arrays(head)["latent"] == [256, 2]
    info = event["latent_info"]
    assert info["axes"] == ["PC1", "PC2"] and info["z_dim"] == 16 and info["encoding"] == "code"
    assert info["label_kind"] == "class" and set(info["labels"]) == set(range(10))
    assert info["explained"][0] >= info["explained"][1] > 0


@pytest.mark.parametrize("family", ["gan", "made"])
def test_other_families_field_frames_carry_no_latent_space(server: str, family: str):
    overrides = {"steps": 20, "model": {"family": family}, "stream": SLOW}
    frames = frames_of(server, {"preset": "ring-vanilla", "overrides": overrides}, "field")
    assert frames
    for head, event in frames:
        assert "latent" not in event and "latent_info" not in event
        assert "latent" not in arrays(head)
