"""A ``--batch`` run on the Celery backend: one task per round (follow, collect, submit: see
:mod:`judge.runs.batching`), which sends itself again after ``JUDGE_BATCH_POLL_S`` while the run's batches run at
the provider and finishes the run once none does. A worker slot is held only for a round, never for the hours a
batch takes. ``judge run --batch --backend celery`` follows the run from the database until a worker has
finished it; with ``--detach`` it returns once the first round is enqueued.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol

from sqlalchemy.engine import Engine

from judge.core.types import RunStatus, VerdictStatus
from judge.runs.backends.follow import Submission
from judge.runs.batching import batch_summaries
from judge.runs.service import ProgressCallback, RunProgress, get_run
from judge.settings import Settings
from judge.store import DEFAULT_TENANT, utcnow
from judge.store.engine import session_scope
from judge.store.runs import get_run_record, mark_running
from judge.store.verdicts import FINAL_STATUSES, final_keys, load_run_items, verdict_status_counts

FOLLOW_POLL_S = 1.0
"""At least this long between two reads of a followed batch run (its batches change every poll interval)."""


class BatchBroker(Protocol):
    """What a batch run needs from a broker."""

    def enqueue_batch_step(self, run_id: int, since: str) -> None: ...


def submit_batch_run(
    engine: Engine,
    run_id: int,
    broker: BatchBroker,
    *,
    tenant: str = DEFAULT_TENANT,
    unless_cancelled: bool = False,
) -> Submission:
    """Mark the run (of ``tenant``) running and enqueue its first batch round; the keys without a final verdict
    are what its rounds will submit (or collect from batches already submitted). With ``unless_cancelled`` a run
    cancelled meanwhile stays cancelled and nothing is enqueued (one conditional UPDATE)."""
    with session_scope(engine) as session:
        run = get_run(session, run_id=run_id, tenant=tenant)
        keys = [item.verdict_key for item in load_run_items(session, run_id=run_id)]
        counts, _items = verdict_status_counts(session, run_id=run_id)
        cost = run.cost_usd
        started = mark_running(session, run_id=run_id, unless_cancelled=unless_cancelled, finished_at=None, note=None)
        done = final_keys(session, keys=keys)
    final = {s: n for s, n in counts.items() if s in FINAL_STATUSES}
    if not started:
        return Submission(run_id=run_id, total=len(keys), cached=0, keys=(), baseline={}, cost_usd=cost, messages=0)
    todo = tuple(k for k in keys if k not in done)
    broker.enqueue_batch_step(run_id, utcnow().isoformat())
    return Submission(
        run_id=run_id,
        total=len(keys),
        cached=len(keys) - len(todo),
        keys=todo,
        baseline={},
        cost_usd=cost,
        messages=1,
        cached_statuses=final,
    )


def follow_batch_run(
    engine: Engine,
    submission: Submission,
    *,
    on_progress: ProgressCallback | None = None,
    scale: Settings | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> RunProgress:
    """Read the run's verdict counts and batches until a worker has finished it (its status is no longer
    active); the progress of this submission."""
    scale = scale or Settings()
    cached = submission.cached_statuses
    progress = RunProgress(total=submission.total, cached=submission.cached)
    started = time.monotonic()
    while True:
        with session_scope(engine) as session:
            state = get_run_record(session, run_id=submission.run_id)
            counts, _items = verdict_status_counts(session, run_id=submission.run_id)
            batches = batch_summaries(session, run_id=submission.run_id)
        status, note, cost = RunStatus(state.status), state.note, state.cost_usd
        progress.ok = counts.get(VerdictStatus.OK.value, 0) - cached.get(VerdictStatus.OK.value, 0)
        progress.unparseable = counts.get(VerdictStatus.UNPARSEABLE.value, 0) - cached.get(
            VerdictStatus.UNPARSEABLE.value, 0
        )
        progress.error = counts.get(VerdictStatus.ERROR.value, 0)
        progress.done = progress.ok + progress.unparseable + progress.error
        progress.cost_usd = cost - submission.cost_usd
        progress.elapsed_s = time.monotonic() - started
        active = [b for b in batches if b.state in ("submitting", "submitted")]
        progress.batch = (
            "; ".join(f"{b.batch_id or 'submitting'} {b.status} {b.completed + b.failed}/{b.lines}" for b in active)
            or None
        )
        if on_progress is not None:
            on_progress(progress)
        if not status.is_active:
            progress.stopped = note if status in (RunStatus.STOPPED, RunStatus.CANCELLED) else None
            return progress
        sleep(max(scale.follow_poll_s, FOLLOW_POLL_S))
