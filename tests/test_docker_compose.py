"""docker-compose.yml is a valid Compose file that speaks the settings' language (every GANPLAY_ variable it sets is a
real setting), and its `ray` profile adds a Ray cluster without changing what a plain `docker compose up` does.

No Docker engine exists on the development machines, so the file is checked against the Compose specification's
JSON schema, and the profiles are resolved here the way Compose resolves them."""

from __future__ import annotations

import importlib.resources
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import pytest
import tomllib
import yaml
from sqlalchemy.engine import make_url

from server.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = ROOT / "docker-compose.yml"
APPS = ("app", "app-ray")  # the app as today (local executor) and its variant in the `ray` profile
RAY_NODES = ("ray-head", "ray-worker")


def test_every_ganplay_variable_in_compose_is_a_setting():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    fields = {f"GANPLAY_{name.upper()}" for name in Settings.model_fields}
    used = {
        k
        for service in compose["services"].values()
        for k in (service.get("environment") or {})
        if k.startswith("GANPLAY_")
    }
    assert used, "the app service sets no GANPLAY_ variables"
    assert used <= fields, f"unknown settings: {sorted(used - fields)}"


TOKEN_MODE = {"GANPLAY_TOKEN": "a-shared-token"}  # what `GANPLAY_TOKEN=… docker compose up` puts in the shell


def _interpolate(value: str, shell: dict[str, str]) -> str:
    """Compose's ``${VAR}``, ``${VAR:-default}`` and ``${VAR:?message}`` against the shell's variables."""

    def one(match: re.Match[str]) -> str:
        name, op, rest = match.group(1), match.group(2) or "", match.group(3) or ""
        if shell.get(name):
            return shell[name]
        if op.endswith("?"):
            raise KeyError(f"compose refuses to start without {name}: {rest}")
        return rest if op.endswith("-") else ""

    return re.sub(r"\$\{(\w+)(:?[-?])?([^}]*)\}", one, value)


def _app_environment(compose: dict, service: str = "app", shell: dict[str, str] = TOKEN_MODE) -> dict[str, str]:
    """An app's GANPLAY_ variables as the container sees them, started from a shell holding ``shell``."""
    env = compose["services"][service]["environment"]
    return {k: _interpolate(str(v), shell) for k, v in env.items() if k.startswith("GANPLAY_")}


def _settings(compose: dict, service: str, shell: dict[str, str] = TOKEN_MODE) -> Settings:
    env = _app_environment(compose, service, shell)
    # An empty variable is an unset setting (pydantic-settings reads the environment that way too).
    return Settings(**{k.removeprefix("GANPLAY_").lower(): v for k, v in env.items() if v})  # raises on a bad value


@pytest.mark.parametrize("service", APPS)
def test_the_app_settings_in_compose_are_valid_settings(service):
    _settings(yaml.safe_load(COMPOSE.read_text()), service)


@pytest.mark.parametrize("service", APPS)
def test_the_app_starts_with_a_shared_token_or_with_users_and_never_unprotected(service):
    compose = yaml.safe_load(COMPOSE.read_text())
    assert _settings(compose, service).auth == "token"
    assert _settings(compose, service, {"GANPLAY_AUTH": "users"}).auth == "users"
    with pytest.raises(ValueError, match="GANPLAY_AUTH=token needs GANPLAY_TOKEN"):
        _settings(compose, service, {})  # neither: the app refuses to start and says why


@pytest.mark.parametrize("service", APPS)
def test_the_apps_database_url_reaches_the_db_service_with_its_credentials(service):
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    url = make_url(_app_environment(compose, service)["GANPLAY_DATABASE_URL"])
    db = compose["services"][url.host]  # the host is a service of this file
    assert (url.username, url.password, url.database) == (
        db["environment"]["POSTGRES_USER"],
        db["environment"]["POSTGRES_PASSWORD"],
        db["environment"]["POSTGRES_DB"],
    )
    assert url.host in compose["services"][service]["depends_on"]


@pytest.mark.parametrize("service", APPS)
def test_the_published_port_and_the_data_volume_are_where_the_settings_point(service):
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    app, env = compose["services"][service], _app_environment(compose, service)
    container_ports = {p.rsplit(":", 1)[1] for p in app["ports"]}
    assert env["GANPLAY_PORT"] in container_ports
    mounts = {v.split(":")[1] for v in app["volumes"]}
    assert env["GANPLAY_DATA_DIR"] in mounts  # runs and checkpoints survive the container
    assert all(port.startswith("127.0.0.1:") for port in app["ports"])  # published on loopback only


# ------------------------------------------------------------------------------------ the Compose specification


