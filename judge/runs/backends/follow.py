"""Submit a run to the workers and follow it from the database.

Progress is read from the verdict table: a submitted key is done when it has a final verdict, or an ``error``
verdict written after submission (one whose fingerprint differs from the one seen at submission). When nothing
progresses for ``stall_s`` and the broker holds no message of the run (the queue was lost, e.g. a Redis restart
without persistence), the keys not done are enqueued again: duplicates are harmless (idempotent tasks).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence
from contextlib import suppress
from typing import Protocol

from pydantic import Field
from sqlalchemy.engine import Engine

from judge.core.errors import BrokerError
from judge.core.types import Frozen, RunStatus, VerdictStatus
from judge.runs.service import (
    ProgressCallback,
    RunProgress,
    budget_note,
    finish_run,
    get_run,
    refuse_adaptive_on_celery,
    run_config,
)
from judge.settings import Settings
from judge.store import DEFAULT_TENANT
from judge.store.engine import session_scope
from judge.store.records import RunRecord
from judge.store.runs import find_run, mark_running
from judge.store.verdicts import FINAL_STATUSES, load_run_items, verdict_fingerprints, verdict_status_counts

Fingerprint = str
MAX_BACKOFF = 4


class Broker(Protocol):
    """What the follower needs from a broker."""

    def enqueue(self, run_id: int, keys: Sequence[str]) -> int:
        """Send the keys as tasks; BrokerError when the broker cannot take them."""
        ...

    def pending(self, run_id: int) -> int | None:
        """The run's messages still queued or in flight; None when unknown."""
        ...


class Submission(Frozen):
    """A run handed to the workers: the keys enqueued, the error verdicts they had before, and the statuses of
    the keys already final (cached)."""

    run_id: int
    total: int
    cached: int
    keys: tuple[str, ...]
    baseline: dict[str, Fingerprint]
    cost_usd: float
    messages: int
    cached_statuses: dict[str, int] = Field(default_factory=dict)


def submit_run(
    engine: Engine,
    run_id: int,
    broker: Broker,
    scale: Settings | None = None,
    *,
    tenant: str = DEFAULT_TENANT,
    unless_cancelled: bool = False,
) -> Submission:
    """Mark the run (of ``tenant``) running and enqueue every key without a final verdict. With
    ``unless_cancelled`` (a fresh run, not a resume), a run cancelled meanwhile stays cancelled and nothing is
    enqueued: the status changes in one conditional UPDATE, so a concurrent cancel is never overwritten."""
    scale = scale or Settings()
    with session_scope(engine) as session:
        run = get_run(session, run_id=run_id, tenant=tenant)
        refuse_adaptive_on_celery(run_config(run))
        scale.check_call_fits(run_config(run).timeout_s)
        keys = [item.verdict_key for item in load_run_items(session, run_id=run_id)]
        states = verdict_fingerprints(session, keys=keys)
        cost = run.cost_usd
        started = mark_running(session, run_id=run_id, unless_cancelled=unless_cancelled, finished_at=None, note=None)
    if not started:
        return Submission(run_id=run_id, total=len(keys), cached=0, keys=(), baseline={}, cost_usd=cost, messages=0)
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
        cached_statuses=dict(Counter(state for state, _ in states.values() if state in FINAL_STATUSES)),
    )


class _Follower:
    """Progress from one aggregate query per poll (verdict counts by status over the run's items), plus the
    few keys whose ``error`` verdict predates the submission; the keys still waiting are read only when needed
    (to enqueue them again)."""

    def __init__(self, engine: Engine, submission: Submission) -> None:
        self.engine, self.submission = engine, submission
        self.stale = dict(submission.baseline)  # error verdicts from before submission, not judged again yet
        self.progress = RunProgress(total=submission.total, cached=submission.cached)
        self.started = time.monotonic()
        self.run: RunRecord | None = None

    @property
    def remaining(self) -> int:
        """Submitted keys not done yet."""
        return len(self.submission.keys) - self.progress.done

    def waiting(self) -> list[str]:
        """The submitted keys not done yet, sorted (one read of their states)."""
        with session_scope(self.engine) as session:
            states = verdict_fingerprints(session, keys=self.submission.keys)
        return sorted(
            k
            for k in self.submission.keys
            if k not in states
            or (states[k][0] == VerdictStatus.ERROR.value and self.submission.baseline.get(k) == states[k][1])
        )

    def poll(self) -> bool:
        """Read the run's verdict counts; True when some key got done."""
        run_id = self.submission.run_id
        with session_scope(self.engine) as session:
            counts, _items = verdict_status_counts(session, run_id=run_id)
            if self.stale:
                states = verdict_fingerprints(session, keys=self.stale)
                self.stale = {
                    k: f
                    for k, f in self.stale.items()
                    if states.get(k, ("", ""))[0] == VerdictStatus.ERROR.value and states[k][1] == f
                }
            self.run = find_run(session, run_id=run_id)
            assert self.run is not None
        cached = self.submission.cached_statuses
        p = self.progress
        before = p.done
        p.ok = counts.get(VerdictStatus.OK.value, 0) - cached.get(VerdictStatus.OK.value, 0)
        p.unparseable = counts.get(VerdictStatus.UNPARSEABLE.value, 0) - cached.get(VerdictStatus.UNPARSEABLE.value, 0)
        p.error = counts.get(VerdictStatus.ERROR.value, 0) - len(self.stale)
        p.done = p.ok + p.unparseable + p.error
        p.cost_usd = self.run.cost_usd - self.submission.cost_usd
        p.elapsed_s = time.monotonic() - self.started
        if self.run.status == RunStatus.CANCELLED:
            p.stopped = RunStatus.CANCELLED.value
        elif budget_note(self.run) is not None and self.remaining > 0:
            p.stopped = budget_note(self.run)
        return p.done > before


def follow_run(
    engine: Engine,
    submission: Submission,
    broker: Broker,
    *,
    on_progress: ProgressCallback | None = None,
    scale: Settings | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> RunProgress:
    """Poll the database until every submitted key is done (or the run is cancelled or over budget), enqueue
    again what a lost queue dropped, then finish the run. Polls every ``follow_poll_s`` while verdicts arrive,
    backing off to ``MAX_BACKOFF`` times that while nothing changes."""
    scale = scale or Settings()
    follower = _Follower(engine, submission)
    last_change = time.monotonic()
    interval = scale.follow_poll_s
    while True:
        if follower.poll():
            last_change, interval = time.monotonic(), scale.follow_poll_s
        else:
            interval = min(interval * 2, scale.follow_poll_s * MAX_BACKOFF)
        if on_progress is not None:
            on_progress(follower.progress)
        if follower.remaining == 0 or follower.progress.stopped is not None:
            break
        if time.monotonic() - last_change >= scale.stall_s and broker.pending(submission.run_id) == 0:
            with suppress(BrokerError):  # broker still down: try again after the next stall period
                broker.enqueue(submission.run_id, follower.waiting())
            last_change, interval = time.monotonic(), scale.follow_poll_s
        sleep(interval)
    finish_run(engine, submission.run_id, stopped=follower.progress.stopped)
    return follower.progress
