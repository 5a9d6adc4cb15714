"""GET /api/runs/{id}/walk: a latent walk of an image run as one PNG strip (a row per label when conditional), over
real HTTP from real workers' weights."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from PIL import Image

from models.sampling import WALK_MAX_STEPS, png_scale
from tests.server.conftest import serve, wait_until_completed

LIMIT = 600_000  # bytes: a conditional walk of 10 labels × 8 steps of 8 px digits fits (425 kB), × 16 does not
SIDE = 8 * png_scale(8) + png_scale(8)  # a digit tile and its border, enlarged as /samples enlarges them


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from serve(tmp_path_factory.mktemp("walk"), warm_workers=1, max_concurrent=2, max_samples_bytes=LIMIT)


def completed(base: str, preset: str, **overrides: Any) -> str:
    response = httpx.post(f"{base}/api/runs", json={"preset": preset, "overrides": {"steps": 3} | overrides})
    assert response.status_code == 201, response.text
    return wait_until_completed(base, response.json()["id"])


@pytest.fixture(scope="module")
def digits(server: str) -> str:
    return completed(server, "digits-dcgan")


@pytest.fixture(scope="module")
def cgan(server: str) -> str:
    return completed(server, "digits-cgan")


def picture(response: httpx.Response) -> Image.Image:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/png" and response.headers["x-checkpoint-step"] == "3"
    return Image.open(io.BytesIO(response.content))


def test_a_walk_is_a_png_strip_of_the_asked_steps_and_the_same_seeds_give_the_same_bytes(server: str, digits: str):
    url = f"{server}/api/runs/{digits}/walk"
    strip = httpx.get(url, params={"seed_a": 4, "seed_b": 9, "steps": 6})
    image = picture(strip)
    assert image.size == (6 * SIDE + png_scale(8), SIDE + png_scale(8))  # one row of six tiles
    assert strip.content == httpx.get(url, params={"seed_a": 4, "seed_b": 9, "steps": 6}).content
    assert strip.content != httpx.get(url, params={"seed_a": 4, "seed_b": 10, "steps": 6}).content
    assert picture(httpx.get(url)).size[0] == 8 * SIDE + png_scale(8)  # eight steps unless asked


def test_a_conditional_walk_is_a_grid_with_one_row_per_label_or_the_row_of_the_label_asked(server: str, cgan: str):
    url = f"{server}/api/runs/{cgan}/walk"
    assert picture(httpx.get(url, params={"steps": 8})).size == (8 * SIDE + 8, 10 * SIDE + 8)
    assert picture(httpx.get(url, params={"steps": 8, "label": 3})).size == (8 * SIDE + 8, SIDE + 8)
    refused = httpx.get(url, params={"label": 10})
    assert refused.status_code == 422 and refused.json()["detail"][0]["field"] == "label"


def test_a_walk_over_the_response_limit_is_413_naming_steps_before_anything_is_drawn(server: str, cgan: str):
    response = httpx.get(f"{server}/api/runs/{cgan}/walk", params={"steps": WALK_MAX_STEPS})
    assert response.status_code == 413
    [error] = response.json()["detail"]
    assert (
        error["field"] == "steps" and f"limited to {LIMIT} bytes" in error["reason"] and "one label" in error["reason"]
    )


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"steps": 1}, "steps"),
        ({"steps": WALK_MAX_STEPS + 1}, "steps"),
        ({"seed_a": -1}, "seed_a"),
        ({"seed_b": "x"}, "seed_b"),
        ({"label": 2}, "label"),  # the run is not conditional
    ],
)
def test_bad_walk_requests_are_422_naming_the_field(server: str, digits: str, params: dict[str, Any], field: str):
    response = httpx.get(f"{server}/api/runs/{digits}/walk", params=params)
    assert response.status_code == 422, response.text
    [error] = response.json()["detail"]
    assert error.get("field") == field or error.get("loc", [None])[-1] == field, error


def test_a_2d_run_has_no_walk_but_says_where_its_latent_plane_is_drawn(server: str):
    run_id = completed(server, "ring-vanilla")
    response = httpx.get(f"{server}/api/runs/{run_id}/walk")
    assert response.status_code == 409 and "manifold" in response.json()["detail"]
    assert httpx.get(f"{server}/api/runs/{'0' * 32}/walk").status_code == 404


def test_a_made_run_has_no_walk_since_it_has_no_latent_code_while_a_vaes_decoder_walks(server: str):
    made = completed(server, "digits-made")
    response = httpx.get(f"{server}/api/runs/{made}/walk")
    assert response.status_code == 409 and "no latent code" in response.json()["detail"]
    vae = completed(server, "digits-vae")
    assert picture(httpx.get(f"{server}/api/runs/{vae}/walk", params={"steps": 4})).size[0] > 0
