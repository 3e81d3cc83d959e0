"""The API on the Celery backend: with ``JUDGE_BROKER_URL`` set, runs are enqueued for a real worker process
(private Redis, the HTTP fake provider), which judges them, skips a cancelled run's items and finishes the run."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.engine import Engine

from judge.api import ApiSettings, create_app
from judge.runs.backends.tracking import waiting_key
from judge.runs.launcher import CeleryLauncher
from judge.testing.fake_provider import FakeProvider
from judge.testing.local_cluster import FAST_ENV, RedisServer, Worker
from tests.conftest import unavailable
from tests.test_api_fixtures import BODY_LIMIT, PREFER_GOOD, PROMPTS, Api, make_keys, run_body, upload_set

pytestmark = [pytest.mark.slow, pytest.mark.redis]


@pytest.fixture
def celery_api(
    db_url: str, engine: Engine, fake_provider: FakeProvider, judge_env: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[tuple[Api, RedisServer]]:
    """The app with JUDGE_BROKER_URL at a private Redis, and one worker (2 prefork processes) on its database."""
    if shutil.which("redis-server") is None:
        unavailable("redis-server is not installed")
    redis_server = RedisServer(tmp_path).start()
    env = {
        **FAST_ENV,
        "JUDGE_TASK_TIME_LIMIT_S": "30",  # room for the API's 5 s judge timeout with retries
        "JUDGE_VISIBILITY_TIMEOUT_S": "60",
        "JUDGE_DATABASE_URL": db_url,
        "JUDGE_BROKER_URL": redis_server.url,
    }
    for name, value in env.items():
        judge_env.setenv(name, value)
    worker = Worker("api-worker", env, tmp_path).wait_ready()
    settings = ApiSettings(allowed_api_bases=[fake_provider.url], max_body_bytes=BODY_LIMIT, max_page_size=50)
    app = create_app(engine, api_settings=settings)
    try:
        with TestClient(app) as client:
            yield Api(client, make_keys(engine)), redis_server
    finally:
        worker.kill()
        redis_server.stop()


def wait_until_finished(api: Api, run_id: int, timeout_s: float = 60.0) -> dict[str, Any]:
    """Poll the run until it has a finish time (set by the worker that judged its last key)."""
    deadline = time.monotonic() + timeout_s
    while True:
        body: dict[str, Any] = api.get(f"/v1/runs/{run_id}").json()
        if body["finished_at"] is not None or time.monotonic() > deadline:
            return body
        time.sleep(0.1)


def verdict_keys(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return [row[0] for row in conn.execute(text("SELECT verdict_key FROM verdict"))]


def test_the_api_runs_on_the_workers_to_completion(
    celery_api: tuple[Api, RedisServer], engine: Engine, fake_provider: FakeProvider
) -> None:
    api, redis_server = celery_api
    assert isinstance(api.client.app.state.judge.launcher, CeleryLauncher)  # type: ignore[attr-defined]
    fake_provider.script(default=PREFER_GOOD)  # type: ignore[arg-type]
    set_id = upload_set(api)
    started = api.post("/v1/runs", json=run_body(set_id, fake_provider))
    assert started.status_code == 202, started.text
    run = wait_until_finished(api, started.json()["id"])
    assert run["status"] == "completed", run
    assert (run["ok"], run["missing"], run["combined"]) == (2 * PROMPTS, 0, {"model_b": PROMPTS})
    assert run["progress"] == {"finished": 2 * PROMPTS, "planned": 2 * PROMPTS, "fraction": 1.0}
    keys = verdict_keys(engine)
    assert len(keys) == len(set(keys)) == 2 * PROMPTS  # each verdict stored once
    assert len(fake_provider.requests()) == 2 * PROMPTS  # and paid for once
    import redis

    client = redis.Redis.from_url(redis_server.url)
    assert client.exists(waiting_key(run["id"])) == 0  # the worker emptied the run's waiting set
    client.close()


def test_a_run_cancelled_through_the_api_is_skipped_by_the_workers(
    celery_api: tuple[Api, RedisServer], fake_provider: FakeProvider
) -> None:
    api, _ = celery_api
    # 2 processes x batches of 2 keys: the first 4 verdicts take 2 s, the other 4 wait for a free process
    fake_provider.script(default={**PREFER_GOOD, "latency_ms": 2000})  # type: ignore[arg-type]
    set_id = upload_set(api)
    started = api.post("/v1/runs", json=run_body(set_id, fake_provider)).json()
    assert api.post(f"/v1/runs/{started['id']}/cancel").json() == {"id": started["id"], "status": "cancelled"}
    run = wait_until_finished(api, started["id"])
    assert run["status"] == "cancelled" and run["finished_at"] is not None, run
    assert len(fake_provider.requests()) <= PROMPTS  # the tasks picked up after the cancel judged nothing
    assert run["missing"] >= PROMPTS
