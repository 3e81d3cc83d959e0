"""Verdict and run-item writes and reads. Every verdict write is an upsert on its verdict key."""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Sequence

from sqlalchemy import Table, func
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, col, select

from judge.core.types import VerdictRecord, VerdictStatus
from judge.runs.plan import Catalog, ResponseRow, VotedUnit, WorkItem
from judge.runs.request import JudgeSpec
from judge.store.queries import load_prompts
from judge.store.tables import Prompt, Response, RunItem, Verdict, Vote, utcnow
from judge.store.upsert import insert_ignoring_conflicts, insert_or_replace_where

FINAL_STATUSES = (VerdictStatus.OK.value, VerdictStatus.UNPARSEABLE.value)
"""A verdict with one of these statuses is final: a rerun reuses it. ``error`` verdicts are retried."""

VERDICT_TABLE: Table = Verdict.__table__  # type: ignore[attr-defined]
RUN_ITEM_TABLE: Table = RunItem.__table__  # type: ignore[attr-defined]


def load_catalog(session: Session, *, set_id: int) -> Catalog:
    """Every prompt and response of a set."""
    prompts = list(load_prompts(session, set_id=set_id).values())
    responses = [
        ResponseRow(prompt_id=r.prompt_id, model=r.model, turns=tuple(r.turns), content_hash=r.content_hash)
        for r in session.exec(select(Response).join(Prompt).where(col(Prompt.set_id) == set_id))
    ]
    return Catalog(prompts, responses)


def load_voted_units(session: Session, *, set_id: int, voters: str | None = None) -> list[VotedUnit]:
    """The distinct (prompt, pair, turn) units that carry votes, optionally from voters matching a glob."""
    votes = session.exec(select(Vote).where(col(Vote.set_id) == set_id))
    return [
        VotedUnit(prompt_id=v.prompt_id, model_a=v.model_a, model_b=v.model_b, turn=v.turn)
        for v in votes
        if voters is None or fnmatch.fnmatchcase(v.voter, voters)
    ]


def add_run_items(session: Session, *, run_id: int, items: Sequence[WorkItem]) -> None:
    """Link a run to the verdicts it needs (idempotent)."""
    rows = [{"run_id": run_id, "verdict_key": item.verdict_key, "spec": item.model_dump(mode="json")} for item in items]
    insert_ignoring_conflicts(session, RUN_ITEM_TABLE, rows, ["run_id", "verdict_key"])


def load_run_items(session: Session, *, run_id: int) -> list[WorkItem]:
    """The work items of a run, in a stable order."""
    items = session.exec(select(RunItem).where(col(RunItem.run_id) == run_id).order_by(col(RunItem.verdict_key)))
    return [WorkItem.model_validate(item.spec) for item in items]


def final_keys(session: Session, *, keys: Iterable[str]) -> set[str]:
    """Which of ``keys`` already have a final (ok or unparseable) verdict."""
    found: set[str] = set()
    key_list = list(keys)
    for start in range(0, len(key_list), 500):
        chunk = key_list[start : start + 500]
        found.update(
            session.exec(
                select(Verdict.verdict_key).where(
                    col(Verdict.verdict_key).in_(chunk), col(Verdict.status).in_(FINAL_STATUSES)
                )
            )
        )
    return found


def verdict_fingerprints(session: Session, *, keys: Iterable[str]) -> dict[str, tuple[str, str]]:
    """Each stored key's status and a fingerprint of its write (creation time, latency, attempts): an ``error``
    verdict written again has a different fingerprint. Keys without a verdict are left out."""
    found: dict[str, tuple[str, str]] = {}
    key_list = list(keys)
    columns = [
        col(c) for c in (Verdict.verdict_key, Verdict.status, Verdict.created_at, Verdict.latency_ms, Verdict.attempts)
    ]
    for start in range(0, len(key_list), 500):
        rows = session.execute(select(*columns).where(col(Verdict.verdict_key).in_(key_list[start : start + 500])))
        for key, status, created, latency, attempts in rows:
            found[key] = (status, f"{created.isoformat()}|{latency}|{attempts}")
    return found


def _replaces_only_errors(table: Table) -> ColumnElement[bool]:
    return table.c.status == VerdictStatus.ERROR.value


def upsert_verdicts(session: Session, records: Sequence[VerdictRecord]) -> None:
    """Store verdicts; an existing final verdict with the same key is kept, an ``error`` one replaced."""
    rows = [{**r.model_dump(mode="json"), "created_at": r.created_at or utcnow()} for r in records]
    insert_or_replace_where(session, VERDICT_TABLE, rows, ["verdict_key"], _replaces_only_errors)


def verdict_status_counts(session: Session, *, run_id: int) -> tuple[dict[str, int], int]:
    """How many of run ``run_id``'s items have a verdict, by status, and how many items it has (two aggregate
    queries: a run of 10,000 keys is counted without loading its verdicts)."""
    query = (
        select(col(Verdict.status), func.count())
        .join(RunItem, col(RunItem.verdict_key) == col(Verdict.verdict_key))
        .where(col(RunItem.run_id) == run_id)
        .group_by(col(Verdict.status))
    )
    counts = {str(status): int(n) for status, n in session.execute(query)}
    items = session.execute(select(func.count()).where(col(RunItem.run_id) == run_id)).scalar_one()
    return counts, int(items)


def verdict_record(row: Verdict) -> VerdictRecord:
    """A stored verdict row as its typed record."""
    return VerdictRecord.model_validate(row, from_attributes=True)


def load_verdicts(session: Session, *, keys: Iterable[str]) -> list[VerdictRecord]:
    """The stored verdicts with these keys."""
    key_list = list(keys)
    found: list[VerdictRecord] = []
    for start in range(0, len(key_list), 500):
        chunk = key_list[start : start + 500]
        found.extend(
            verdict_record(v) for v in session.exec(select(Verdict).where(col(Verdict.verdict_key).in_(chunk)))
        )
    return found


def set_verdicts(session: Session, *, set_id: int, mode: str, judge_model: str | None = None) -> list[VerdictRecord]:
    """The verdicts of ``mode`` (by ``judge_model`` when given) on a set's prompts, oldest first (creation time,
    then row id): later ones are the newer when the caller keeps one per unit."""
    stmt = (
        select(Verdict)
        .join(Prompt, col(Prompt.id) == col(Verdict.prompt_id))
        .where(col(Prompt.set_id) == set_id, col(Verdict.mode) == mode)
        .order_by(col(Verdict.created_at), col(Verdict.id))
    )
    if judge_model is not None:
        stmt = stmt.where(col(Verdict.judge_model) == judge_model)
    return [verdict_record(v) for v in session.exec(stmt)]


def judge_models(session: Session, *, set_id: int, mode: str) -> list[str]:
    """The judge models with verdicts of ``mode`` on a set's prompts, by name."""
    stmt = (
        select(Verdict.judge_model)
        .join(Prompt, col(Prompt.id) == col(Verdict.prompt_id))
        .where(col(Prompt.set_id) == set_id, col(Verdict.mode) == mode)
        .distinct()
    )
    return sorted(session.exec(stmt).all())


def item_of(verdict: VerdictRecord) -> WorkItem:
    """The work item a stored verdict answers (for grouping verdicts by unit)."""
    return WorkItem(
        verdict_key=verdict.verdict_key,
        judge=JudgeSpec(model=verdict.judge_model),
        prompt_id=verdict.prompt_id,
        turn=verdict.turn,
        model_a=verdict.model_a,
        model_b=verdict.model_b,
        order=verdict.order,
        sample=int(verdict.sampling.get("sample", 0)),
    )
