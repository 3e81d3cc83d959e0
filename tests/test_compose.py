"""docker-compose.yml and the Dockerfile agree with the settings modules (Docker itself cannot run here)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from judge.settings import ApiSettings, ArenaSettings, Settings

ROOT = Path(__file__).resolve().parents[1]
KNOWN = {
    f"JUDGE_{prefix}{name.upper()}"
    for prefix, model in (("", Settings), ("API_", ApiSettings), ("ARENA_", ArenaSettings))
    for name in model.model_fields
}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return loaded


def resolved(value: str) -> str:
    """A compose value with ``${VAR:-default}`` replaced by its default."""
    return re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", value)


def test_services_are_there_and_the_worker_scales(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert {"redis", "postgres", "worker", "flower"} <= set(services)
    worker = services["worker"]
    assert "build" in worker and "container_name" not in worker and "ports" not in worker  # --scale worker=N
    assert worker["command"][:2] == ["judge", "worker"]
    assert services["redis"]["image"].startswith("redis:") and "--appendonly" in services["redis"]["command"]
    assert services["postgres"]["image"].startswith("postgres:")
    assert "flower" in services["flower"]["command"]
    api = services["api"]
    assert api["command"][:2] == ["judge", "serve"] and "8000:8000" in api["ports"]
    assert api["command"][api["command"].index("--port") + 1] == "8000"


def test_every_judge_variable_is_a_setting_and_the_settings_accept_them(compose: dict[str, Any]) -> None:
    env = {k: resolved(str(v)) for k, v in compose["services"]["worker"]["environment"].items()}
    judge_vars = {k for k in env if k.startswith("JUDGE_")}
    assert judge_vars <= KNOWN, judge_vars - KNOWN
    values = {k.removeprefix("JUDGE_").lower(): v for k, v in env.items() if k.startswith("JUDGE_")}
    settings = Settings(**{k: v for k, v in values.items() if k in Settings.model_fields})
    assert settings.effective_visibility_timeout_s > settings.minimum_visibility_s()
    assert settings.database_url.startswith("postgresql+psycopg://") and "@postgres:5432/" in settings.database_url
    assert settings.broker_url is not None
    broker = settings.broker_url.get_secret_value()
    assert broker.startswith("redis://redis:6379")
    assert broker in compose["services"]["flower"]["command"][1]
    for service in ("worker", "cli", "migrate", "api"):
        assert compose["services"][service]["environment"] == compose["services"]["worker"]["environment"]


def test_dockerfile_installs_what_the_worker_runs() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11", dockerfile, re.M)
    assert 'pip install ".[postgres]"' in dockerfile  # the compose store is PostgreSQL
    for package in ("judge", "workers", "rubrics"):
        assert f"COPY {package} " in dockerfile
    assert (ROOT / "workers" / "celery_app.py").exists() and (ROOT / "workers" / "tasks.py").exists()
