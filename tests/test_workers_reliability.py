"""Reliability of the Celery backend with real processes: a private Redis, real prefork workers, the HTTP fake
provider, SQLite (file, WAL) and PostgreSQL. Each test counts verdicts by key and requests in the provider's log."""

from __future__ import annotations

import shutil
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from judge.cli import app
from judge.core.render import render_request_hash
from judge.core.types import ChatMessage
from judge.runs.backends import BackendName, execute_on
from judge.runs.request import JudgeSpec, RunConfig
from judge.runs.service import RunProgress, create_run
from judge.store.engine import session_scope
from judge.testing.fake_provider import FakeProvider
from judge.testing.local_cluster import FAST_ENV, RedisServer, Worker, load_toy_set
from tests.conftest import unavailable

pytestmark = [pytest.mark.slow, pytest.mark.redis]
PREFER_GOOD = {"kind": "prefer_marker", "marker": "MARKER-GOOD", "rival": "MARKER-BAD"}
MODEL = "openai/fake-judge"


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    if shutil.which("redis-server") is None:
        unavailable("redis-server is not installed")
    server = RedisServer(tmp_path).start()
    yield server
    server.stop()


@pytest.fixture
def cluster_env(db_url: str, redis_server: RedisServer, judge_env: pytest.MonkeyPatch) -> dict[str, str]:
    """The environment of the workers and of this process (the follower)."""
    env = {**FAST_ENV, "JUDGE_DATABASE_URL": db_url, "JUDGE_BROKER_URL": redis_server.url}
    for name, value in env.items():
        judge_env.setenv(name, value)
    return env


@pytest.fixture
def workers(cluster_env: dict[str, str], tmp_path: Path) -> Iterator[Callable[[str], Worker]]:
    started: list[Worker] = []

    def start(name: str) -> Worker:
        started.append(Worker(name, cluster_env, tmp_path))
        return started[-1]

    yield start
    for worker in started:
        worker.kill()  # nothing to save: a graceful shutdown only waits


def new_run(engine: Engine, provider: FakeProvider, prompts: int) -> tuple[int, list[str]]:
    load_toy_set(engine, prompts)
    config = RunConfig(
        set_name="toy", judges=(JudgeSpec(model=MODEL, api_base=provider.url),), rubric="pairwise", timeout_s=1.0
    )
    with session_scope(engine) as session:
        run, plan = create_run(session, config=config)
    assert run.id is not None
    return run.id, [item.verdict_key for item in plan.items]


def stored(engine: Engine) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(text("SELECT verdict_key, status, request_hash FROM verdict")))


def request_hashes(provider: FakeProvider) -> list[str]:
    """The request hash, as stored with verdicts, of every chat request the fake provider received."""
    return [
        render_request_hash(
            [ChatMessage(role=m["role"], content=m["content"]) for m in r["body"]["messages"]],
            MODEL,
            {"temperature": r["body"].get("temperature", 0.0)},
        )
        for r in provider.requests()
        if r.get("body")
    ]


def when_stored(engine: Engine, count: int, action: Callable[[], None]) -> threading.Thread:
    """Run ``action`` in the background once ``count`` verdicts are stored (mid-run)."""

    def watch() -> None:
        deadline = time.monotonic() + 60
        while len(stored(engine)) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        action()

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


def follow(engine: Engine, run_id: int) -> RunProgress:
    progress = execute_on(BackendName.CELERY, engine, run_id)
    assert isinstance(progress, RunProgress)
    return progress


def run_status(engine: Engine, run_id: int) -> str:
    with engine.connect() as conn:
        return str(conn.execute(text("SELECT status FROM run WHERE id = :id"), {"id": run_id}).scalar_one())


def test_kill_9_of_a_worker_mid_run_loses_no_verdict_and_stores_none_twice(
    engine: Engine, fake_provider: FakeProvider, workers: Callable[[str], Worker]
) -> None:
    fake_provider.script(default={**PREFER_GOOD, "latency_ms": 250})  # type: ignore[arg-type]
    doomed, survivor = workers("doomed"), workers("survivor")
    doomed.wait_ready(), survivor.wait_ready()
    run_id, keys = new_run(engine, fake_provider, prompts=30)
    before_kill: list[int] = []
    killer = when_stored(engine, 10, lambda: (before_kill.append(len(stored(engine))), doomed.kill()))
    progress = follow(engine, run_id)
    killer.join()

    assert before_kill[0] < len(keys)  # the kill happened mid-run
    rows = stored(engine)
    assert Counter(r.verdict_key for r in rows) == Counter(keys)  # every verdict exactly once
    assert {r.status for r in rows} == {"ok"} and progress.done == len(keys)
    requests = Counter(request_hashes(fake_provider))
    assert {r.request_hash for r in rows} == set(requests)  # every stored verdict was asked for, nothing else
    # only what the killed worker had in flight (2 processes x batches of 2) was asked twice
    assert sum(requests.values()) - len(keys) <= 4
    assert run_status(engine, run_id) == "completed"


def test_redis_restart_mid_run_completes_after_reconnect(
    engine: Engine, fake_provider: FakeProvider, workers: Callable[[str], Worker], redis_server: RedisServer
) -> None:
    fake_provider.script(default={**PREFER_GOOD, "latency_ms": 150})  # type: ignore[arg-type]
    workers("w1").wait_ready()
    run_id, keys = new_run(engine, fake_provider, prompts=30)

    def restart() -> None:  # no persistence: the queue and the unacked messages are lost with it
        redis_server.stop()
        time.sleep(1.0)
        redis_server.start()

    restarter = when_stored(engine, 8, restart)
    progress = follow(engine, run_id)
    restarter.join()

    rows = stored(engine)
    assert Counter(r.verdict_key for r in rows) == Counter(keys)
    assert {r.status for r in rows} == {"ok"} and progress.done == len(keys)
    assert run_status(engine, run_id) == "completed"


def test_chaotic_provider_stores_errors_and_resume_retries_exactly_those(
    engine: Engine, fake_provider: FakeProvider, workers: Callable[[str], Worker]
) -> None:
    always_failing = {"contains": "Question 3?", "behaviour": {"kind": "error", "status": 500}}
    chaos = {
        "kind": "chaos",
        "failure_rate": 0.3,
        "retry_after": 0.05,
        "content": '{"reason": "x", "verdict": "A"}',
        "latency_ms": 50,
        "seed": 7,
    }
    fake_provider.script(rules=[always_failing], default=chaos)  # type: ignore[list-item,arg-type]
    workers("w1").wait_ready(), workers("w2").wait_ready()
    run_id, keys = new_run(engine, fake_provider, prompts=16)
    progress = follow(engine, run_id)

    rows = stored(engine)
    assert Counter(r.verdict_key for r in rows) == Counter(keys)  # nothing dropped: failures are stored
    errors = {r.verdict_key for r in rows if r.status == "error"}
    assert len(errors) >= 2 and progress.error == len(errors)  # at least both orders of "Question 3?"
    failed = [r for r in fake_provider.requests() if r.get("status") != 200]
    assert failed  # the chaos really happened, and most of it was absorbed by retries
    assert run_status(engine, run_id) == "completed"

    fake_provider.script(default=PREFER_GOOD)  # type: ignore[arg-type]
    before = len(fake_provider.requests())
    result = CliRunner().invoke(app, ["runs", "resume", str(run_id)])
    assert result.exit_code == 0, result.output
    after = stored(engine)
    assert len(fake_provider.requests()) - before == len(errors)  # exactly the errors are asked again
    assert {r.status for r in after} == {"ok"} and len(after) == len(keys)
