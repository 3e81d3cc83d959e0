"""Every SQL query of the private arena: voter tokens, served units, votes, and what live ratings read."""

from __future__ import annotations

import random
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import func, or_, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, col, select

from judge.core.errors import NotFoundError
from judge.core.hashing import content_hash
from judge.core.types import Order, PairVote, Winner
from judge.store.engine import session_scope
from judge.store.queries import set_record
from judge.store.records import ArenaConfigRecord, ArenaUnitRecord, SetRecord, VoterRecord
from judge.store.tables import (
    ArenaAnswer,
    ArenaConfig,
    ArenaUnit,
    ArenaVoter,
    Prompt,
    PromptSet,
    Response,
    Vote,
    utcnow,
)
from judge.store.upsert import insert_ignoring_conflicts

ARENA_SOURCE = "arena"
UnitSpec = tuple[int, str, str, int]
"""(prompt row id, model_a, model_b, turn), models in sorted order."""
T = TypeVar("T")
_BUSY = ("locked", "busy", "deadlock", "could not serialize")


def retrying(engine: Engine, work: Callable[[Session], T], attempts: int = 30) -> T:
    """Run ``work`` in its own transaction; run it again when the database says busy (SQLite: a read transaction
    cannot become a write one after another writer committed; PostgreSQL: deadlock or serialization failure)."""
    for attempt in range(attempts):
        try:
            with session_scope(engine) as session:
                return work(session)
        except OperationalError as exc:
            if attempt == attempts - 1 or not any(hint in str(exc.orig).lower() for hint in _BUSY):
                raise
            time.sleep(random.uniform(0.0, min(0.25, 0.005 * 2**attempt)))
    raise AssertionError("unreachable")


def _voter(row: ArenaVoter) -> VoterRecord:
    return VoterRecord.model_validate(row, from_attributes=True)


def _unit(row: ArenaUnit) -> ArenaUnitRecord:
    return ArenaUnitRecord.model_validate(row, from_attributes=True)


def add_voter(
    session: Session, *, prompt_set: SetRecord, voter: str, token_hash: str, prefix: str, expires_at: datetime | None
) -> VoterRecord:
    """Store a new invitation (the token only as its hash)."""
    row = ArenaVoter(
        tenant=prompt_set.tenant,
        set_id=prompt_set.id,
        voter=voter,
        token_hash=token_hash,
        prefix=prefix,
        expires_at=expires_at,
    )
    session.add(row)
    session.flush()
    return _voter(row)


def voter_by_token_hash(session: Session, token_hash: str) -> tuple[VoterRecord, SetRecord] | None:
    """The invitation with this token hash and its set (revoked and expired ones included; the caller checks)."""
    stmt = (
        select(ArenaVoter, PromptSet)
        .join(PromptSet, col(PromptSet.id) == col(ArenaVoter.set_id))
        .where(col(ArenaVoter.token_hash) == token_hash)
    )
    found = session.exec(stmt).first()
    return None if found is None else (_voter(found[0]), set_record(found[1]))


def _voter_rows(session: Session, *, set_id: int) -> list[ArenaVoter]:
    return list(session.exec(select(ArenaVoter).where(col(ArenaVoter.set_id) == set_id).order_by(col(ArenaVoter.id))))


def list_voters(session: Session, *, set_id: int) -> list[VoterRecord]:
    """A set's invitations, oldest first."""
    return [_voter(r) for r in _voter_rows(session, set_id=set_id)]


def voter_vote_counts(session: Session, *, set_id: int) -> dict[str, int]:
    """Arena votes per voter name in a set."""
    stmt = (
        select(Vote.voter, func.count())
        .where(col(Vote.set_id) == set_id, col(Vote.source) == ARENA_SOURCE)
        .group_by(col(Vote.voter))
    )
    return {voter: int(n) for voter, n in session.exec(stmt)}


def revoke_voter(session: Session, *, set_id: int, voter: str) -> list[VoterRecord]:
    """Revoke every live invitation of ``voter`` in the set; NotFoundError when the voter has none."""
    rows = [r for r in _voter_rows(session, set_id=set_id) if r.voter == voter]
    if not rows:
        raise NotFoundError(f"no voter {voter!r} invited to this arena")
    now = utcnow()
    for row in rows:
        row.revoked_at = row.revoked_at or now
        session.add(row)
    return [_voter(r) for r in rows]


