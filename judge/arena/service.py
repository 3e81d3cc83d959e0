"""The arena over the store: invitations, the next unit for a voter, votes with their reveal, skips.

Every function takes the caller's session (one transaction) and returns frozen values; HTTP and CLI edges call
these and hold no logic.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any, Literal

import numpy as np
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from judge.arena.board import LiveVote
from judge.arena.selection import Pair, RatingState, Strategy, check_strategy, choose_unit, fit_counts
from judge.arena.tokens import SHOWN_CHARS, hash_token, new_token, new_unit_id
from judge.core.errors import InputError, NotFoundError
from judge.core.types import Frozen, JsonFields, Order, Winner
from judge.store import arena as store
from judge.store import utcnow
from judge.store.records import ArenaUnitRecord, SetRecord

Choice = Literal["A", "B", "tie", "bothbad"]
CHOICES: tuple[str, ...] = ("A", "B", "tie", "bothbad")
_OUTCOME_SCORE = {"model_a": 1.0, "model_b": 0.0, "tie": 0.5, "tie_bothbad": 0.5}


class Invitation(Frozen):
    """A new voter token (shown once) and where to use it."""

    id: int
    voter: str
    set_name: str
    token: str
    url: str
    expires_at: datetime | None


class VoterInfo(Frozen):
    """An invitation as listed: never the token, only its first characters."""

    id: int
    voter: str
    prefix: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    votes: int

    @property
    def status(self) -> str:
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and _aware(self.expires_at) <= utcnow():
            return "expired"
        return "active"


class Voter(Frozen):
    """An authenticated voter: invitation id, voter name, and the one set it opens."""

    id: int
    name: str
    tenant: str
    set_id: int
    set_name: str


class ServedAnswer(Frozen):
    label: str
    text: str
    turns: tuple[str, ...]


class ServedUnit(Frozen):
    """What a voter sees before voting: an opaque id, the user turns and answers A and B. No model names."""

    unit_id: str
    prompt: tuple[str, ...]
    responses: tuple[ServedAnswer, ServedAnswer]

    def to_json(self) -> dict[str, Any]:
        return {
            "unit_id": self.unit_id,
            "prompt": list(self.prompt),
            "responses": [{"label": r.label, "text": r.text, "turns": list(r.turns)} for r in self.responses],
        }


class Reveal(JsonFields):
    """After the vote: which model was A (shown first) and which was B."""

    unit_id: str
    choice: Choice
    model_a: str
    model_b: str
    shown_first: str
    winner: str


def _aware(moment: datetime) -> datetime:
    """SQLite returns naive datetimes for timezone-aware columns; they are UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=utcnow().tzinfo)


def invite(
    session: Session, *, prompt_set: SetRecord, voter: str, expires: timedelta | None, base_url: str
) -> Invitation:
    """A voter token for ``voter`` on ``prompt_set`` and its invitation URL."""
    from urllib.parse import quote

    name = voter.strip()
    if not name or len(name) > 100:
        raise InputError("a voter name must have 1 to 100 characters", field="voter")
    token = new_token()
    expires_at = utcnow() + expires if expires is not None else None
    row = store.add_voter(
        session,
        prompt_set=prompt_set,
        voter=name,
        token_hash=hash_token(token),
        prefix=token[:SHOWN_CHARS],
        expires_at=expires_at,
    )
    url = f"{base_url.rstrip('/')}/arena/{quote(prompt_set.name, safe='')}/join?token={token}"
    return Invitation(id=row.id, voter=name, set_name=prompt_set.name, token=token, url=url, expires_at=expires_at)


def voters(session: Session, *, prompt_set: SetRecord) -> list[VoterInfo]:
    """Every invitation of the set with its status and number of votes."""
    counts = store.voter_vote_counts(session, set_id=prompt_set.id)
    return [
        VoterInfo(
            id=r.id,
            voter=r.voter,
            prefix=r.prefix,
            created_at=r.created_at,
            expires_at=r.expires_at,
            revoked_at=r.revoked_at,
            votes=counts.get(r.voter, 0),
        )
        for r in store.list_voters(session, set_id=prompt_set.id)
    ]


def authenticate_voter(session: Session, token: str) -> Voter | None:
    """The voter of a valid token (known, not revoked, not expired), else None."""
    found = store.voter_by_token_hash(session, hash_token(token))
    if found is None:
        return None
    row, prompt_set = found
    if row.revoked_at is not None or (row.expires_at is not None and _aware(row.expires_at) <= utcnow()):
        return None
    return Voter(id=row.id, name=row.voter, tenant=row.tenant, set_id=row.set_id, set_name=prompt_set.name)


