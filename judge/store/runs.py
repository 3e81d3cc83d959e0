"""Runs in the store: created, read back as typed :class:`RunRecord`s, and the few updates the run service and the
backends make (status, budget, counts, cost). Every write is one statement or one row in the caller's session."""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypedDict, Unpack, cast

from sqlalchemy import func, update
from sqlalchemy.engine import CursorResult
from sqlmodel import Session, col, select

from judge.core.errors import NotFoundError
from judge.core.types import RunStatus
from judge.store.records import PagedVerdict, RunRecord, RunState
from judge.store.tables import Prompt, PromptSet, Run, RunItem, Verdict, utcnow
from judge.store.verdicts import verdict_record


class RunChanges(TypedDict, total=False):
    """Fields of a run that :func:`update_run` may set."""

    status: RunStatus
    config: dict[str, Any]
    note: str | None
    n_ok: int
    n_unparseable: int
    n_error: int
    finished_at: datetime | None


def run_record(row: Run) -> RunRecord:
    """A run row as its typed record."""
    return RunRecord.model_validate(row, from_attributes=True)


def add_run(session: Session, *, tenant: str, set_id: int, config: dict[str, Any], n_planned: int) -> RunRecord:
    """A new run (status ``created``) with its stored configuration."""
    row = Run(tenant=tenant, set_id=set_id, config=config, n_planned=n_planned)
    session.add(row)
    session.flush()
    return run_record(row)


def find_run(session: Session, *, run_id: int, tenant: str | None = None) -> RunRecord | None:
    """Run ``run_id`` (of ``tenant`` when one is given), if there is one."""
    row = session.get(Run, run_id)
    if row is None or (tenant is not None and row.tenant != tenant):
        return None
    return run_record(row)


def get_run_record(session: Session, *, run_id: int, tenant: str | None = None) -> RunRecord:
    """Run ``run_id`` (of ``tenant`` when one is given: another tenant's id is NotFoundError too)."""
    found = find_run(session, run_id=run_id, tenant=tenant)
    if found is None:
        raise NotFoundError(f"no run {run_id}")
    return found


def list_runs(session: Session, *, tenant: str | None = None) -> list[RunRecord]:
    """Every run (of ``tenant`` when one is given), newest first."""
    stmt = select(Run).order_by(col(Run.id).desc())
    if tenant is not None:
        stmt = stmt.where(col(Run.tenant) == tenant)
    return [run_record(r) for r in session.exec(stmt)]


def run_state(session: Session, *, run_id: int) -> RunState | None:
    """The run's status, note and spending (one narrow read), or None when there is no such run."""
    stmt = select(col(Run.status), col(Run.note), col(Run.cost_usd)).where(col(Run.id) == run_id)
    found = session.execute(stmt).first()
    return None if found is None else RunState(status=RunStatus(found[0]), note=found[1], cost_usd=float(found[2]))


def update_run(session: Session, *, run_id: int, **changes: Unpack[RunChanges]) -> RunRecord:
    """Set some fields of run ``run_id`` (NotFoundError when there is none); the run as it is now."""
    row = session.get(Run, run_id)
    if row is None:
        raise NotFoundError(f"no run {run_id}")
    for name, value in changes.items():
        setattr(row, name, value)
    session.add(row)
    session.flush()
    return run_record(row)


def mark_running(session: Session, *, run_id: int, unless_cancelled: bool, **changes: Unpack[RunChanges]) -> bool:
    """Set the run's status to ``running`` (and ``changes``) in one conditional UPDATE; with ``unless_cancelled``
    a run cancelled meanwhile stays cancelled, so a concurrent cancel is never overwritten. Whether it changed."""
    stmt = update(Run).where(col(Run.id) == run_id).values(status=RunStatus.RUNNING, **changes)
    if unless_cancelled:
        stmt = stmt.where(col(Run.status) != RunStatus.CANCELLED)
    return cast(CursorResult[Any], session.execute(stmt)).rowcount == 1


def add_run_cost(session: Session, *, run_id: int, cost_usd: float) -> None:
    """Add money spent to the run's total (one atomic UPDATE)."""
    session.execute(update(Run).where(col(Run.id) == run_id).values(cost_usd=col(Run.cost_usd) + cost_usd))


def mark_run_failed(session: Session, *, run_id: int, note: str) -> None:
    """Record that the execution of run ``run_id`` failed, and why (nothing when there is no such run)."""
    row = session.get(Run, run_id)
    if row is not None:
        row.status, row.note, row.finished_at = RunStatus.FAILED, note, utcnow()
        session.add(row)


def set_names(session: Session, *, set_ids: set[int]) -> dict[int, str]:
    """The names of these prompt sets, by id."""
    rows = session.exec(select(PromptSet.id, PromptSet.name).where(col(PromptSet.id).in_(list(set_ids))))
    return {int(set_id or 0): name for set_id, name in rows}


def verdict_page(
    session: Session,
    *,
    run_id: int,
    after: int,
    limit: int,
    filters: dict[str, Any],
    model: str | None = None,
) -> tuple[int, list[PagedVerdict]]:
    """One page of run ``run_id``'s verdicts in row order, after row id ``after``, at most ``limit`` (plus one, to
    tell whether there is a next page), and how many verdicts match in all. ``filters``: equality on verdict
    columns (``status``, ``judge_model``, ``order``, ``turn``) and ``prompt_id`` (the id in the set); ``model``:
    either side of the pair."""
    conditions: list[Any] = [col(RunItem.run_id) == run_id]
    for name, value in filters.items():
        if value is not None:
            column = Prompt.external_id if name == "prompt_id" else getattr(Verdict, name)
            conditions.append(col(column) == value)
    if model is not None:
        conditions.append((col(Verdict.model_a) == model) | (col(Verdict.model_b) == model))
    base = (
        select(Verdict, Prompt.external_id)
        .join(RunItem, col(RunItem.verdict_key) == col(Verdict.verdict_key))
        .join(Prompt, col(Prompt.id) == col(Verdict.prompt_id))
        .where(*conditions)
    )
    total = int(session.exec(select(func.count()).select_from(base.subquery())).one())
    rows = session.exec(base.where(col(Verdict.id) > after).order_by(col(Verdict.id)).limit(limit + 1))
    return total, [PagedVerdict(id=v.id or 0, prompt_id=e, verdict=verdict_record(v)) for v, e in rows]