def _compose_schema() -> dict[str, Any]:
    """The Compose specification's JSON schema (compose-spec/compose-spec, schema/compose-spec.json, Apache-2.0) as
    check-jsonschema ships it for its `check-compose-spec` hook, licence beside it (builtin_schemas/vendor/licenses/
    LICENSE.compose-spec): a package of the test extras, so the schema moves with a version range, not a copy here."""
    vendor = importlib.resources.files("check_jsonschema.builtin_schemas.vendor")
    return json.loads((vendor / "compose-spec.json").read_text(encoding="utf-8"))


def _schema_errors(path: Path) -> list[str]:
    """Each way the Compose file at ``path`` breaks the specification, as ``where: what``; none for a valid file."""
    schema = _compose_schema()
    validator = jsonschema.validators.validator_for(schema, default=None)
    assert validator is not None, f"jsonschema knows no validator for {schema.get('$schema')}"
    validator.check_schema(schema)  # a schema the installed jsonschema cannot read must not pass everything
    compose = yaml.safe_load(path.read_text())
    errors = validator(schema).iter_errors(compose)
    return sorted(f"{'/'.join(map(str, e.absolute_path)) or '(top)'}: {e.message}" for e in errors)


def test_compose_file_follows_the_compose_specification():
    assert _schema_errors(COMPOSE) == []


@pytest.mark.parametrize(
    ("old", "new", "where"),
    [
        ("  pull_policy: build", "  pull_polcy: build", "'pull_polcy' was unexpected"),  # through an anchor
        (
            "    profiles: [ray]\n    command:\n      - ray",
            "    profiles: ray\n    command:\n      - ray",
            "services/ray-head/profiles",
        ),
        ("      retries: 24", "      retries: [24]", "services/ray-head/healthcheck/retries"),
        (
            "              count: all",
            "              count: 1.5",
            "services/app/deploy/resources/reservations/devices/0/count",
        ),
        ("\nvolumes:\n  ganplay-data:", "\nvolume:\n  ganplay-data:", "(top): 'volume'"),
    ],
    ids=["misspelt-key", "profiles-not-a-list", "retries-wrong-type", "gpu-count-not-whole", "unknown-top-level-key"],
)
def test_the_specification_check_rejects_a_broken_copy_of_the_file(tmp_path, old, new, where):
    text = COMPOSE.read_text()
    assert old in text, f"the breakage no longer applies: {old!r}"
    broken = tmp_path / "docker-compose.yml"
    broken.write_text(text.replace(old, new, 1))
    errors = _schema_errors(broken)
    assert any(where in error for error in errors), errors


# ------------------------------------------------------------------------------------------------ the profiles


def _enabled(compose: dict, profiles: set[str]) -> dict[str, dict]:
    """The services `docker compose [--profile P …] up` starts: those with no profile and those of an active one."""
    return {
        name: service
        for name, service in compose["services"].items()
        if not service.get("profiles") or set(service["profiles"]) & profiles
    }


def _needs(compose: dict, name: str) -> set[str]:
    """``name`` and every service it depends on, transitively: what `docker compose up NAME` starts."""
    seen, todo = set(), [name]
    while todo:
        service = todo.pop()
        if service not in seen:
            seen.add(service)
            todo.extend(compose["services"][service].get("depends_on") or ())
    return seen