def rating_state(session: Session, set_id: int, models: list[str]) -> RatingState:
    """Bradley-Terry state of the set's votes (imported and arena), for active pair selection."""
    names = tuple(sorted(set(models)))
    where = {m: k for k, m in enumerate(names)}
    n = len(names)
    count, wins = np.zeros((n, n)), np.zeros((n, n))
    for a, b, winner, k in store.pair_outcomes(session, set_id=set_id):
        if a in where and b in where and a != b and winner in _OUTCOME_SCORE:
            i, j, s = where[a], where[b], _OUTCOME_SCORE[winner]
            count[i, j] += k
            count[j, i] += k
            wins[i, j] += k * s
            wins[j, i] += k * (1.0 - s)

    return fit_counts(names, count, wins)


class SetCache:
    """Per set, for a server process: which models answered which prompts (reloaded every ``answers_ttl_s``) and
    the rating state of active selection (refitted every ``state_ttl_s``), so that ``next`` costs fewer queries."""

    def __init__(self, answers_ttl_s: float = 10.0, state_ttl_s: float = 1.0) -> None:
        self.answers_ttl_s, self.state_ttl_s = answers_ttl_s, state_ttl_s
        self._answers: dict[int, tuple[float, dict[int, dict[str, int]]]] = {}
        self._states: dict[tuple[int, tuple[str, ...]], tuple[float, RatingState]] = {}
        self._lock = threading.Lock()

    def answers(self, session: Session, set_id: int) -> dict[int, dict[str, int]]:
        now = time.monotonic()
        with self._lock:
            found = self._answers.get(set_id)
        if found is not None and now - found[0] < self.answers_ttl_s:
            return found[1]
        loaded = store.answer_turns(session, set_id=set_id)
        with self._lock:
            self._answers[set_id] = (now, loaded)
        return loaded

    def state(self, session: Session, set_id: int, models: list[str]) -> RatingState:
        key = (set_id, tuple(sorted(set(models))))
        now = time.monotonic()
        with self._lock:
            found = self._states.get(key)
        if found is not None and now - found[0] < self.state_ttl_s:
            return found[1]
        fitted = rating_state(session, set_id, models)
        with self._lock:
            self._states[key] = (now, fitted)
        return fitted


def available_units(session: Session, voter: Voter, cache: SetCache | None = None) -> dict[Pair, list[tuple[int, int]]]:
    """Per model pair, the (prompt, turn) units both models answered that this voter has not been served."""
    seen = store.seen_units(session, set_id=voter.set_id, voter=voter.name)
    units: dict[Pair, list[tuple[int, int]]] = defaultdict(list)
    catalogue = cache.answers(session, voter.set_id) if cache else store.answer_turns(session, set_id=voter.set_id)
    for prompt_id, answers in sorted(catalogue.items()):
        models = sorted(answers)
        for i, a in enumerate(models):
            for b in models[i + 1 :]:
                turn = min(answers[a], answers[b])
                if (prompt_id, a, b, turn) not in seen:
                    units[(a, b)].append((prompt_id, turn))
    return dict(units)


def _serve(session: Session, unit: ArenaUnitRecord) -> ServedUnit:
    prompt, turns_a, turns_b = store.unit_texts(session, unit)
    first, second = (turns_a, turns_b) if unit.first == "model_a" else (turns_b, turns_a)
    return ServedUnit(
        unit_id=unit.id,
        prompt=tuple(prompt),
        responses=(
            ServedAnswer(label="A", text=first[-1], turns=tuple(first)),
            ServedAnswer(label="B", text=second[-1], turns=tuple(second)),
        ),
    )


def unit_for(voter: Voter, prompt_id: int, pair: Pair, turn: int, rng: np.random.Generator) -> ArenaUnitRecord:
    """A unit to serve ``voter`` now, under a new opaque id; which model is shown first is drawn from ``rng``."""
    return ArenaUnitRecord(
        id=new_unit_id(),
        set_id=voter.set_id,
        voter_id=voter.id,
        prompt_id=prompt_id,
        model_a=pair[0],
        model_b=pair[1],
        turn=turn,
        first="model_a" if rng.random() < 0.5 else "model_b",
        shown_at=time.time(),
    )


def new_unit(
    session: Session,
    voter: Voter,
    rng: np.random.Generator,
    strategy: Strategy,
    *,
    pair: Pair | None = None,
    cache: SetCache | None = None,
) -> ArenaUnitRecord | None:
    """Choose and record a unit for the voter (random presentation order); None when none is left."""
    units = available_units(session, voter, cache)
    if pair is not None:
        units = {pair: units.get(pair, [])}
    state = None
    if strategy == "active":
        models = [m for p in units for m in p]
        state = cache.state(session, voter.set_id, models) if cache else rating_state(session, voter.set_id, models)
    chosen = choose_unit(units, state, strategy, rng)
    if chosen is None:
        return None
    (model_a, model_b), (prompt_id, turn) = chosen
    return store.add_unit(session, unit_for(voter, prompt_id, (model_a, model_b), turn, rng))


