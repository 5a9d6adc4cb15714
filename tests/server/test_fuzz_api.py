"""The REST API fuzzed from its own OpenAPI schema (schemathesis) against a real server with real workers.

Expected outcome for every generated request, valid or not: no 5xx, and a response whose status code, content type
and body the schema declares. Path parameters are random strings (unknown runs: 404) or, half of the time, the id
of a real completed run with a checkpoint, so samples, export, fork, patch and control are reached for real.
Runs and sweeps a case creates are deleted at once; a small quota and one training slot keep the workers bounded.
DELETE is only ever sent to random ids, so the shared completed run survives the whole fuzz.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from server.app import create_app
from server.settings import Settings
from tests.server.conftest import serve
from tests.server.test_runs_api import completed_run

# Whether a schema-valid body is accepted depends on what no schema says (preset names, cross-field rules, the bytes
# of an uploaded file), so that one check is left out; schema-invalid requests must still be refused with a 4xx.
NOT_CHECKED = [schemathesis.checks.positive_data_acceptance]
CI_EXAMPLES = 12
SOAK_EXAMPLES = 300


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    data: Path = tmp_path_factory.mktemp("fuzz")
    for base in serve(data, warm_workers=1, max_concurrent=1, max_runs_per_client=3):
        yield {"base": base, "run_id": completed_run(base)}


# The schema the app publishes at /openapi.json; building it needs no start-up (no database, no workers).
schema = schemathesis.openapi.from_dict(create_app(Settings(data_dir=Path("unused"))).openapi())


def fuzz_one(case: Any, real: bool, fuzz_server: dict[str, Any]) -> None:
    if real and "run_id" in (case.path_parameters or {}) and case.method != "DELETE":
        case.path_parameters["run_id"] = fuzz_server["run_id"]
    response = case.call_and_validate(base_url=fuzz_server["base"], timeout=60, excluded_checks=NOT_CHECKED)
    if response.status_code == 201 and case.path.startswith(("/api/runs", "/api/sweeps")):
        created = response.json()["id"]
        kind = "sweeps" if case.path.startswith("/api/sweeps") else "runs"
        assert httpx.delete(f"{fuzz_server['base']}/api/{kind}/{created}", timeout=30).status_code == 204


@schema.parametrize()
@schema.given(real=st.booleans())
@settings(max_examples=CI_EXAMPLES, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_every_route_answers_fuzzed_requests_without_5xx_and_as_its_schema_says(
    case: Any, real: bool, fuzz_server: dict[str, Any]
) -> None:
    """No 5xx and no response that breaks the schema, over a bounded number of examples per route."""
    fuzz_one(case, real, fuzz_server)


@pytest.mark.soak
@schema.parametrize()
@schema.given(real=st.booleans())
@settings(max_examples=SOAK_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_soak_every_route_answers_many_fuzzed_requests_without_5xx_and_as_its_schema_says(
    case: Any, real: bool, fuzz_server: dict[str, Any]
) -> None:
    """The same property as the CI fuzz over many more, non-derandomised examples per route."""
    fuzz_one(case, real, fuzz_server)


def test_metrics_since_beyond_any_step_is_422_not_a_database_overflow(fuzz_server: dict[str, Any]) -> None:
    """Found by the fuzz: ``since`` past a 64-bit integer overflowed SQLite (500); the query is bounded (422)."""
    url = f"{fuzz_server['base']}/api/runs/{fuzz_server['run_id']}/metrics"
    assert httpx.get(url, params={"since": 2**100}).status_code == 422
    assert httpx.get(url, params={"since": 2**31 - 1}).json()["steps"] == []
