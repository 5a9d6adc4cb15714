"""docker-compose.yml speaks the settings' language: every GANPLAY_ variable it sets is a real setting."""

from __future__ import annotations

from pathlib import Path

import yaml
from sqlalchemy.engine import make_url

from server.settings import Settings

ROOT = Path(__file__).resolve().parents[1]


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


def _app_environment(compose: dict) -> dict[str, str]:
    """The app's GANPLAY_ variables as the container sees them (``${VAR:?…}`` given a stand-in value)."""
    env = compose["services"]["app"]["environment"]
    return {k: "stand-in" if str(v).startswith("${") else str(v) for k, v in env.items() if k.startswith("GANPLAY_")}


def test_the_app_settings_in_compose_are_valid_settings():
    env = _app_environment(yaml.safe_load((ROOT / "docker-compose.yml").read_text()))
    Settings(**{k.removeprefix("GANPLAY_").lower(): v for k, v in env.items()})  # raises on a bad value


def test_the_apps_database_url_reaches_the_db_service_with_its_credentials():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    url = make_url(_app_environment(compose)["GANPLAY_DATABASE_URL"])
    db = compose["services"][url.host]  # the host is a service of this file
    assert (url.username, url.password, url.database) == (
        db["environment"]["POSTGRES_USER"],
        db["environment"]["POSTGRES_PASSWORD"],
        db["environment"]["POSTGRES_DB"],
    )
    assert url.host in compose["services"]["app"]["depends_on"]


def test_the_published_port_and_the_data_volume_are_where_the_settings_point():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    app, env = compose["services"]["app"], _app_environment(compose)
    container_ports = {p.rsplit(":", 1)[1] for p in app["ports"]}
    assert env["GANPLAY_PORT"] in container_ports
    mounts = {v.split(":")[1] for v in app["volumes"]}
    assert env["GANPLAY_DATA_DIR"] in mounts  # runs and checkpoints survive the container
    assert all(port.startswith("127.0.0.1:") for port in app["ports"])  # published on loopback only