def next_unit(
    session: Session,
    voter: Voter,
    rng: np.random.Generator,
    strategy: str | None = None,
    cache: SetCache | None = None,
) -> ServedUnit | None:
    """The voter's pending unit, else a new one chosen by the set's pair selection; None when all are seen."""
    pending = store.pending_unit(session, voter_id=voter.id)
    if pending is not None:
        return _serve(session, pending)
    selection = check_strategy(strategy or store.get_config(session, set_id=voter.set_id).selection)
    for _ in range(3):  # a concurrent request of the same voter may take the same unit first
        try:
            with session.begin_nested():
                unit = new_unit(session, voter, rng, selection, cache=cache)
        except IntegrityError:
            continue
        return None if unit is None else _serve(session, unit)
    return None


def served_unit(session: Session, voter: Voter, unit_id: str) -> ArenaUnitRecord:
    """A unit served to this voter (any other id, another voter's too, is NotFoundError)."""
    unit = store.get_unit(session, unit_id=unit_id)
    if unit is None or unit.voter_id != voter.id:
        raise NotFoundError("no such unit for this voter")
    return unit


def show_unit(session: Session, voter: Voter, unit_id: str) -> ServedUnit:
    return _serve(session, served_unit(session, voter, unit_id))


def reveal(unit: ArenaUnitRecord) -> Reveal:
    """Which model was A and which B, and the voter's choice as a winner."""
    assert unit.choice is not None
    shown_a, shown_b = (unit.model_a, unit.model_b) if unit.first == "model_a" else (unit.model_b, unit.model_a)
    winner = {"A": shown_a, "B": shown_b, "tie": "tie", "bothbad": "bothbad"}[unit.choice]
    return Reveal(
        unit_id=unit.id,
        choice=check_choice(unit.choice),
        model_a=shown_a,
        model_b=shown_b,
        shown_first=shown_a,
        winner=winner,
    )


def check_choice(text: str) -> Choice:
    """``A``, ``B``, ``tie`` or ``bothbad``; anything else is an InputError."""
    choices: dict[str, Choice] = {"A": "A", "B": "B", "tie": "tie", "bothbad": "bothbad"}
    if text in choices:
        return choices[text]
    raise InputError(f"choice must be one of {', '.join(CHOICES)}, got {text!r}", field="choice")


def winner_of(unit: ArenaUnitRecord, choice: Choice) -> Winner:
    """The choice as a Winner in the stored pair's (model_a, model_b) orientation."""
    if choice == "tie":
        return Winner.TIE
    if choice == "bothbad":
        return Winner.TIE_BOTHBAD
    a_shown_first = unit.first == "model_a"
    return Winner.MODEL_A if (choice == "A") == a_shown_first else Winner.MODEL_B


def cast_vote(session: Session, voter: Voter, unit_id: str, choice: str) -> tuple[Reveal, bool]:
    """Record the voter's vote on a unit they were served: (reveal, True) the first time; later calls (even
    concurrent ones, with any choice) change nothing and return the first vote's reveal with False."""
    picked = check_choice(choice)
    unit = served_unit(session, voter, unit_id)
    now = time.time()
    created = store.claim_unit(session, unit_id=unit.id, voter_id=voter.id, choice=picked, now=now)
    if created:
        store.insert_vote(
            session,
            {
                "vote_key": store.arena_vote_key(
                    voter.set_id, voter.name, unit.prompt_id, unit.model_a, unit.model_b, unit.turn
                ),
                "set_id": voter.set_id,
                "prompt_id": unit.prompt_id,
                "model_a": unit.model_a,
                "model_b": unit.model_b,
                "winner": winner_of(unit, picked).value,
                "voter": voter.name,
                "turn": unit.turn,
                "source": store.ARENA_SOURCE,
                "tstamp": now,
                "presented_order": (Order.AB if unit.first == "model_a" else Order.BA).value,
                "shown_at": unit.shown_at,
                "time_to_vote_s": max(0.0, now - unit.shown_at),
            },
        )
    session.flush()
    return reveal(served_unit(session, voter, unit_id)), created


def skip(session: Session, voter: Voter, unit_id: str) -> None:
    """Skip a served unit: it is not shown again and counts as no vote."""
    unit = served_unit(session, voter, unit_id)
    store.skip_unit(session, unit_id=unit.id, voter_id=voter.id)


def live_votes_since(session: Session, set_id: int, after_id: int) -> list[LiveVote]:
    """The set's votes after ``after_id`` as LiveVotes (for :class:`judge.arena.board.LiveRatings`)."""
    return [
        LiveVote(id=vote_id, vote=vote, presented_order=order)
        for vote_id, vote, order in store.live_votes(session, set_id=set_id, after_id=after_id)
    ]
