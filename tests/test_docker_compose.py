"""docker-compose.yml speaks the settings' language: every GANPLAY_ variable it sets is a real setting."""

from __future__ import annotations

from pathlib import Path

import yaml

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


def test_compose_brings_up_the_app_with_postgresql_a_volume_and_a_gpu():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    app = compose["services"]["app"]
    assert app["environment"]["GANPLAY_DATABASE_URL"].startswith("postgresql+psycopg://")
    assert compose["services"]["db"]["image"].startswith("postgres:15")
    assert any(v.endswith(":/data") for v in app["volumes"])
    assert app["deploy"]["resources"]["reservations"]["devices"][0]["capabilities"] == ["gpu"]
    assert all(port.startswith("127.0.0.1:") for port in app["ports"])  # published on loopback only
