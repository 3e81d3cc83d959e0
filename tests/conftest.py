"""Shared fixtures: databases (SQLite and PostgreSQL), the CLI runner, the real sample data.

A test that needs a server that is down is skipped with a one-line reason, except under ``CI=true``,
where it fails: CI must never pass by skipping.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

from judge.settings import get_settings
from judge.store.engine import get_engine, make_engine, upgrade_database

POSTGRES_URL = os.environ.get("JUDGE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
IN_CI = os.environ.get("CI", "").lower() == "true"
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
# journals of paid verdicts go to a scratch folder, never the checkout (each journal names its database)
os.environ.setdefault("JUDGE_RECOVERY_DIR", tempfile.mkdtemp(prefix="judge-recovery-"))
# Runs stay in the test's process unless a test asks for worker processes (tests/test_processes.py does).
os.environ.setdefault("JUDGE_PROCESSES", "1")

pytest_plugins = ["tests.fixtures_llm", "tests.toy"]


def unavailable(reason: str) -> None:
    """Skip outside CI; fail under CI=true."""
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: servers must be up)")
    pytest.skip(reason)


def _postgres_schema_url() -> Iterator[str]:
    admin = create_engine(POSTGRES_URL)
    try:
        with admin.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # any driver or network failure means "not reachable"
        admin.dispose()
        unavailable(f"PostgreSQL not reachable at {POSTGRES_URL}: {type(exc).__name__}")
    schema = f"judge_test_{uuid.uuid4().hex[:12]}"
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in POSTGRES_URL else "?"
    try:
        yield f"{POSTGRES_URL}{separator}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database URL, once on SQLite and once on PostgreSQL (its own schema, dropped after)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'judge.db'}"
    else:
        yield from _postgres_schema_url()


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """A migrated database on both backends."""
    upgrade_database(db_url)
    eng = make_engine(db_url)
    yield eng
    eng.dispose()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """An empty SQLite database URL (for tests that do not depend on the backend)."""
    return f"sqlite:///{tmp_path / 'judge.db'}"


@pytest.fixture
def judge_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """Clears the cached settings and engines around a test that sets JUDGE_* variables."""
    get_settings.cache_clear()
    get_engine.cache_clear()
    yield monkeypatch
    get_settings.cache_clear()
    get_engine.cache_clear()
