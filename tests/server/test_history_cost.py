"""What reading a run's metric history costs: the rows the repository decodes, counted by the engine's own JSON
decoder, on SQLite and PostgreSQL. A chart or a snapshot of a long run must cost what it returns, not the run."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from server.db import repository as repo
from server.db.engine import make_engine, make_session_factory
from server.db.migrate import upgrade
from tests.server.conftest import BACKENDS

ROWS = 20_000


class Decoded:
    """The engine's JSON decoder, counting: every metric row's values that reach Python pass through it once."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, text: str) -> Any:
        self.count += 1
        return json.loads(text)


@pytest.fixture
def decoded() -> Decoded:
    return Decoded()


@pytest.fixture
def engine(db_url: str, decoded: Decoded) -> Iterator[Engine]:
    upgrade(db_url)
    engine = make_engine(db_url, json_deserializer=decoded)
    yield engine
    engine.dispose()


@pytest.fixture
def factory(engine: Engine) -> sessionmaker[Session]:
    return make_session_factory(engine)


def value(step: int) -> float:
    return step * 0.5 - 3.0


def new_run(factory: sessionmaker[Session], steps: list[int]) -> str:
    with factory.begin() as session:
        run_id = repo.create_run(session, config={}, preset=None, status="completed").id
    for start in range(0, len(steps), 5000):
        with factory.begin() as session:
            rows: list[dict[str, float]] = [
                {"step": s, "d_loss": value(s), **({"fd": -s} if s % 7 == 0 else {})}
                for s in steps[start : start + 5000]
            ]
            repo.append_metrics(session, run_id, rows)
    return run_id


def assert_true_rows(out: dict[str, Any]) -> None:
    """Every point returned is the row stored at its step, in step order."""
    steps = out["steps"]
    assert steps == sorted(set(steps))
    assert out["series"]["d_loss"] == [value(s) for s in steps]
    if "fd" in out["series"]:
        assert out["series"]["fd"] == [-s if s % 7 == 0 else None for s in steps]


@BACKENDS
def test_downsampled_metrics_decode_only_the_rows_they_return(factory: sessionmaker[Session], decoded: Decoded):
    run_id = new_run(factory, list(range(ROWS)))
    with factory() as session:
        for max_points in (2, 50, 2000):
            decoded.count = 0
            out = repo.metrics(session, run_id, max_points=max_points)
            assert decoded.count == len(out["steps"]) == max_points, (max_points, decoded.count)
            assert out["steps"][0] == 0 and out["steps"][-1] == ROWS - 1
            assert_true_rows(out)
            gaps = {b - a for a, b in zip(out["steps"], out["steps"][1:])}
            assert max(gaps) - min(gaps) <= 1  # even: the step range in equal parts
        decoded.count = 0
        out = repo.metrics(session, run_id, since=ROWS - 1001, max_points=10, names=["fd"])
        assert decoded.count == 10 and out["steps"][0] == ROWS - 1000 and out["steps"][-1] == ROWS - 1
        assert list(out["series"]) == ["fd"]


@BACKENDS
def test_downsampling_uneven_and_huge_steps_keeps_the_first_and_last_row(factory: sessionmaker[Session]):
    """A resumed or forked run has gaps; a long one has steps whose bucket arithmetic overflows 32 bits."""
    steps = [*range(0, 300), *range(10_000, 10_050), 2_000_000_000, 2_147_483_000]
    run_id = new_run(factory, steps)
    with factory() as session:
        for max_points in (1, 2, 5, 40, 351):
            out = repo.metrics(session, run_id, max_points=max_points)
            assert 1 <= len(out["steps"]) <= max_points
            assert out["steps"][-1] == 2_147_483_000
            if max_points > 1:
                assert out["steps"][0] == 0
            assert set(out["steps"]) <= set(steps)
            assert_true_rows(out)
        assert repo.metrics(session, run_id, max_points=352)["steps"] == steps  # all fit: all returned


@BACKENDS
def test_metrics_without_max_points_past_the_cap_are_refused_before_any_row_is_decoded(
    factory: sessionmaker[Session], decoded: Decoded, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(repo, "METRICS_MAX_POINTS", 100)
    run_id = new_run(factory, list(range(101)))
    with factory() as session:
        decoded.count = 0
        with pytest.raises(repo.TooManyPointsError, match="at most 100: pass max_points"):
            repo.metrics(session, run_id)
        assert decoded.count == 0
        assert len(repo.metrics(session, run_id, since=0)["steps"]) == 100  # a page within the cap is served


@BACKENDS
def test_whole_history_pages_hold_one_page_and_cover_every_row_in_order(
    factory: sessionmaker[Session], decoded: Decoded
):
    steps = list(range(0, 3000, 3))
    run_id = new_run(factory, steps)
    with factory() as session:
        assert repo.metric_names(session, run_id) == ["d_loss", "fd"]
        decoded.count = 0
        seen: list[int] = []
        for page in repo.metric_pages(session, run_id, page=128):
            assert 1 <= len(page) <= 128 and decoded.count == len(seen) + len(page)  # decoded as the page comes
            seen += [step for step, values in page if values["d_loss"] == value(step)]
        assert seen == steps
        assert repo.metric_names(session, "f" * 32) == [] and list(repo.metric_pages(session, "f" * 32)) == []
