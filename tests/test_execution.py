"""A judge call is paid once: concurrent runs of one plan, a resumed run after a kill, Ctrl-C, a locked SQLite
database. The fake provider counts the calls it received and answered; verdicts are counted by key."""

from __future__ import annotations

import asyncio
import fcntl
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.engine import Engine

from judge.core.errors import StoreError
from judge.llm.client import LiteLLMClient
from judge.runs.backends.unit import judge_keys, run_context
from judge.runs.execution import database_id, store_recovered
from judge.runs.service import create_run, execute_run
from judge.store.engine import make_engine, session_scope, upgrade_database
from judge.store.ingest import write_bundle
from judge.testing.fake_provider import FakeProvider
from judge.testing.toy import toy_bundle
from tests.toy import FAST_RETRIES, PREFER_GOOD, PROMPTS, config, summary

KEYS = 2 * PROMPTS


def new_run(engine: Engine, provider: FakeProvider, **overrides: Any) -> int:
    with session_scope(engine) as session:
        created, _ = create_run(session, config=config(provider, **overrides))
    assert created.id is not None
    return created.id


def stored(engine: Engine) -> Counter[str]:
    with engine.connect() as conn:
        return Counter(row[0] for row in conn.execute(text("SELECT verdict_key FROM verdict")))


