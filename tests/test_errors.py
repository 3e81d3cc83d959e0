"""What a tenant sees of a failure: a short classified reason, never SQL, parameters, tracebacks or paths."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path
from typing import Any

import litellm
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, OperationalError
from typer.testing import CliRunner

from judge.api import ApiSettings, create_app
from judge.cli import app as cli_app
from judge.core.errors import (
    BrokerError,
    FatalProviderError,
    InputError,
    RetryableProviderError,
    StoreError,
    classify_failure,
)
from judge.llm.client import Completion, CompletionRequest, LiteLLMClient
from judge.store.engine import get_engine, session_scope
from judge.store.ingest import write_bundle
from judge.testing.fake_provider import FakeProvider
from judge.testing.toy import toy_bundle
from tests.test_api_fixtures import FAST_RETRIES, Api, make_keys, run_body, upload_set
from tests.toy import config, run, verdicts

# What must never reach a tenant: SQL, bound parameters, server paths, exception class names, tracebacks.
LEAKY = "SELECT secret FROM api_key WHERE path='/srv/judge/secrets.env'"
FORBIDDEN = ("SELECT", "INSERT", "UPDATE", "[SQL", "parameters", "/srv/", "Traceback", "Error:", "api_key", ".py")


def assert_clean(text_out: str) -> None:
    for needle in FORBIDDEN:
        assert needle not in text_out, f"{needle!r} leaked in {text_out[:400]!r}"


@pytest.mark.parametrize(
    ("exc", "reason"),
    [
        (OperationalError("UPDATE run SET note=?", (1,), sqlite3.OperationalError("database locked")), "database busy"),
        (OperationalError("SELECT 1", {}, Exception("canceling statement due to lock timeout")), "database busy"),
        (OperationalError("SELECT 1", {}, Exception("connection to server refused")), "database unavailable"),
        (sqlite3.OperationalError("database is locked"), "database busy"),
        (IntegrityError("INSERT INTO vote", {}, Exception("duplicate key")), "database error"),
        (StoreError("cannot migrate database sqlite:////srv/judge.db"), "database unavailable"),
        (BrokerError("cannot enqueue run 3: redis://10.0.0.7:6379 refused"), "broker unavailable"),
        (RetryableProviderError("gave up after 6 attempts; last error: x", status_code=429), "provider 429"),
        (RetryableProviderError("x", status_code=503), "provider 5xx"),
        (FatalProviderError("x", status_code=401), "auth failed"),
        (FatalProviderError("x", status_code=400), "bad request"),
        (FatalProviderError("x", status_code=400, reason="unsupported parameter"), "unsupported parameter"),
        (litellm.exceptions.RateLimitError(message=LEAKY, model="m", llm_provider="openai"), "provider 429"),
        (litellm.exceptions.Timeout(message=LEAKY, model="m", llm_provider="openai"), "timeout"),
        (litellm.exceptions.APIConnectionError(message=LEAKY, model="m", llm_provider="openai"), "connection failed"),
        (litellm.exceptions.AuthenticationError(message=LEAKY, model="m", llm_provider="openai"), "auth failed"),
        (litellm.exceptions.NotFoundError(message=LEAKY, model="m", llm_provider="openai"), "model not found"),
        (
            litellm.exceptions.UnsupportedParamsError(message=LEAKY, model="o1", llm_provider="openai"),
            "unsupported parameter",
        ),
        (TimeoutError(), "timeout"),
        (ValueError(LEAKY), "internal error"),
    ],
)
def test_classify_failure_gives_a_short_reason(exc: BaseException, reason: str) -> None:
    assert classify_failure(exc) == reason
    assert_clean(classify_failure(exc))


def test_user_input_errors_keep_their_message() -> None:
    assert classify_failure(InputError("expected a number", location="votes.jsonl:3", field="turn")) == (
        "votes.jsonl:3: turn: expected a number"
    )


@pytest.mark.parametrize(
    ("behaviour", "reason"),
    [
        ({"kind": "error", "status": 401, "message": LEAKY}, "auth failed"),
        ({"kind": "error", "status": 400, "message": LEAKY}, "bad request"),
        ({"kind": "error", "status": 500, "message": LEAKY}, "provider 5xx"),
        ({"kind": "rate_limit", "retry_after": 0.01, "message": LEAKY}, "provider 429"),
        ({"kind": "hang", "hang_s": 5}, "timeout"),
    ],
)
def test_failed_verdicts_store_the_classified_reason(
    store: Engine, fake_provider: FakeProvider, behaviour: dict[str, Any], reason: str
) -> None:
    fake_provider.script(default=behaviour)  # type: ignore[arg-type]
    _, progress = run(store, config(fake_provider, timeout_s=0.3, limit=1))
    assert progress.error == 2
    for verdict in verdicts(store):
        assert (verdict.status, verdict.error) == ("error", reason)


def test_api_shows_classified_reasons_for_provider_and_database_failures(
    engine: Engine, fake_provider: FakeProvider
) -> None:
    """A provider fault (its message carrying SQL and a path), a database gone mid-run and a locked database
    reach the tenant as ``provider 5xx``, a 503 ``database ...`` and a ``database busy`` note: no SQL, no path."""
    fault: dict[str, str | None] = {"next": None}

    class FaultyStore(LiteLLMClient):
        """Judges through the fake provider; on request, first breaks the store (table gone, or locked)."""

        async def complete(self, req: CompletionRequest) -> Completion:
            if fault["next"] == "table gone":
                fault["next"] = None
                with engine.begin() as conn:
                    conn.execute(text("ALTER TABLE verdict RENAME TO verdict_gone"))
            elif fault["next"] == "locked":
                raise OperationalError(f"UPDATE run SET note=? -- {LEAKY}", (1,), sqlite3.OperationalError("locked"))
            return await super().complete(req)

    settings = ApiSettings(allowed_api_bases=[fake_provider.url])
    server = create_app(engine, api_settings=settings, client_factory=lambda: FaultyStore(FAST_RETRIES))
    with TestClient(server) as client:
        api = Api(client, make_keys(engine))
        set_id = upload_set(api)
        fake_provider.script(default={"kind": "error", "status": 503, "message": LEAKY})  # type: ignore[arg-type]
        started = api.post("/v1/runs", json=run_body(set_id, fake_provider))
        assert started.status_code == 202, started.text
        failed_calls = api.wait_for_run(started.json()["id"])
        listed = api.get(f"/v1/runs/{failed_calls['id']}/verdicts", params={"status": "error"})
        assert listed.status_code == 200 and listed.json()["items"]
        assert {v["error"] for v in listed.json()["items"]} == {"provider 5xx"}
        assert_clean(listed.text)
        assert_clean(api.get(f"/v1/runs/{failed_calls['id']}").text)

        fake_provider.script(default={"kind": "reply", "content": '{"reason": "x", "verdict": "A"}'})  # type: ignore[arg-type]
        fault["next"] = "table gone"
        started = api.post("/v1/runs", json=run_body(set_id, fake_provider, rubric="pairwise-5"))
        assert started.status_code == 202, started.text
        deadline = time.monotonic() + 30
        while fault["next"] is not None and time.monotonic() < deadline:
            time.sleep(0.02)
        unavailable = api.get(f"/v1/runs/{started.json()['id']}")  # the table is gone: 503 with the reason only
        assert unavailable.status_code == 503 and unavailable.json()["detail"].startswith("database ")
        assert_clean(unavailable.text)
        with engine.begin() as conn:
            conn.execute(text("ALTER TABLE verdict_gone RENAME TO verdict"))
        assert_clean(json.dumps(api.wait_for_run(started.json()["id"])))

        fault["next"] = "locked"
        started = api.post("/v1/runs", json=run_body(set_id, fake_provider, rubric="pairwise-5", reask=True))
        assert started.status_code == 202, started.text
        locked = api.wait_for_run(started.json()["id"])
        assert (locked["status"], locked["note"]) == ("failed", "database busy")
        assert_clean(json.dumps(locked))


def test_cli_run_output_holds_no_sql_or_paths(
    judge_env: pytest.MonkeyPatch, tmp_path: Path, fake_provider: FakeProvider
) -> None:
    db = tmp_path / "cli.db"
    judge_env.setenv("JUDGE_DATABASE_URL", f"sqlite:///{db}")
    judge_env.setenv("JUDGE_MAX_RETRIES", "0")
    judge_env.setenv("JUDGE_WRITE_RETRY_MAX_S", "2")  # the broken store below is retried this long, then reported
    runner = CliRunner()
    assert runner.invoke(cli_app, ["init"]).exit_code == 0
    with session_scope(get_engine(f"sqlite:///{db}")) as session:
        write_bundle(session, set_name="toy", bundle=toy_bundle(2))
    fake_provider.script(default={"kind": "error", "status": 500, "message": LEAKY})  # type: ignore[arg-type]
    base = ["run", "--set", "toy", "--judge", "openai/fake", "--api-base", fake_provider.url]
    failed_calls = runner.invoke(cli_app, base)
    assert failed_calls.exit_code == 0, failed_calls.output
    assert_clean(failed_calls.output)
    for fmt in ("jsonl", "csv"):
        exported = runner.invoke(cli_app, ["export", "verdicts", "--run", "1", "--format", fmt])
        assert exported.exit_code == 0 and "provider 5xx" in exported.output, exported.output
        assert_clean(exported.output)

    with sqlite3.connect(db) as conn:  # the store breaks under the next run
        conn.execute("ALTER TABLE verdict RENAME TO verdict_gone")
    db_failed = runner.invoke(cli_app, [*base, "--rubric", "pairwise-5"])
    assert db_failed.exit_code == 2, db_failed.output
    assert "error: database unavailable" in db_failed.output
    assert_clean(db_failed.output)
