"""The Celery backend's parts without worker processes: configuration, the unit task body, broker inspection,
the follower (with a broker whose first queue is lost) and the CLI's backend choice."""

from __future__ import annotations

import asyncio
import shutil
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
import redis
from pydantic import ValidationError
from sqlalchemy import text
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from judge.cli import app
from judge.core.errors import InputError
from judge.llm.client import LiteLLMClient
from judge.llm.retry import RetryPolicy
from judge.runs.backends import BackendName, resolve_backend
from judge.runs.backends.broker import CeleryBroker
from judge.runs.backends.celery_config import celery_config
from judge.runs.backends.follow import follow_run, submit_run
from judge.runs.backends.tracking import track, untrack, waiting_key
from judge.runs.backends.unit import judge_keys, judge_unit_sync, run_context
from judge.runs.request import JudgeSpec, RunConfig
from judge.runs.service import create_run
from judge.settings import Settings
from judge.store.engine import session_scope
from judge.testing.fake_provider import FakeProvider
from judge.testing.local_cluster import RedisServer, load_toy_set
from tests.conftest import unavailable

PREFER_GOOD = {"kind": "prefer_marker", "marker": "MARKER-GOOD", "rival": "MARKER-BAD"}
FAST = RetryPolicy(max_attempts=2, base_s=0.01, cap_s=0.02)


def new_run(engine: Engine, provider: FakeProvider, prompts: int = 4) -> tuple[int, list[str]]:
    load_toy_set(engine, prompts)
    config = RunConfig(
        set_name="toy",
        judges=(JudgeSpec(model="openai/fake-judge", api_base=provider.url),),
        rubric="pairwise",
        timeout_s=2.0,
    )
    with session_scope(engine) as session:
        run, plan = create_run(session, config=config)
    assert run.id is not None
    return run.id, [item.verdict_key for item in plan.items]


def stored(engine: Engine) -> Counter[str]:
    with engine.connect() as conn:
        return Counter(row[0] for row in conn.execute(text("SELECT verdict_key FROM verdict")))


def test_celery_config_is_reliable_and_json_only() -> None:
    config = celery_config(Settings(broker_url="redis://r:6379/0"))
    assert config["task_acks_late"] and config["task_reject_on_worker_lost"]
    assert config["worker_prefetch_multiplier"] == 2  # one message waiting per process, unacknowledged
    assert (
        celery_config(Settings(broker_url="redis://r:6379/0", worker_prefetch_multiplier=1))[
            "worker_prefetch_multiplier"
        ]
        == 1
    )
    assert config["accept_content"] == ["json"] and config["task_serializer"] == "json"
    assert config["task_soft_time_limit"] < config["task_time_limit"]
    policy_wait = Settings().retry_policy().max_total_wait_s()
    assert config["broker_transport_options"]["visibility_timeout"] > config["task_time_limit"] + policy_wait


def test_visibility_timeout_below_time_limit_plus_retry_wait_is_refused() -> None:
    with pytest.raises(ValidationError, match="must exceed"):
        Settings(task_time_limit_s=100, max_retries=2, retry_cap_s=10, visibility_timeout_s=119)
    assert Settings(task_time_limit_s=100, max_retries=2, retry_cap_s=10, visibility_timeout_s=121)


def test_a_call_that_could_outlast_the_task_is_refused() -> None:
    scale = Settings(task_time_limit_s=60, max_retries=2, retry_cap_s=5)
    scale.check_call_fits(10.0)  # 3 x 10 s + 10 s of backoff fits in 54 s
    with pytest.raises(InputError, match="soft time limit"):
        scale.check_call_fits(20.0)


def test_unit_judges_only_missing_keys_and_redelivery_changes_nothing(
    engine: Engine, fake_provider: FakeProvider
) -> None:
    fake_provider.script(default=PREFER_GOOD)  # type: ignore[arg-type]
    run_id, keys = new_run(engine, fake_provider)
    context = run_context(engine, run_id)
    first = asyncio.run(judge_keys(engine, context, LiteLLMClient(FAST), keys[:3]))
    assert (first.judged, first.skipped, first.statuses) == (3, 0, {"ok": 3})
    again = asyncio.run(judge_keys(engine, context, LiteLLMClient(FAST), keys))  # a redelivery plus the rest
    assert (again.judged, again.skipped) == (len(keys) - 3, 3)
    assert stored(engine) == Counter(keys) and len(fake_provider.requests()) == len(keys)