def _strings(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield str(key)
            yield from _strings(value)
    elif isinstance(node, list):
        for item in node:
            yield from _strings(item)
    elif node is not None:
        yield str(node)


def _required_variables(node: Any) -> set[str]:
    """Variables written ``${VAR:?…}`` or ``${VAR?…}``: Compose refuses to start without them."""
    return {m for s in _strings(node) for m in re.findall(r"\$\{(\w+):?\?", s)}


def test_without_a_profile_up_starts_todays_services_unchanged():
    compose = yaml.safe_load(COMPOSE.read_text())
    plain = _enabled(compose, set())
    assert set(plain) == {"app", "db"}
    for service in plain.values():
        assert set(service.get("depends_on") or ()) <= set(plain)  # no service of a profile is pulled in
    app = plain["app"]
    assert app["build"] == "." and "image" not in app  # today's image: the Dockerfile without extras
    assert not {k for k in app["environment"] if k.startswith("RAY_") or k in {"GANPLAY_EXECUTOR"}}
    assert _settings(compose, "app").executor == "local"


def test_plain_up_requires_no_variable_that_only_the_ray_profile_uses():
    # Compose interpolates the whole file before it drops the services of inactive profiles, so a ${VAR:?} in a Ray
    # service would stop a plain `docker compose up` that never starts it.
    compose = yaml.safe_load(COMPOSE.read_text())
    required_everywhere = _required_variables(compose)
    assert required_everywhere == _required_variables(_enabled(compose, set()))


def test_with_the_ray_profile_the_ray_app_starts_with_the_cluster_and_without_the_plain_app():
    compose = yaml.safe_load(COMPOSE.read_text())
    enabled = _enabled(compose, {"ray"})
    assert set(enabled) == {"app", "db", "app-ray", *RAY_NODES}
    for service in enabled.values():
        assert set(service.get("depends_on") or ()) <= set(enabled)
    # The README's `docker compose --profile ray up app-ray` starts the cluster and the database, not `app`.
    assert _needs(compose, "app-ray") == {"app-ray", "db", *RAY_NODES}
    # If both apps are started anyway they cannot both serve (and share) one database: the same host port refuses
    # the second one.
    assert compose["services"]["app"]["ports"] == compose["services"]["app-ray"]["ports"]


def _flags(command: list[str]) -> dict[str, str]:
    """``--name=value`` arguments of an exec-form command (the file writes Ray's flags that way)."""
    return dict(arg.removeprefix("--").split("=", 1) for arg in command if arg.startswith("--") and "=" in arg)


def test_the_ray_app_is_the_app_with_the_ray_executor_pointed_at_the_heads_client_server():
    compose = yaml.safe_load(COMPOSE.read_text())
    services = compose["services"]
    app, ray_app = services["app"]["environment"], services["app-ray"]["environment"]
    assert {k: v for k, v in ray_app.items() if k in app} == app  # the same token, hosts, database and data dir
    settings = _settings(compose, "app-ray")
    assert settings.executor == "ray"
    head = _flags(services["ray-head"]["command"])
    address = urlsplit(settings.ray_address or "")
    assert (address.scheme, address.hostname, str(address.port)) == ("ray", "ray-head", head["ray-client-server-port"])
    assert "deploy" not in services["app-ray"]  # it trains nothing itself: no GPU reserved


def test_the_ray_nodes_find_the_head_where_it_listens():
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    head, worker = services["ray-head"], services["ray-worker"]
    assert head["command"][:3] == ["ray", "start", "--head"] and "--block" in head["command"]
    assert worker["command"][:2] == ["ray", "start"] and "--block" in worker["command"]  # the container is the node
    port = _flags(head["command"])["port"]
    assert _flags(worker["command"])["address"] == f"ray-head:{port}"
    assert worker["depends_on"]["ray-head"]["condition"] == "service_healthy"
    assert services["app-ray"]["depends_on"]["ray-head"]["condition"] == "service_healthy"
    check = head["healthcheck"]["test"]
    assert check[:3] == ["CMD", "ray", "health-check"]
    assert _flags(check) == {"address": f"127.0.0.1:{port}", "component": "ray_client_server"}


def test_every_ray_node_and_the_ray_app_run_one_image_built_with_the_ray_extra():
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    images = {name: (services[name]["image"], services[name]["build"]) for name in ("app-ray", *RAY_NODES)}
    assert len({json.dumps(image, sort_keys=True) for image in images.values()}) == 1, images
    build = images["ray-head"][1]
    assert build["context"] == "." and build.get("dockerfile", "Dockerfile") == "Dockerfile"
    assert all(services[name]["pull_policy"] == "build" for name in images)  # built here, never pulled
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^ARG EXTRAS\b", dockerfile, re.MULTILINE)
    assert re.search(r"^RUN .*pip install .*\$\{EXTRAS:\+\[\$EXTRAS\]\}", dockerfile, re.MULTILINE)
    assert build["args"]["EXTRAS"] == "ray"


def test_every_ray_node_and_the_ray_app_share_the_ray_auth_token():
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    auth = {
        name: {k: v for k, v in services[name]["environment"].items() if k.startswith("RAY_AUTH_")}
        for name in ("app-ray", *RAY_NODES)
    }
    assert all(a == {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": "${RAY_AUTH_TOKEN:-}"} for a in auth.values()), auth


def test_the_ray_nodes_have_room_for_the_object_store_and_the_worker_can_be_scaled():
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    for name in RAY_NODES:
        assert services[name]["shm_size"] and services[name]["init"] is True
    worker = services["ray-worker"]
    # `--scale ray-worker=N` makes N containers: a fixed name or a published host port would stop the second.
    assert "container_name" not in worker and "ports" not in worker
    devices = worker["deploy"]["resources"]["reservations"]["devices"]
    assert any(d["driver"] == "nvidia" and "gpu" in d["capabilities"] for d in devices)
    assert "deploy" not in services["ray-head"]  # the head trains nothing


def test_the_extra_the_ray_image_installs_brings_rays_client():
    """pip installs ``.[missing]`` without a word: the image would have no Ray, and ``ray://`` needs ``client``."""
    build = yaml.safe_load(COMPOSE.read_text())["services"]["ray-head"]["build"]
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    group = extras[build["args"]["EXTRAS"]]
    assert any(re.match(r"ray\[[^\]]*\b(client|default)\b", requirement) for requirement in group), group
