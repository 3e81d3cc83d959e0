"""Submit a run to the workers and follow it from the database.

Progress is read from the verdict table: a submitted key is done when it has a final verdict, or an ``error``
verdict written after submission (one whose fingerprint differs from the one seen at submission). When nothing
progresses for ``stall_s`` and the broker holds no message of the run (the queue was lost, e.g. a Redis restart
without persistence), the keys not done are enqueued again: duplicates are harmless (idempotent tasks).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from judge.backends.config import ScaleOutSettings
from judge.errors import BrokerError
from judge.run import ProgressCallback, RunProgress, finish_run, get_run
from judge.store.engine import session_scope
from judge.store.tables import Run, Verdict
from judge.store.verdicts import FINAL_STATUSES, load_run_items
from judge.types import Frozen, VerdictStatus

Fingerprint = str


class Broker(Protocol):
    """What the follower needs from a broker."""

    def enqueue(self, run_id: int, keys: Sequence[str]) -> int:
        """Send the keys as tasks; BrokerError when the broker cannot take them."""
        ...

    def pending(self, run_id: int) -> int | None:
        """The run's messages still queued or in flight; None when unknown."""
        ...


class Submission(Frozen):
    """A run handed to the workers: the keys enqueued, and the error verdicts they had before."""

    run_id: int
    total: int
    cached: int
    keys: tuple[str, ...]
    baseline: dict[str, Fingerprint]
    cost_usd: float
    messages: int


def _states(session: Session, keys: Iterable[str]) -> dict[str, tuple[str, Fingerprint]]:
    found: dict[str, tuple[str, Fingerprint]] = {}
    key_list = list(keys)
    for start in range(0, len(key_list), 500):
        columns = [
            col(c)
            for c in (Verdict.verdict_key, Verdict.status, Verdict.created_at, Verdict.latency_ms, Verdict.attempts)
        ]
        rows = session.execute(select(*columns).where(col(Verdict.verdict_key).in_(key_list[start : start + 500])))
        for key, status, created, latency, attempts in rows:
            found[key] = (status, f"{created.isoformat()}|{latency}|{attempts}")
    return found


def submit_run(engine: Engine, run_id: int, broker: Broker, scale: ScaleOutSettings | None = None) -> Submission:
    """Mark the run running and enqueue every key without a final verdict."""
    scale = scale or ScaleOutSettings()
    with session_scope(engine) as session:
        run = get_run(session, run_id=run_id)
        scale.check_call_fits(float(run.config.get("timeout_s", 60.0)))
        keys = [item.verdict_key for item in load_run_items(session, run_id=run_id)]
        states = _states(session, keys)
        run.status, run.finished_at, run.note = "running", None, None
        cost = run.cost_usd
    todo = tuple(k for k in keys if states.get(k, ("", ""))[0] not in FINAL_STATUSES)
    baseline = {k: states[k][1] for k in todo if k in states}
    messages = broker.enqueue(run_id, todo)
    return Submission(
        run_id=run_id,
        total=len(keys),
        cached=len(keys) - len(todo),
        keys=todo,
        baseline=baseline,
        cost_usd=cost,
        messages=messages,
    )


class _Follower:
    def __init__(self, engine: Engine, submission: Submission) -> None:
        self.engine, self.submission = engine, submission
        self.waiting = set(submission.keys)
        self.progress = RunProgress(total=submission.total, cached=submission.cached)
        self.started = time.monotonic()

    def poll(self) -> bool:
        """Read the new verdicts; True when some key got done."""
        with session_scope(self.engine) as session:
            states = _states(session, self.waiting)
            run = session.get(Run, self.submission.run_id)
            assert run is not None
            status, cost = run.status, run.cost_usd
        p = self.progress
        before = p.done
        for key, (state, fingerprint) in states.items():
            if state == VerdictStatus.ERROR.value and self.submission.baseline.get(key) == fingerprint:
                continue  # the error from before submission: not judged again yet
            self.waiting.discard(key)
            p.done += 1
            p.ok += state == VerdictStatus.OK.value
            p.unparseable += state == VerdictStatus.UNPARSEABLE.value
            p.error += state == VerdictStatus.ERROR.value
        p.cost_usd = cost - self.submission.cost_usd
        p.elapsed_s = time.monotonic() - self.started
        if status == "cancelled":
            p.stopped = "cancelled"
        elif budget_note(run) is not None and self.waiting:
            p.stopped = budget_note(run)
        return p.done > before


def budget_note(run: Run) -> str | None:
    """The stop note when the run's --max-cost budget is spent."""
    budget = run.config.get("max_cost_usd")
    return f"budget of ${budget:.4f} reached" if budget is not None and run.cost_usd >= budget else None


def follow_run(
    engine: Engine,
    submission: Submission,
    broker: Broker,
    *,
    on_progress: ProgressCallback | None = None,
    scale: ScaleOutSettings | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> RunProgress:
    """Poll the database until every submitted key is done (or the run is cancelled or over budget), enqueue
    again what a lost queue dropped, then finish the run."""
    scale = scale or ScaleOutSettings()
    follower = _Follower(engine, submission)
    last_change = time.monotonic()
    while True:
        if follower.poll():
            last_change = time.monotonic()
        if on_progress is not None:
            on_progress(follower.progress)
        if not follower.waiting or follower.progress.stopped is not None:
            break
        if time.monotonic() - last_change >= scale.stall_s and broker.pending(submission.run_id) == 0:
            try:
                broker.enqueue(submission.run_id, sorted(follower.waiting))
                last_change = time.monotonic()
            except BrokerError:  # broker still down: try again after the next stall period
                last_change = time.monotonic()
        sleep(scale.follow_poll_s)
    finish_run(engine, submission.run_id, stopped=follower.progress.stopped)
    return follower.progress