def test_unit_replaces_an_error_verdict_and_respects_cancellation(engine: Engine, fake_provider: FakeProvider) -> None:
    fake_provider.script(default={"kind": "error", "status": 500})  # type: ignore[arg-type]
    run_id, keys = new_run(engine, fake_provider)
    context = run_context(engine, run_id)
    assert asyncio.run(judge_keys(engine, context, LiteLLMClient(FAST), keys[:2])).statuses == {"error": 2}
    fake_provider.script(default=PREFER_GOOD)  # type: ignore[arg-type]
    assert asyncio.run(judge_keys(engine, context, LiteLLMClient(FAST), keys[:2])).statuses == {"ok": 2}
    with engine.connect() as conn:
        assert {r[0] for r in conn.execute(text("SELECT status FROM verdict"))} == {"ok"}
    with engine.begin() as conn:
        conn.execute(text("UPDATE run SET status = 'cancelled'"))
    assert asyncio.run(judge_keys(engine, context, LiteLLMClient(FAST), keys)).skipped == len(keys)


class SoftTimeLimit(Exception):
    """What Celery's soft time limit raises in a worker: from a signal handler, wherever the loop is waiting."""


def test_a_unit_cut_by_the_soft_time_limit_releases_its_leases_and_a_redelivery_judges_them(
    engine: Engine, fake_provider: FakeProvider, judge_env: pytest.MonkeyPatch
) -> None:
    """A task interrupted mid-call (the soft time limit) must not stay pending on the worker thread's loop: woken
    by the next task's run of that loop, it would renew its leases forever and each redelivery of its keys would
    wait for them until its own time limit, again and again."""
    import signal

    from judge.runs.backends import unit

    judge_env.setenv("JUDGE_LEASE_TTL_S", "120")
    judge_env.setattr(unit, "_local", type(unit._local)())  # this thread's loop and client, fresh
    fake_provider.script(default={**PREFER_GOOD, "latency_ms": 3000})  # type: ignore[arg-type]
    run_id, keys = new_run(engine, fake_provider)
    url = engine.url.render_as_string(hide_password=False)

    def soft_limit(_signum: int, _frame: object) -> None:
        raise SoftTimeLimit()

    previous = signal.signal(signal.SIGALRM, soft_limit)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.8)
        with pytest.raises(SoftTimeLimit):
            judge_unit_sync(run_id, keys[:2], database_url=url)
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM verdict_lease")).scalar_one() == 0
        fake_provider.script(default=PREFER_GOOD)  # type: ignore[arg-type]
        signal.setitimer(signal.ITIMER_REAL, 20)  # the redelivery must not wait for the first delivery's leases
        redelivered = judge_unit_sync(run_id, keys[:2], database_url=url)
        signal.setitimer(signal.ITIMER_REAL, 0)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        loop = getattr(unit._local, "loop", None)
        if loop is not None:  # LiteLLM's own background tasks (its logging worker) live on it too
            leftovers = asyncio.all_tasks(loop)
            for task in leftovers:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*leftovers, return_exceptions=True))
            loop.close()
    assert (redelivered.judged, redelivered.statuses) == (2, {"ok": 2})
    assert stored(engine) == Counter(keys[:2])


class LosingBroker:
    """A broker whose first queue is lost (like a Redis restart without persistence); the test's ``sleep``
    plays the worker and runs one queued task per poll."""

    def __init__(self, engine: Engine) -> None:
        self.engine, self.queue, self.enqueues = engine, list[tuple[int, list[str]]](), 0

    def enqueue(self, run_id: int, keys: Sequence[str]) -> int:
        self.enqueues += 1
        if self.enqueues > 1:
            self.queue.extend((run_id, list(keys[i : i + 2])) for i in range(0, len(keys), 2))
        return len(keys)

    def pending(self, run_id: int) -> int | None:
        return sum(1 for queued_run, _ in self.queue if queued_run == run_id)

    def work(self, _seconds: float) -> None:
        if self.queue:
            run_id, keys = self.queue.pop(0)
            judge_unit_sync(run_id, keys, database_url=self.engine.url.render_as_string(hide_password=False))


