"""Keyword-only read queries over the store, returning plain domain values."""

from __future__ import annotations

import fnmatch
from typing import Any

from pydantic import BaseModel
from sqlalchemy import and_, case, func, or_
from sqlmodel import Session, col, select

from judge.core.errors import ConflictError, NotFoundError
from judge.core.types import PairVote, Winner
from judge.metrics.units import ANONYMOUS
from judge.runs.plan import PromptRow
from judge.store.records import SetRecord
from judge.store.tables import DEFAULT_TENANT, Prompt, PromptSet, Response, Run, Verdict, Vote


class SetSummary(BaseModel):
    """What the store holds for one prompt set."""

    name: str
    prompts: int
    with_reference: int
    responses: int
    models: int
    votes: int
    voters: int
    conflicts: int
    runs: int
    verdicts: int


def set_record(row: PromptSet) -> SetRecord:
    """A prompt set row as its typed record."""
    return SetRecord.model_validate(row, from_attributes=True)


def get_set(session: Session, *, name: str, tenant: str = DEFAULT_TENANT) -> SetRecord:
    """The prompt set ``name``, or NotFoundError listing the sets that exist."""
    found = session.exec(select(PromptSet).where(PromptSet.tenant == tenant, PromptSet.name == name)).first()
    if found is None:
        names = session.exec(select(PromptSet.name).where(PromptSet.tenant == tenant)).all()
        known = ", ".join(sorted(names)) or "none; import one with `judge import`"
        raise NotFoundError(f"no prompt set named {name!r} (sets: {known})")
    return set_record(found)


def set_by_id(session: Session, *, set_id: int, tenant: str | None = None) -> SetRecord:
    """Prompt set ``set_id`` (of ``tenant`` when one is given: another tenant's id is NotFoundError too)."""
    found = session.get(PromptSet, set_id)
    if found is None or (tenant is not None and found.tenant != tenant):
        raise NotFoundError(f"no prompt set {set_id}")
    return set_record(found)


def create_set(
    session: Session, *, name: str, tenant: str = DEFAULT_TENANT, description: str | None = None
) -> SetRecord:
    """A new, empty prompt set; ConflictError when ``tenant`` has one named ``name`` (a concurrent creation of the
    same name fails on the unique constraint at flush: IntegrityError)."""
    exists = select(PromptSet.id).where(col(PromptSet.tenant) == tenant, col(PromptSet.name) == name)
    if session.exec(exists).first() is not None:
        raise ConflictError(f"a prompt set named {name!r} exists")
    row = PromptSet(tenant=tenant, name=name, description=description)
    session.add(row)
    session.flush()
    return set_record(row)


def load_prompts(session: Session, *, set_id: int) -> dict[int, PromptRow]:
    """Every prompt of a set by its row id (turns, category, reference), without the responses."""
    return {
        p.id or 0: PromptRow(
            id=p.id or 0,
            external_id=p.external_id,
            category=p.category,
            turns=tuple(p.turns),
            reference_turns=tuple(p.reference_turns) if p.reference_turns is not None else None,
        )
        for p in session.exec(select(Prompt).where(col(Prompt.set_id) == set_id))
    }


def _count(session: Session, stmt: Any) -> int:
    return int(session.exec(stmt).one())


def count_conflicts(session: Session, *, set_id: int | None) -> int:
    """Conflicting voter-units of a set: one named voter with differing votes (one model and the other, or a win
    and a tie) on one (prompt, turn, unordered model pair), whichever way round the pair was listed. The votes
    are kept as imported; this counts them (see :func:`judge.metrics.units.voter_conflicts`)."""
    first = case((col(Vote.model_a) < col(Vote.model_b), col(Vote.model_a)), else_=col(Vote.model_b))
    second = case((col(Vote.model_a) < col(Vote.model_b), col(Vote.model_b)), else_=col(Vote.model_a))
    is_tie = col(Vote.winner).in_([Winner.TIE.value, Winner.TIE_BOTHBAD.value])
    winner_model = case(
        (is_tie, None), (col(Vote.winner) == Winner.MODEL_A.value, col(Vote.model_a)), else_=col(Vote.model_b)
    )
    winners, ties = func.count(func.distinct(winner_model)), func.sum(case((is_tie, 1), else_=0))
    units = (
        select(col(Vote.voter))
        .where(col(Vote.set_id) == set_id, col(Vote.voter) != ANONYMOUS)
        .group_by(col(Vote.prompt_id), col(Vote.turn), col(Vote.voter), first, second)
        .having(or_(winners > 1, and_(winners == 1, ties > 0)))
        .subquery()
    )
    return _count(session, select(func.count()).select_from(units))