def revoke_voter_id(session: Session, *, voter_id: int, tenant: str) -> VoterRecord:
    """Revoke one invitation of ``tenant`` by id (another tenant's id is NotFoundError)."""
    row = session.get(ArenaVoter, voter_id)
    if row is None or row.tenant != tenant:
        raise NotFoundError(f"no arena voter {voter_id}")
    row.revoked_at = row.revoked_at or utcnow()
    session.add(row)
    return _voter(row)


def get_config(session: Session, *, set_id: int) -> ArenaConfigRecord:
    """The set's arena settings (defaults when none were saved)."""
    row = session.get(ArenaConfig, set_id)
    return (
        ArenaConfigRecord(set_id=set_id) if row is None else ArenaConfigRecord.model_validate(row, from_attributes=True)
    )


def save_config(session: Session, config: ArenaConfigRecord) -> ArenaConfigRecord:
    """Insert or update a set's arena settings."""
    merged = session.merge(ArenaConfig(**config.model_dump()))
    session.flush()
    return ArenaConfigRecord.model_validate(merged, from_attributes=True)


def add_spent(session: Session, *, set_id: int, cost_usd: float) -> None:
    """Add live-prompt spending to the set's total (one atomic UPDATE)."""
    stmt = (
        update(ArenaConfig)
        .where(col(ArenaConfig.set_id) == set_id)
        .values(spent_usd=col(ArenaConfig.spent_usd) + cost_usd)
    )
    session.execute(stmt)


def pending_unit(session: Session, *, voter_id: int) -> ArenaUnitRecord | None:
    """The unit this invitation was served and has neither voted on nor skipped, if any (the newest)."""
    stmt = (
        select(ArenaUnit)
        .where(col(ArenaUnit.voter_id) == voter_id, col(ArenaUnit.status) == "served")
        .order_by(col(ArenaUnit.shown_at).desc())
    )
    found = session.exec(stmt).first()
    return None if found is None else _unit(found)


def seen_units(session: Session, *, set_id: int, voter: str) -> set[UnitSpec]:
    """Every unit served to voter ``voter`` in the set, under any of their invitations."""
    stmt = (
        select(ArenaUnit.prompt_id, ArenaUnit.model_a, ArenaUnit.model_b, ArenaUnit.turn)
        .join(ArenaVoter, col(ArenaVoter.id) == col(ArenaUnit.voter_id))
        .where(col(ArenaUnit.set_id) == set_id, col(ArenaVoter.voter) == voter)
    )
    return {(p, a, b, t) for p, a, b, t in session.exec(stmt)}


def answer_turns(session: Session, *, set_id: int) -> dict[int, dict[str, int]]:
    """Per prompt row id: each model's number of answer turns, capped at the prompt's own number of turns."""
    turns = func.json_array_length(col(Response.turns))
    prompt_turns = func.json_array_length(col(Prompt.turns))
    stmt = (
        select(Response.prompt_id, Response.model, turns, prompt_turns)
        .join(Prompt, col(Prompt.id) == col(Response.prompt_id))
        .where(col(Prompt.set_id) == set_id)
    )
    out: dict[int, dict[str, int]] = defaultdict(dict)
    for prompt_id, model, n, n_prompt in session.exec(stmt):
        if n and n_prompt:
            out[prompt_id][model] = min(int(n), int(n_prompt))
    return dict(out)


def pair_outcomes(session: Session, *, set_id: int) -> list[tuple[str, str, str, int]]:
    """(model_a, model_b, winner, count) of every vote in the set, imported and arena alike."""
    stmt = (
        select(Vote.model_a, Vote.model_b, Vote.winner, func.count())
        .where(col(Vote.set_id) == set_id)
        .group_by(col(Vote.model_a), col(Vote.model_b), col(Vote.winner))
    )
    return [(a, b, w, int(n)) for a, b, w, n in session.exec(stmt)]


def add_unit(session: Session, unit: ArenaUnitRecord) -> ArenaUnitRecord:
    """Record a unit served to a voter (IntegrityError when that voter was already served it)."""
    session.add(ArenaUnit(**unit.model_dump()))
    session.flush()
    return unit


def get_unit(session: Session, *, unit_id: str) -> ArenaUnitRecord | None:
    """The unit as stored now (a vote or skip written by an UPDATE in this transaction included)."""
    found = session.get(ArenaUnit, unit_id, populate_existing=True)
    return None if found is None else _unit(found)