def test_follower_enqueues_again_what_a_lost_queue_dropped(engine: Engine, fake_provider: FakeProvider) -> None:
    fake_provider.script(default=PREFER_GOOD)  # type: ignore[arg-type]
    run_id, keys = new_run(engine, fake_provider)
    broker = LosingBroker(engine)
    scale = Settings(stall_s=0.05, follow_poll_s=0.01, task_time_limit_s=60, retry_cap_s=1)
    submission = submit_run(engine, run_id, broker, scale)
    seen: list[int] = []
    progress = follow_run(
        engine, submission, broker, scale=scale, sleep=broker.work, on_progress=lambda p: seen.append(p.done)
    )
    assert broker.enqueues == 2 and progress.done == progress.ok == len(keys)
    assert seen == sorted(seen) and seen[-1] == len(keys)  # progress from the database, monotone
    assert stored(engine) == Counter(keys)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT status FROM run")).scalar_one() == "completed"


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[RedisServer]:
    if shutil.which("redis-server") is None:
        unavailable("redis-server is not installed")
    server = RedisServer(tmp_path).start()
    yield server
    server.stop()


def test_broker_sees_the_messages_of_a_run(private_redis: RedisServer) -> None:
    broker = CeleryBroker(Settings(broker_url=private_redis.url, batch_size=2))
    try:
        assert broker.enqueue(7, ["k1", "k2", "k3"]) == 2
        assert broker.enqueue(8, ["k4"]) == 1
        assert (broker.pending(7), broker.pending(8), broker.pending(9)) == (2, 1, 0)
    finally:
        broker.close()


def test_the_worker_that_empties_the_waiting_set_finishes_the_run(private_redis: RedisServer) -> None:
    client = redis.Redis.from_url(private_redis.url)
    try:
        track(client, 5, ["k1", "k2", "k3"])
        assert not untrack(client, 5, ["k1"])
        assert untrack(client, 5, ["k3", "k2"])  # this call emptied it: finish
        assert not untrack(client, 5, ["k2"])  # a redelivery after the finish: nothing to do
        assert client.exists(waiting_key(5)) == 0
    finally:
        client.close()


def test_a_fresh_submission_never_overwrites_a_cancel(engine: Engine, fake_provider: FakeProvider) -> None:
    run_id, keys = new_run(engine, fake_provider)
    broker = LosingBroker(engine)
    with engine.begin() as conn:
        conn.execute(text("UPDATE run SET status = 'cancelled'"))
    refused = submit_run(engine, run_id, broker, unless_cancelled=True)
    assert refused.keys == () and broker.enqueues == 0
    resumed = submit_run(engine, run_id, broker)  # a resume (CLI) starts a cancelled run again
    assert sorted(resumed.keys) == sorted(keys) and broker.enqueues == 1
    with engine.connect() as conn:
        assert conn.execute(text("SELECT status FROM run")).scalar_one() == "running"


def test_backend_defaults_to_celery_only_with_a_broker(judge_env: pytest.MonkeyPatch) -> None:
    judge_env.delenv("JUDGE_BROKER_URL", raising=False)
    assert resolve_backend(None) is BackendName.INPROCESS
    with pytest.raises(InputError, match="--detach needs the celery backend"):
        resolve_backend(None, detach=True)
    result = CliRunner().invoke(app, ["worker"])
    assert result.exit_code == 2 and "JUDGE_BROKER_URL" in result.output
    from judge.settings import get_settings

    judge_env.setenv("JUDGE_BROKER_URL", "redis://127.0.0.1:6379/0")
    get_settings.cache_clear()
    assert resolve_backend(None, detach=True) is BackendName.CELERY
    assert resolve_backend(BackendName.INPROCESS) is BackendName.INPROCESS
