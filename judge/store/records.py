"""Typed records the store hands out: frozen copies of its rows. Table classes never leave ``judge.store``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from judge.core.types import Frozen, RunStatus, VerdictRecord


class SetRecord(Frozen):
    """A prompt set of a tenant."""

    id: int
    tenant: str
    name: str
    description: str | None = None
    created_at: datetime


class RunRecord(Frozen):
    """A judging run: its stored configuration (the resolved request and its method card), status, counts, cost."""

    id: int
    tenant: str
    set_id: int
    config: dict[str, Any]
    status: RunStatus
    n_planned: int
    n_ok: int
    n_unparseable: int
    n_error: int
    cost_usd: float
    note: str | None = None
    created_at: datetime
    finished_at: datetime | None = None


class RunState(Frozen):
    """What an executor or a follower reads of its run before each batch or round: status, note, spending."""

    status: RunStatus
    note: str | None = None
    cost_usd: float


class PagedVerdict(Frozen):
    """A stored verdict with its row id (the cursor of a verdict page) and its prompt's id in the set."""

    id: int
    prompt_id: str
    verdict: VerdictRecord


class ApiKeyRecord(Frozen):
    """An API key of a tenant as listed: never the key nor its hash; ``prefix`` (its first characters) names it."""

    id: int
    tenant: str
    name: str
    prefix: str
    created_at: datetime
    revoked_at: datetime | None = None


class VoterRecord(Frozen):
    """An arena invitation (never its token: the store keeps only the hash; ``prefix`` names it)."""

    id: int
    tenant: str
    set_id: int
    voter: str
    prefix: str
    created_at: datetime
    expires_at: datetime | None = None
    revoked_at: datetime | None = None


class ArenaConfigRecord(Frozen):
    """A prompt set's arena settings: pair selection, the models answering live prompts (none: off), budget."""

    set_id: int
    selection: str = "active"
    live_models: list[dict[str, Any]] | None = None
    max_cost_usd: float | None = None
    spent_usd: float = 0.0


class ArenaUnitRecord(Frozen):
    """One (prompt, pair, turn) served to one voter under an opaque id; ``first`` is the model shown as A;
    ``status`` is ``served``, ``voted`` or ``skipped``."""

    id: str
    set_id: int
    voter_id: int
    prompt_id: int
    model_a: str
    model_b: str
    turn: int = 1
    first: str
    status: str = "served"
    choice: str | None = None
    shown_at: float
    voted_at: float | None = None