def leases(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM verdict_lease")).scalar_one())


def when(condition: Callable[[], bool], action: Callable[[], None], timeout_s: float = 60) -> threading.Thread:
    """Run ``action`` in the background once ``condition()`` holds."""

    def watch() -> None:
        deadline = time.monotonic() + timeout_s
        while not condition() and time.monotonic() < deadline:
            time.sleep(0.02)
        action()

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


def test_two_concurrent_runs_of_one_plan_call_once_per_key(store: Engine, fake_provider: FakeProvider) -> None:
    fake_provider.script(default={**PREFER_GOOD, "latency_ms": 100})  # type: ignore[arg-type]
    runs = [new_run(store, fake_provider, concurrency=3) for _ in range(2)]
    results: dict[int, Any] = {}
    start = threading.Barrier(2)

    def execute(run_id: int) -> None:
        start.wait()
        results[run_id] = asyncio.run(execute_run(store, run_id, LiteLLMClient(FAST_RETRIES)))

    threads = [threading.Thread(target=execute, args=(run_id,)) for run_id in runs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    counts = fake_provider.counts()
    assert counts["received"] == counts["answered"] == counts["distinct"] == KEYS  # one call per key in all
    assert sorted(stored(store).values()) == [1] * KEYS
    assert sum(p.done for p in results.values()) == KEYS and min(p.done for p in results.values()) > 0
    for run_id, progress in results.items():
        assert progress.done + progress.cached == KEYS  # the other run's verdicts count as reused
        assert (summary(store, run_id).status, summary(store, run_id).missing) == ("completed", 0)
    assert leases(store) == 0


def _short_busy_timeout(engine: Engine) -> Engine:
    """SQLite gives up on a lock after 100 ms instead of 30 s (a lock held longer exercises the retries)."""

    def pragma(connection: Any, _record: Any) -> None:
        connection.execute("PRAGMA busy_timeout=100")

    event.listen(engine, "connect", pragma)
    return engine


def _lock_database(path: str, seconds: float, held: list[int], engine: Engine) -> Callable[[], None]:
    """Hold an exclusive lock on the SQLite file from another connection for ``seconds``."""

    def lock() -> None:
        conn = sqlite3.connect(path, isolation_level=None)
        conn.execute("BEGIN EXCLUSIVE")
        held.append(sum(stored(engine).values()))
        time.sleep(seconds)
        conn.execute("COMMIT")
        conn.close()

    return lock


def _locked_mid_run(
    sqlite_url: str, provider: FakeProvider, *, latency_ms: int, concurrency: int, lock_s: float
) -> tuple[Engine, int, list[int], threading.Thread]:
    """A toy run on a SQLite file that another connection locks for ``lock_s`` once two verdicts are stored: the
    engine, the run's id, the verdicts stored when the lock came (filled then) and the thread that locks."""
    upgrade_database(sqlite_url)
    engine = _short_busy_timeout(make_engine(sqlite_url))
    with session_scope(engine) as session:
        write_bundle(session, set_name="toy", bundle=toy_bundle(PROMPTS))
    provider.script(default={**PREFER_GOOD, "latency_ms": latency_ms})  # type: ignore[arg-type]
    run_id = new_run(engine, provider, concurrency=concurrency)
    held: list[int] = []
    path = sqlite_url.removeprefix("sqlite:///")
    locker = when(lambda: sum(stored(engine).values()) >= 2, _lock_database(path, lock_s, held, engine))
    return engine, run_id, held, locker


def test_a_locked_database_delays_writes_and_loses_no_paid_verdict(
    sqlite_url: str, fake_provider: FakeProvider
) -> None:
    engine, run_id, held, locker = _locked_mid_run(sqlite_url, fake_provider, latency_ms=150, concurrency=2, lock_s=2.5)
    progress = asyncio.run(execute_run(engine, run_id, LiteLLMClient(FAST_RETRIES)))
    locker.join()

    assert 2 <= held[0] < KEYS  # the lock came mid-run, and outlasted the busy timeout 25 times
    counts = fake_provider.counts()
    assert counts["received"] == counts["answered"] == KEYS  # nothing paid was lost and paid again
    assert sorted(stored(engine).values()) == [1] * KEYS and progress.done == KEYS
    assert summary(engine, run_id).status == "completed"
    engine.dispose()


def test_past_the_bound_paid_verdicts_go_to_a_recovery_file_that_resume_stores(
    sqlite_url: str, fake_provider: FakeProvider, judge_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    judge_env.setenv("JUDGE_WRITE_RETRY_MAX_S", "0.5")
    judge_env.setenv("JUDGE_LEASE_TTL_S", "2")
    judge_env.setenv("JUDGE_RECOVERY_DIR", str(tmp_path / "recovery"))
    engine, run_id, held, locker = _locked_mid_run(sqlite_url, fake_provider, latency_ms=300, concurrency=3, lock_s=4.0)
    with pytest.raises(StoreError) as failure:
        asyncio.run(execute_run(engine, run_id, LiteLLMClient(FAST_RETRIES)))
    assert str(failure.value).startswith("database busy") and "INSERT" not in str(failure.value)
    locker.join()

    files = list((tmp_path / "recovery").glob(f"run-{run_id}-*.jsonl"))
    assert len(files) == 1
    lines = files[0].read_text().splitlines()
    assert '"journal"' in lines[0]  # the header: which database (and owner) its verdicts belong to
    saved = len(lines) - 1
    assert saved >= 1 and sum(stored(engine).values()) == held[0]  # paid while locked: in the file, not lost
    answered_before = fake_provider.counts()["answered"]
    assert answered_before == held[0] + saved

    resumed = asyncio.run(execute_run(engine, run_id, LiteLLMClient(FAST_RETRIES)))
    assert fake_provider.counts()["answered"] == KEYS  # the saved verdicts were stored, not paid again
    assert resumed.done == KEYS - answered_before
    assert sorted(stored(engine).values()) == [1] * KEYS and summary(engine, run_id).status == "completed"
    assert not list((tmp_path / "recovery").glob("*.jsonl"))  # stored files are renamed *.jsonl.stored
    engine.dispose()


def _env(url: str) -> dict[str, str]:
    root = str(Path(__file__).resolve().parents[1])
    return {**os.environ, "JUDGE_DATABASE_URL": url, "PYTHONPATH": root, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}


EXECUTE = """
import asyncio, sys
from judge.llm.client import LiteLLMClient
from judge.llm.retry import RetryPolicy
from judge.runs.service import execute_run
from judge.store.engine import make_engine
asyncio.run(execute_run(make_engine(sys.argv[1]), int(sys.argv[2]), LiteLLMClient(RetryPolicy(max_attempts=1))))
"""


@pytest.mark.slow
def test_resume_after_kill_9_calls_only_what_was_never_answered(
    sqlite_store: Engine, fake_provider: FakeProvider
) -> None:
    answered_first = 5
    fake_provider.script(
        rules=[{"times": answered_first, "behaviour": PREFER_GOOD}],
        default={"kind": "hang"},  # type: ignore[arg-type]
    )
    run_id = new_run(sqlite_store, fake_provider, concurrency=3)
    url = sqlite_store.url.render_as_string(hide_password=False)
    child = subprocess.Popen([sys.executable, "-c", EXECUTE, url, str(run_id)], env=_env(url))
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and (
        sum(stored(sqlite_store).values()) < answered_first or fake_provider.counts()["received"] < answered_first + 3
    ):
        time.sleep(0.05)
    os.kill(child.pid, signal.SIGKILL)  # answered calls are written; three more are in flight
    child.wait()
    assert sum(stored(sqlite_store).values()) == answered_first
    assert leases(sqlite_store) >= 3  # the dead run's: in flight, and claimed for the next free slot

    fake_provider.script(default=PREFER_GOOD)  # type: ignore[arg-type]
    resumed = asyncio.run(execute_run(sqlite_store, run_id, LiteLLMClient(FAST_RETRIES)))
    counts = fake_provider.counts()
    assert resumed.done == KEYS - answered_first  # the dead run's leases were taken over at once
    assert counts["answered"] == KEYS  # no written verdict was asked again
    assert sorted(stored(sqlite_store).values()) == [1] * KEYS and leases(sqlite_store) == 0


@pytest.mark.slow
def test_ctrl_c_finishes_the_calls_in_flight_and_marks_the_run_stopped(
    sqlite_store: Engine, fake_provider: FakeProvider
) -> None:
    fake_provider.script(default={**PREFER_GOOD, "latency_ms": 400})  # type: ignore[arg-type]
    url = sqlite_store.url.render_as_string(hide_password=False)
    command = "from judge.cli import app; app()"
    args = ["run", "--set", "toy", "--judge", "openai/fake-judge", "--api-base", fake_provider.url]
    child = subprocess.Popen(
        [sys.executable, "-c", command, *args, "--concurrency", "2"],
        env=_env(url),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and fake_provider.counts()["received"] < 3:
        time.sleep(0.02)
    child.send_signal(signal.SIGINT)
    output, _ = child.communicate(timeout=60)
    assert child.returncode == 130, output
    assert "stopping" in output and "Traceback" not in output

    counts = fake_provider.counts()
    assert counts["received"] == counts["answered"] < KEYS  # the calls in flight were finished, none begun
    assert sum(stored(sqlite_store).values()) == counts["answered"]  # and every answer was written
    with sqlite_store.connect() as conn:
        status, note = conn.execute(text("SELECT status, note FROM run")).one()
    assert status == "stopped" and "interrupted" in note and leases(sqlite_store) == 0

    resumed = asyncio.run(execute_run(sqlite_store, 1, LiteLLMClient(FAST_RETRIES)))
    assert resumed.done == KEYS - counts["answered"] and fake_provider.counts()["answered"] == KEYS


def test_a_redelivered_unit_waits_for_the_delivery_still_running(engine: Engine, fake_provider: FakeProvider) -> None:
    fake_provider.script(default={**PREFER_GOOD, "latency_ms": 600})  # type: ignore[arg-type]
    with session_scope(engine) as session:
        write_bundle(session, set_name="toy", bundle=toy_bundle(2))
    run_id = new_run(engine, fake_provider)
    context = run_context(engine, run_id)
    keys = sorted(context.by_key)
    results: list[Any] = []

    def deliver() -> None:
        results.append(asyncio.run(judge_keys(engine, context, LiteLLMClient(FAST_RETRIES), keys)))

    first = threading.Thread(target=deliver)
    first.start()
    while fake_provider.counts()["received"] < len(keys):  # the first delivery's calls are in flight
        time.sleep(0.01)
    deliver()  # the redelivery (visibility timeout passed) while the first still runs
    first.join()

    assert fake_provider.counts()["received"] == len(keys)  # paid once
    assert sorted((r.judged, r.skipped) for r in results) == [(0, len(keys)), (len(keys), 0)]
    assert sorted(stored(engine).values()) == [1] * len(keys) and leases(engine) == 0


def _journaled(folder: Path) -> int:
    """Verdict lines in the journals of ``folder`` (header lines not counted)."""
    return sum(
        1 for path in folder.glob("*.jsonl") for line in path.read_text().splitlines() if '"journal"' not in line
    )


@pytest.mark.slow
def test_kill_9_after_answers_were_journaled_but_not_written_pays_nothing_twice(
    sqlite_store: Engine, fake_provider: FakeProvider, tmp_path: Path
) -> None:
    fake_provider.script(default={**PREFER_GOOD, "latency_ms": 800})  # type: ignore[arg-type]
    url = sqlite_store.url.render_as_string(hide_password=False)
    journals = tmp_path / "journals"
    env = {**_env(url), "JUDGE_RECOVERY_DIR": str(journals)}
    command = "from judge.cli import app; app()"
    args = ["run", "--set", "toy", "--judge", "openai/fake-judge", "--api-base", fake_provider.url]
    child = subprocess.Popen(
        [sys.executable, "-c", command, *args, "--concurrency", "1"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and fake_provider.counts()["received"] < 1:
        time.sleep(0.01)
    locker = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None, timeout=30)
    locker.execute("BEGIN EXCLUSIVE")  # from now on no verdict can be written (nor another key claimed)
    try:
        assert fake_provider.counts()["answered"] == 0  # the lock came before the first answer
        # wait until every call the provider received was answered and journaled: nothing is in flight, and
        # the next call waits for a claim the lock blocks
        while time.monotonic() < deadline:
            counts = fake_provider.counts()
            if counts["answered"] >= 1 and counts["received"] == counts["answered"] == _journaled(journals):
                break
            time.sleep(0.02)
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
    finally:
        locker.execute("COMMIT")
        locker.close()
    paid = fake_provider.counts()["answered"]
    assert paid >= 1 and _journaled(journals) == paid  # answered, journaled...
    assert sum(stored(sqlite_store).values()) == 0  # ...and never written to the database

    fake_provider.script(default=PREFER_GOOD)  # type: ignore[arg-type]
    resume = subprocess.run(
        [sys.executable, "-c", command, "runs", "resume", "1"], env=env, capture_output=True, text=True, timeout=120
    )
    assert resume.returncode == 0, resume.stdout + resume.stderr
    counts = fake_provider.counts()
    assert counts["answered"] == counts["distinct"] == KEYS  # exactly one paid call per verdict
    assert sorted(stored(sqlite_store).values()) == [1] * KEYS and leases(sqlite_store) == 0
    assert summary(sqlite_store, 1).status == "completed"
    assert not list(journals.glob("*.jsonl")) and len(list(journals.glob("*.jsonl.stored"))) == 1


def _journal_of(engine: Engine, folder: Path, name: str, database: str, cost: float) -> tuple[int, int]:
    """Move every stored verdict of ``engine`` into a journal named ``name`` (as a killed executor leaves it):
    the verdicts are deleted from the database, each costs ``cost``; (verdicts, run id)."""
    with engine.begin() as conn:
        rows = [dict(r._mapping) for r in conn.execute(text("SELECT * FROM verdict"))]
        conn.execute(text("DELETE FROM verdict"))
        conn.execute(text("UPDATE run SET cost_usd = 0"))
    lines = [json.dumps({"journal": {"database": database, "owner": name}})]
    for row in rows:
        row.pop("id")
        row["created_at"] = datetime.now(UTC).isoformat()  # as the executor journals it
        row["sampling"] = json.loads(row["sampling"]) if isinstance(row["sampling"], str) else row["sampling"]
        lines.append(json.dumps({**row, "cost_usd": cost}))
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text("\n".join(lines) + "\n")
    return len(rows), int(rows[0]["run_id"])


def _run_cost(engine: Engine, run_id: int) -> float:
    with engine.connect() as conn:
        return float(conn.execute(text("SELECT cost_usd FROM run WHERE id = :i"), {"i": run_id}).scalar_one())


def test_journals_of_dead_executors_only_are_stored_once_into_their_own_database(
    store: Engine, fake_provider: FakeProvider, tmp_path: Path
) -> None:
    fake_provider.script(default=PREFER_GOOD)  # type: ignore[arg-type]
    run_id = new_run(store, fake_provider, concurrency=4)
    asyncio.run(execute_run(store, run_id, LiteLLMClient(FAST_RETRIES)))
    folder = tmp_path / "journals"
    name = f"run-{run_id}-otherhost_4242_abcdef012345.jsonl"
    count, _ = _journal_of(store, folder, name, database_id(store), cost=0.01)
    assert count == KEYS and sum(stored(store).values()) == 0

    holder = os.open(folder / name, os.O_RDWR)  # a live executor holds its journal locked
    fcntl.flock(holder, fcntl.LOCK_EX)
    assert store_recovered(store, run_id, str(folder)) == 0 and sum(stored(store).values()) == 0
    os.close(holder)  # it died (the kernel drops the lock)

    assert store_recovered(store, run_id, str(folder)) == KEYS
    assert sorted(stored(store).values()) == [1] * KEYS
    assert _run_cost(store, run_id) == pytest.approx(0.01 * KEYS)
    assert not list(folder.glob("*.jsonl")) and len(list(folder.glob("*.jsonl.stored"))) == 1

    with store.connect() as conn:  # the same journal again (its executor died after writing, before truncating)
        saved = [dict(r._mapping) for r in conn.execute(text("SELECT * FROM verdict"))]
    (folder / name).write_text((folder / name).with_suffix(".jsonl.stored").read_text())
    assert store_recovered(store, run_id, str(folder)) == KEYS
    assert sorted(stored(store).values()) == [1] * KEYS
    assert _run_cost(store, run_id) == pytest.approx(0.01 * KEYS)  # stored once, cost counted once
    with store.connect() as conn:
        assert [dict(r._mapping) for r in conn.execute(text("SELECT * FROM verdict"))] == saved

    other = f"run-{run_id}-otherhost_4243_abcdef012345.jsonl"  # a journal of another database in the same folder
    (folder / other).write_text(json.dumps({"journal": {"database": "0" * 16, "owner": "x"}}) + "\n{}\n")
    assert store_recovered(store, run_id, str(folder)) == 0 and (folder / other).exists()

    before = fake_provider.counts()["answered"]
    resumed = asyncio.run(execute_run(store, run_id, LiteLLMClient(FAST_RETRIES)))
    assert resumed.done == 0 and fake_provider.counts()["answered"] == before  # nothing called again