def unit_texts(session: Session, unit: ArenaUnitRecord) -> tuple[list[str], list[str], list[str]]:
    """The prompt's user turns and both answers' turns (model_a's, model_b's), up to the unit's turn."""
    prompt = session.get(Prompt, unit.prompt_id)
    stmt = select(Response.model, Response.turns).where(
        col(Response.prompt_id) == unit.prompt_id, col(Response.model).in_([unit.model_a, unit.model_b])
    )
    answers = dict(session.exec(stmt).all())
    if prompt is None or unit.model_a not in answers or unit.model_b not in answers:
        raise NotFoundError("this unit's prompt or answers are gone")
    return (
        list(prompt.turns[: unit.turn]),
        list(answers[unit.model_a][: unit.turn]),
        list(answers[unit.model_b][: unit.turn]),
    )


def claim_unit(session: Session, *, unit_id: str, voter_id: int, choice: str, now: float) -> bool:
    """Mark the unit voted with ``choice``, only if it was not voted yet: True for the one call that did it.

    A conditional UPDATE: concurrent calls on the same unit serialise on its row and exactly one sees it unvoted.
    """
    stmt = (
        update(ArenaUnit)
        .where(
            col(ArenaUnit.id) == unit_id,
            col(ArenaUnit.voter_id) == voter_id,
            or_(col(ArenaUnit.status) == "served", col(ArenaUnit.status) == "skipped"),
        )
        .values(status="voted", choice=choice, voted_at=now)
    )
    return bool(session.execute(stmt).rowcount == 1)  # type: ignore[attr-defined]


def skip_unit(session: Session, *, unit_id: str, voter_id: int) -> bool:
    """Mark a served unit skipped; False when it was already voted or skipped."""
    stmt = (
        update(ArenaUnit)
        .where(col(ArenaUnit.id) == unit_id, col(ArenaUnit.voter_id) == voter_id, col(ArenaUnit.status) == "served")
        .values(status="skipped")
    )
    return bool(session.execute(stmt).rowcount == 1)  # type: ignore[attr-defined]


def arena_vote_key(set_id: int, voter: str, prompt_id: int, model_a: str, model_b: str, turn: int) -> str:
    """One arena vote per voter per unit: the key leaves out the outcome and the time."""
    return content_hash([ARENA_SOURCE, set_id, voter, prompt_id, model_a, model_b, turn])


def insert_vote(session: Session, row: dict[str, Any]) -> None:
    """Store an arena vote in the ``vote`` table (nothing when the voter's vote on the unit is already there)."""
    insert_ignoring_conflicts(session, Vote.__table__, [row], ["vote_key"])  # type: ignore[attr-defined]


def live_votes(session: Session, *, set_id: int, after_id: int = 0) -> list[tuple[int, PairVote, Order | None]]:
    """The set's votes with id above ``after_id``, in id order: (vote id, the vote, the order it was shown in)."""
    stmt = (
        select(Vote, Prompt.external_id, Prompt.category)
        .join(Prompt, col(Prompt.id) == col(Vote.prompt_id))
        .where(col(Vote.set_id) == set_id, col(Vote.id) > after_id)
        .order_by(col(Vote.id))
    )
    return [
        (
            vote.id or 0,
            PairVote(
                prompt_id=external_id,
                model_a=vote.model_a,
                model_b=vote.model_b,
                winner=Winner(vote.winner),
                voter=vote.voter,
                turn=vote.turn,
                category=category,
            ),
            Order(vote.presented_order) if vote.presented_order else None,
        )
        for vote, external_id, category in session.exec(stmt)
    ]


def add_live_prompt(session: Session, *, set_id: int, external_id: str, text: str) -> int:
    """A voter's own prompt, stored as a prompt of the set; its row id."""
    prompt = Prompt(set_id=set_id, external_id=external_id, category="live", turns=[text])
    session.add(prompt)
    session.flush()
    assert prompt.id is not None
    return prompt.id


def add_live_answer(
    session: Session,
    *,
    prompt_id: int,
    model: str,
    text: str,
    content_hash_: str,
    answered_by: str,
    api_base: str | None,
    prompt_tokens: int | None,
    completion_tokens: int | None,
    cost_usd: float | None,
    latency_ms: float,
    attempts: int,
    finish_reason: str | None,
) -> int:
    """A live model's answer to a voter's prompt, stored as a response of ``model`` with its provenance
    (``answered_by``: the model name the provider reported); the response's row id."""
    response = Response(prompt_id=prompt_id, model=model, turns=[text], content_hash=content_hash_)
    session.add(response)
    session.flush()
    assert response.id is not None
    session.add(
        ArenaAnswer(
            response_id=response.id,
            model=answered_by,
            api_base=api_base,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            cost_usd=cost_usd,
            latency_ms=latency_ms,
            attempts=attempts,
            finish_reason=finish_reason,
        )
    )
    return response.id
