"""``--processes``: a run spread over worker processes judges what one process judges, pays each key once, and
shares the rate limits, the budget, cancellation and Ctrl-C across its workers. Calls are counted by the fake
provider (``/_count``), verdicts by key, worker processes by the lease owners (``host:pid:...``) seen mid-run."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from judge.core.types import RunStatus
from judge.llm.ratelimit import FileRateLimiter
from judge.runs.execution import Interrupt
from judge.runs.processes import mp_context, process_count, requested_processes
from judge.runs.request import JudgeSpec
from judge.runs.service import RunProgress, cancel_run, create_run, execute_run
from judge.settings import RateLimit, Settings, get_settings
from judge.store.engine import make_engine, session_scope, upgrade_database
from judge.store.ingest import write_bundle
from judge.testing.fake_provider import FakeProvider
from judge.testing.toy import toy_bundle
from tests.toy import PREFER_GOOD, config, summary

PROMPTS = 40
KEYS = 2 * PROMPTS  # both orders of one human-voted pair per prompt
KEYS_PER_PROCESS = 32
"""This module's runs are small: one worker process per 32 keys (``JUDGE_KEYS_PER_PROCESS``) lets them spread."""


@pytest.fixture(autouse=True)
def small_runs_spread(judge_env: pytest.MonkeyPatch) -> None:
    judge_env.setenv("JUDGE_KEYS_PER_PROCESS", str(KEYS_PER_PROCESS))


def toy_store(url: str) -> Engine:
    upgrade_database(url)
    engine = make_engine(url)
    with session_scope(engine) as session:
        write_bundle(session, set_name="toy", bundle=toy_bundle(PROMPTS))
    return engine


def new_run(engine: Engine, provider: FakeProvider, **overrides: Any) -> int:
    with session_scope(engine) as session:
        created, _ = create_run(session, config=config(provider, **overrides))
    assert created.id is not None
    return created.id


def judged(engine: Engine) -> dict[str, tuple[str, str | None]]:
    """Each stored verdict's key -> (status, winner)."""
    with engine.connect() as conn:
        return {k: (s, w) for k, s, w in conn.execute(text("SELECT verdict_key, status, winner FROM verdict"))}


