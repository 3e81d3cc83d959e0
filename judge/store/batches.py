"""The provider batches of runs judged with ``--batch`` (table ``run_batch``): typed records in and out.

A batch's keys are leased to the owner ``batch:<row id>`` (:func:`batch_owner`) from before its upload until its
results are stored, with an expiry past the provider's completion window, so no other executor pays for them
meanwhile; :func:`collect_batch` stores the results, releases those leases and adds the cost to the run in one
transaction that also moves the row to ``collected``, exactly once whoever races it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import select, update
from sqlalchemy.engine import CursorResult
from sqlmodel import Session, col

from judge.core.types import Frozen, VerdictRecord
from judge.store.leases import Claim, claim_keys, release_leases
from judge.store.runs import add_run_cost
from judge.store.tables import RunBatch, utcnow
from judge.store.verdicts import final_keys, upsert_verdicts

SUBMITTING, SUBMITTED, COLLECTED, ABANDONED = "submitting", "submitted", "collected", "abandoned"
ACTIVE_STATES = (SUBMITTING, SUBMITTED)


class BatchRecord(Frozen):
    """One provider batch of a run, as stored (see :class:`judge.store.tables.RunBatch`)."""

    id: int
    run_id: int
    judge_model: str
    api_base: str | None = None
    keys: tuple[str, ...]
    retry_keys: tuple[str, ...] = ()
    state: str
    owner: str
    provider_status: str | None = None
    batch_id: str | None = None
    input_file_id: str | None = None
    output_file_id: str | None = None
    error_file_id: str | None = None
    n_total: int = 0
    n_completed: int = 0
    n_failed: int = 0
    cost_usd: float = 0.0
    note: str | None = None
    created_at: datetime
    submitted_at: datetime | None = None
    collected_at: datetime | None = None

    @property
    def active(self) -> bool:
        """Submitting or submitted: its keys are leased to it."""
        return self.state in ACTIVE_STATES


def batch_owner(batch_row: int) -> str:
    """The lease owner of a batch's keys."""
    return f"batch:{batch_row}"


def _record(row: RunBatch) -> BatchRecord:
    return BatchRecord.model_validate(
        {**row.model_dump(), "keys": tuple(row.keys), "retry_keys": tuple(row.retry_keys or ())}
    )


def load_batches(session: Session, *, run_id: int) -> list[BatchRecord]:
    """A run's batches, oldest first."""
    rows = session.execute(select(RunBatch).where(col(RunBatch.run_id) == run_id).order_by(col(RunBatch.id)))
    return [_record(r) for r in rows.scalars()]


def open_batch(
    session: Session,
    *,
    run_id: int,
    judge_model: str,
    api_base: str | None,
    keys: Sequence[str],
    owner: str,
    lease_until: float,
    now: float,
) -> tuple[BatchRecord, Claim] | None:
    """Write a ``submitting`` batch of run ``run_id`` and lease ``keys`` to it until ``lease_until``; the keys it
    got are its keys (the others are final, or leased to another executor). None (nothing written) when it got
    none. Run it in its own transaction."""
    row = RunBatch(run_id=run_id, judge_model=judge_model, api_base=api_base, keys=[], owner=owner)
    session.add(row)
    session.flush()
    assert row.id is not None
    claim = claim_keys(session, keys=keys, owner=batch_owner(row.id), run_id=run_id, ttl_s=lease_until - now, now=now)
    if not claim.granted:
        session.delete(row)
        return None
    row.keys = list(claim.granted)
    row.n_total = len(claim.granted)
    session.flush()
    return _record(row), claim


def record_status(
    session: Session,
    *,
    batch_row: int,
    batch_id: str,
    provider_status: str,
    counts: tuple[int, int, int],
    files: tuple[str | None, str | None, str | None],
) -> None:
    """What the provider says of a batch now (a ``submitting`` one becomes ``submitted``)."""
    total, completed, failed = counts
    input_file, output_file, error_file = files
    values: dict[str, Any] = {
        "batch_id": batch_id,
        "provider_status": provider_status,
        "n_total": total,
        "n_completed": completed,
        "n_failed": failed,
        "input_file_id": input_file,
        "output_file_id": output_file,
        "error_file_id": error_file,
    }
    session.execute(
        update(RunBatch)
        .where(col(RunBatch.id) == batch_row, col(RunBatch.state) == SUBMITTING)
        .values(state=SUBMITTED, submitted_at=utcnow())
    )
    session.execute(update(RunBatch).where(col(RunBatch.id) == batch_row).values(**values))


def abandon_batch(session: Session, *, batch_row: int, note: str) -> bool:
    """Give up an active batch that never reached the provider (or ended there without any result): its keys'
    leases are released. False when it was no longer active (collected or abandoned meanwhile)."""
    result = session.execute(
        update(RunBatch)
        .where(col(RunBatch.id) == batch_row, col(RunBatch.state).in_(ACTIVE_STATES))
        .values(state=ABANDONED, note=note, collected_at=utcnow())
    )
    if cast(CursorResult[Any], result).rowcount != 1:
        return False
    release_leases(session, owner=batch_owner(batch_row), keys=None)
    return True


def collect_batch(
    session: Session,
    *,
    batch_row: int,
    run_id: int,
    rows: Sequence[VerdictRecord],
    note: str | None,
    retry_keys: Sequence[str] = (),
) -> bool:
    """Store an ended batch's results, once: the row moves to ``collected`` (only from an active state), its
    verdicts are written (keys already final are left as they are), every lease of the batch is released and
    the cost of its answered lines is added to the run and the batch. False (nothing written) when another
    executor collected it first. ``retry_keys``: the keys whose line failed with a retryable status (429, 5xx,
    expired). Run it in its own transaction."""
    cost = sum(row.cost_usd or 0.0 for row in rows)  # what the provider charged, whoever wrote first
    result = session.execute(
        update(RunBatch)
        .where(col(RunBatch.id) == batch_row, col(RunBatch.state).in_(ACTIVE_STATES))
        .values(state=COLLECTED, collected_at=utcnow(), cost_usd=cost, note=note, retry_keys=sorted(retry_keys))
    )
    if cast(CursorResult[Any], result).rowcount != 1:
        return False
    done = final_keys(session, keys=[row.verdict_key for row in rows])
    fresh = [row for row in rows if row.verdict_key not in done]
    if fresh:
        upsert_verdicts(session, fresh)
    release_leases(session, owner=batch_owner(batch_row), keys=None)
    if cost:
        add_run_cost(session, run_id=run_id, cost_usd=cost)
    return True