def summarize_set(session: Session, *, prompt_set: SetRecord) -> SetSummary:
    """Row counts of one prompt set, with its conflicting voter-units (:func:`count_conflicts`)."""
    set_id = prompt_set.id
    in_set = col(Prompt.set_id) == set_id
    responses = select(Response).join(Prompt).where(in_set).subquery()
    return SetSummary(
        name=prompt_set.name,
        prompts=_count(session, select(func.count()).select_from(Prompt).where(in_set)),
        with_reference=_count(
            session,
            select(func.count()).select_from(Prompt).where(in_set, col(Prompt.reference_turns).is_not(None)),
        ),
        responses=_count(session, select(func.count()).select_from(responses)),
        models=_count(session, select(func.count(func.distinct(responses.c.model)))),
        votes=_count(session, select(func.count()).select_from(Vote).where(col(Vote.set_id) == set_id)),
        voters=_count(session, select(func.count(func.distinct(Vote.voter))).where(col(Vote.set_id) == set_id)),
        conflicts=count_conflicts(session, set_id=set_id),
        runs=_count(session, select(func.count()).select_from(Run).where(col(Run.set_id) == set_id)),
        verdicts=_count(session, select(func.count()).select_from(Verdict).join(Prompt).where(in_set)),
    )


def list_sets(session: Session, *, tenant: str = DEFAULT_TENANT) -> list[SetRecord]:
    """Every prompt set of ``tenant``, by name."""
    return [
        set_record(s)
        for s in session.exec(select(PromptSet).where(PromptSet.tenant == tenant).order_by(PromptSet.name))
    ]


def vote_rows(session: Session, *, prompt_set: SetRecord, voters: str | None = None) -> list[dict[str, Any]]:
    """The set's votes in the import schema (``judge import votes`` reads them back unchanged)."""
    stmt = (
        select(Vote, Prompt.external_id, Prompt.category)
        .join(Prompt, col(Vote.prompt_id) == col(Prompt.id))
        .where(col(Vote.set_id) == prompt_set.id)
        .order_by(col(Vote.id))
    )
    rows = []
    for vote, external_id, category in session.exec(stmt):
        if voters is not None and not fnmatch.fnmatchcase(vote.voter, voters):
            continue
        rows.append(
            {
                "prompt_id": external_id,
                "model_a": vote.model_a,
                "model_b": vote.model_b,
                "winner": "tie (bothbad)" if vote.winner == Winner.TIE_BOTHBAD else vote.winner,
                "voter": vote.voter,
                "turn": vote.turn,
                "category": category,
                "tstamp": vote.tstamp,
            }
        )
    return rows


def load_pair_votes(session: Session, *, prompt_set: SetRecord, voters: str | None = None) -> list[PairVote]:
    """The set's votes as PairVotes, optionally only voters matching the glob ``voters``."""
    return [
        PairVote(
            prompt_id=r["prompt_id"],
            model_a=r["model_a"],
            model_b=r["model_b"],
            winner=Winner.TIE_BOTHBAD if r["winner"] == "tie (bothbad)" else Winner(r["winner"]),
            voter=r["voter"],
            turn=r["turn"],
            category=r["category"],
        )
        for r in vote_rows(session, prompt_set=prompt_set, voters=voters)
    ]