def leases(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM verdict_lease")).scalar_one())


class Watch:
    """Executes run ``run_id`` (no client given: over its processes) in a thread, noting the lease owners' pids;
    a context manager that aborts the run (two Ctrl-C) if the test fails before it ends."""

    def __init__(self, engine: Engine, run_id: int) -> None:
        self.engine, self.run_id, self.interrupt = engine, run_id, Interrupt()
        self.pids: set[int] = set()
        self.progress: RunProgress | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.started = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Watch:
        self.thread.start()
        self.started.wait(timeout=60)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.thread.is_alive():
            self.stop()
            self.stop()
            self.thread.join(timeout=60)

    def _run(self) -> None:
        async def execute() -> RunProgress:
            self.loop = asyncio.get_running_loop()
            self.started.set()
            return await execute_run(self.engine, self.run_id, interrupt=self.interrupt)

        self.progress = asyncio.run(execute())

    def wait_for(self, condition: Callable[[], bool], timeout_s: float = 120) -> None:
        deadline = time.monotonic() + timeout_s
        while not condition():
            assert time.monotonic() < deadline and self.thread.is_alive(), "the run ended first"
            self.note_owners()
            time.sleep(0.02)

    def note_owners(self) -> None:
        with self.engine.connect() as conn:
            owners = conn.execute(text("SELECT DISTINCT owner FROM verdict_lease")).scalars()
            self.pids.update(int(owner.split(":")[1]) for owner in owners)

    def join(self) -> RunProgress:
        while self.thread.is_alive():
            self.note_owners()
            self.thread.join(timeout=0.05)
        assert self.progress is not None
        return self.progress

    def stop(self) -> None:
        """One Ctrl-C, on the run's event loop."""
        assert self.loop is not None
        self.loop.call_soon_threadsafe(self.interrupt.request)


def test_process_count_is_bounded_by_concurrency_keys_and_a_shared_database(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    assert get_settings().keys_per_process == KEYS_PER_PROCESS
    assert process_count(4, 64, 10 * KEYS_PER_PROCESS, engine) == 4
    assert process_count(4, 2, 10 * KEYS_PER_PROCESS, engine) == 2  # one call in flight per process at least
    assert process_count(4, 64, 3 * KEYS_PER_PROCESS - 1, engine) == 2  # small runs use fewer
    assert process_count(4, 64, 5, engine) == 1
    assert process_count(4, 64, 1000, make_engine("sqlite://")) == 1  # in-memory: nothing to share
    engine.dispose()


def test_by_default_a_run_spreads_only_past_thousands_of_keys(judge_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Starting the workers costs seconds: by default a run takes one more process per 1,000 keys."""
    judge_env.delenv("JUDGE_KEYS_PER_PROCESS")
    get_settings.cache_clear()
    assert Settings().keys_per_process == 1000
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    assert [process_count(4, 64, keys, engine) for keys in (80, 1999, 2000, 10_000)] == [1, 1, 2, 4]
    engine.dispose()
    fake = FakeProvider()  # not started: only its url is used
    assert requested_processes(config(fake, processes=3)) == 3
    assert requested_processes(config(fake, processes=3, judges=(JudgeSpec(model="grader:auto"),))) == 1
    assert requested_processes(config(fake, processes=3, pairs="all", until_separated=True)) == 1


def test_two_processes_judge_what_one_judges_and_pay_each_key_once(
    db_url: str, tmp_path: Path, fake_provider: FakeProvider
) -> None:
    fake_provider.script(default={**PREFER_GOOD, "latency_ms": 50})  # type: ignore[arg-type]
    one = toy_store(f"sqlite:///{tmp_path / 'one.db'}")
    single = asyncio.run(execute_run(one, new_run(one, fake_provider, concurrency=8, processes=1)))
    assert fake_provider.counts()["received"] == KEYS
    fake_provider.reset()
    fake_provider.script(default={**PREFER_GOOD, "latency_ms": 50})  # type: ignore[arg-type]

    two = toy_store(db_url)
    run_id = new_run(two, fake_provider, concurrency=8, processes=2)
    with Watch(two, run_id) as watch:
        progress = watch.join()

    counts = fake_provider.counts()
    assert counts["received"] == counts["answered"] == counts["distinct"] == KEYS  # each key paid once
    assert len(watch.pids) == 2 and os.getpid() not in watch.pids  # two worker processes claimed keys
    assert judged(two) == judged(one) and len(judged(two)) == KEYS  # the same verdicts, key by key
    assert (progress.done, progress.ok, progress.cached, progress.stopped) == (KEYS, KEYS, 0, None)
    assert (single.done, single.ok) == (KEYS, KEYS)
    assert (summary(two, run_id).status, summary(two, run_id).missing) == ("completed", 0) and leases(two) == 0
    again = asyncio.run(execute_run(two, run_id))  # a rerun reuses every verdict
    assert (again.done, again.cached) == (0, KEYS) and fake_provider.counts()["received"] == KEYS
    one.dispose()
    two.dispose()


def _acquire(path: str, limits: dict[str, RateLimit], grants: int) -> None:
    limiter = FileRateLimiter(path, limits, burst_s=1e6)
    for _ in range(grants):
        asyncio.run(limiter.acquire("m", 1))
    limiter.close()


def test_the_file_limiter_is_one_bucket_for_every_process(tmp_path: Path) -> None:
    path = str(tmp_path / "limits")
    limits = {"m": RateLimit(requests_per_min=0.01)}  # 6000 s per request: the bucket stays ahead of the clock
    limiter = FileRateLimiter(path, limits, burst_s=1e6)
    assert asyncio.run(limiter.acquire("m", 1)) == 0.0 and asyncio.run(limiter.acquire("other", 1)) == 0.0
    first = limiter._read(0)[0]
    workers = [mp_context().Process(target=_acquire, args=(path, limits, 10)) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    assert [w.exitcode for w in workers] == [0, 0]
    assert limiter._read(0)[0] == pytest.approx(first + 20 * 6000.0)  # every grant of both processes was counted
    assert asyncio.run(limiter.slow_down("m")) == 0.5 and limiter._read(0)[2] == 0.5  # a 429 halves it for all
    limiter.close()


def test_processes_share_one_rate_limit(
    sqlite_url: str, fake_provider: FakeProvider, judge_env: pytest.MonkeyPatch
) -> None:
    # 100 s per request and a burst of 3,950 s: 40 calls may go at once, by the two workers together
    judge_env.setenv("JUDGE_RATE_LIMITS", '{"openai/fake-judge": {"requests_per_min": 0.6}}')
    judge_env.setenv("JUDGE_RATE_LIMIT_BURST_S", "3950")
    fake_provider.script(default=PREFER_GOOD)  # type: ignore[arg-type]
    engine = toy_store(sqlite_url)
    run_id = new_run(engine, fake_provider, concurrency=KEYS, processes=2)
    with Watch(engine, run_id) as watch:
        watch.wait_for(lambda: len(judged(engine)) >= 40)
        time.sleep(1.0)  # two limiters of their own would have let all 80 go by now
        assert fake_provider.counts()["received"] == 40
        watch.stop()
        watch.stop()  # the second Ctrl-C abandons the calls waiting for a grant
        progress = watch.join()

    assert len(watch.pids) == 2 and progress.done == 40 and "aborted" in (progress.stopped or "")
    assert len(judged(engine)) == 40 and leases(engine) == 0
    engine.dispose()


def test_the_budget_is_the_run_s_across_processes(sqlite_url: str, fake_provider: FakeProvider) -> None:
    fake_provider.script(default={**PREFER_GOOD, "latency_ms": 20})  # type: ignore[arg-type]
    engine = toy_store(sqlite_url)
    priced = JudgeSpec(model="openai/gpt-4o-mini", api_base=fake_provider.url)
    budget, concurrency = 2e-4, 4
    run_id = new_run(engine, fake_provider, judges=(priced,), concurrency=concurrency, processes=2, max_cost_usd=budget)
    with Watch(engine, run_id) as watch:
        progress = watch.join()

    with engine.connect() as conn:
        costs = sorted(conn.execute(text("SELECT cost_usd FROM verdict")).scalars())
        run_cost = conn.execute(text("SELECT cost_usd FROM run")).scalar_one()
    assert len(watch.pids) == 2 and "budget" in (progress.stopped or "")
    assert fake_provider.counts()["received"] == progress.done == len(costs) < KEYS
    assert sum(costs) == pytest.approx(run_cost) == pytest.approx(progress.cost_usd)
    # every call began while the run's total was under budget: at most the calls in flight went past it
    assert sum(costs) >= budget > sum(costs) - sum(costs[-concurrency:])
    assert summary(engine, run_id).status == "stopped" and leases(engine) == 0
    engine.dispose()


def test_a_cancel_seen_by_one_worker_stops_them_all(sqlite_url: str, fake_provider: FakeProvider) -> None:
    fake_provider.script(default={**PREFER_GOOD, "latency_ms": 100})  # type: ignore[arg-type]
    engine = toy_store(sqlite_url)
    run_id = new_run(engine, fake_provider, concurrency=4, processes=2)
    with Watch(engine, run_id) as watch:
        watch.wait_for(lambda: len(judged(engine)) >= 8)
        with session_scope(engine) as session:
            cancel_run(session, run_id=run_id)
        progress = watch.join()

    counts = fake_provider.counts()
    assert len(watch.pids) == 2 and progress.stopped is not None and "cancelled" in progress.stopped
    stored = len(judged(engine))
    assert counts["received"] == counts["answered"] == stored == progress.done < KEYS // 2  # both workers stopped
    assert summary(engine, run_id).status == RunStatus.CANCELLED and leases(engine) == 0
    engine.dispose()


@pytest.mark.slow
def test_ctrl_c_to_the_process_group_stops_every_worker(sqlite_url: str, fake_provider: FakeProvider) -> None:
    fake_provider.script(default={**PREFER_GOOD, "latency_ms": 300})  # type: ignore[arg-type]
    engine = toy_store(sqlite_url)
    root = str(Path(__file__).resolve().parents[1])
    env = {**os.environ, "JUDGE_DATABASE_URL": sqlite_url, "PYTHONPATH": root, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    args = ["run", "--set", "toy", "--judge", "openai/fake-judge", "--api-base", fake_provider.url]
    child = subprocess.Popen(
        [sys.executable, "-c", "from judge.cli import app; app()", *args, "--concurrency", "4", "--processes", "2"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group, as a terminal's foreground job
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(judged(engine)) < 6:
        time.sleep(0.02)
    os.killpg(child.pid, signal.SIGINT)  # what Ctrl-C does: the CLI, its forkserver and its workers get it
    output, _ = child.communicate(timeout=60)
    assert child.returncode == 130, output
    assert "stopping" in output and "Traceback" not in output

    counts = fake_provider.counts()
    assert counts["received"] == counts["answered"] == len(judged(engine)) < KEYS  # in flight: finished, written
    with engine.connect() as conn:
        status, note = conn.execute(text("SELECT status, note FROM run")).one()
    assert status == "stopped" and "interrupted" in note and leases(engine) == 0

    resumed = asyncio.run(execute_run(engine, 1))
    assert resumed.done == KEYS - counts["answered"] and fake_provider.counts()["answered"] == KEYS
    engine.dispose()


def test_a_killed_worker_stops_the_run_and_resume_pays_only_what_was_never_answered(
    sqlite_url: str, fake_provider: FakeProvider
) -> None:
    answered_first = 20
    fake_provider.script(
        rules=[{"times": answered_first, "behaviour": PREFER_GOOD}],
        default={"kind": "hang"},  # type: ignore[arg-type]
    )
    engine = toy_store(sqlite_url)
    run_id = new_run(engine, fake_provider, concurrency=4, processes=2)
    with Watch(engine, run_id) as watch:
        watch.wait_for(lambda: len(judged(engine)) >= answered_first and len(watch.pids) == 2)
        victim = min(watch.pids)
        os.kill(victim, signal.SIGKILL)  # its answers are written; two of its calls hang
        fake_provider.script(default=PREFER_GOOD)  # type: ignore[arg-type]  # the others time out and are retried
        progress = watch.join()

    assert progress.stopped is not None and "ended without a result" in progress.stopped
    with engine.connect() as conn:
        status, note = conn.execute(text("SELECT status, note FROM run")).one()
    assert status == "stopped" and "judge runs resume" in note
    dead_keys = KEYS - len(judged(engine))
    assert 0 < dead_keys < KEYS // 2  # the survivor judged all of its keys, the victim some of its own

    resumed = asyncio.run(execute_run(engine, run_id))  # the dead worker's leases are taken over at once
    assert resumed.done == dead_keys and len(judged(engine)) == KEYS and leases(engine) == 0
    assert fake_provider.counts()["answered"] == KEYS  # no answered call was asked again
    engine.dispose()


def test_an_api_run_asks_at_most_the_server_s_processes(judge_env: pytest.MonkeyPatch) -> None:
    from judge.api.runs import RunRequest
    from judge.core.errors import InputError

    judge_env.setenv("JUDGE_PROCESSES", "2")
    judges = [{"model": "openai/x"}]
    assert RunRequest.model_validate({"prompt_set_id": 1, "judges": judges}).processes == 2
    assert RunRequest.model_validate({"prompt_set_id": 1, "judges": judges, "processes": 1}).processes == 1
    with pytest.raises(InputError, match="at most 2 worker processes"):
        RunRequest.model_validate({"prompt_set_id": 1, "judges": judges, "processes": 3})
