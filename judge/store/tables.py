"""SQLModel tables of the verdict store.

Every table that a tenant can see carries ``tenant`` directly or through its prompt set. JSON columns hold
lists of turns and run configurations; everything else is a plain column so it can be filtered and indexed.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

DEFAULT_TENANT = "default"


def utcnow() -> datetime:
    """Timezone-aware now, in UTC."""
    return datetime.now(UTC)


class PromptSet(SQLModel, table=True):
    """A named collection of prompts (e.g. ``mt_bench``), owned by a tenant."""

    __tablename__ = "prompt_set"
    __table_args__ = (UniqueConstraint("tenant", "name", name="uq_prompt_set_tenant_name"),)

    id: int | None = Field(default=None, primary_key=True)
    tenant: str = Field(default=DEFAULT_TENANT, index=True)
    name: str
    description: str | None = None
    created_at: datetime = Field(default_factory=utcnow)


class Prompt(SQLModel, table=True):
    """One prompt of a set: its user turns, category and optional reference answer turns."""

    __tablename__ = "prompt"
    __table_args__ = (UniqueConstraint("set_id", "external_id", name="uq_prompt_set_external"),)

    id: int | None = Field(default=None, primary_key=True)
    set_id: int = Field(foreign_key="prompt_set.id", index=True)
    external_id: str
    category: str | None = None
    turns: list[str] = Field(sa_column=Column(JSON, nullable=False))
    reference_turns: list[str] | None = Field(default=None, sa_column=Column(JSON(none_as_null=True), nullable=True))


class Response(SQLModel, table=True):
    """One model's answer turns to one prompt."""

    __tablename__ = "response"
    __table_args__ = (UniqueConstraint("prompt_id", "model", name="uq_response_prompt_model"),)

    id: int | None = Field(default=None, primary_key=True)
    prompt_id: int = Field(foreign_key="prompt.id", index=True)
    model: str = Field(index=True)
    turns: list[str] = Field(sa_column=Column(JSON, nullable=False))
    content_hash: str


class Vote(SQLModel, table=True):
    """A human or imported pairwise preference on one prompt and turn.

    ``vote_key`` hashes every field, so importing the same vote again adds nothing.
    """

    __tablename__ = "vote"

    id: int | None = Field(default=None, primary_key=True)
    vote_key: str = Field(unique=True)
    set_id: int = Field(foreign_key="prompt_set.id", index=True)
    prompt_id: int = Field(foreign_key="prompt.id", index=True)
    model_a: str
    model_b: str
    winner: str
    voter: str = Field(index=True)
    turn: int = 1
    source: str = "import"
    tstamp: float | None = None
    presented_order: str | None = None
    shown_at: float | None = None
    time_to_vote_s: float | None = None


class Run(SQLModel, table=True):
    """A judging job: its configuration, status, counts and cost."""

    __tablename__ = "run"

    id: int | None = Field(default=None, primary_key=True)
    tenant: str = Field(default=DEFAULT_TENANT, index=True)
    set_id: int = Field(foreign_key="prompt_set.id", index=True)
    config: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    status: str = "created"
    n_planned: int = 0
    n_ok: int = 0
    n_unparseable: int = 0
    n_error: int = 0
    cost_usd: float = 0.0
    note: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    created_at: datetime = Field(default_factory=utcnow)
    finished_at: datetime | None = None


class RunItem(SQLModel, table=True):
    """One verdict a run needs, identified by its verdict key, with the unit spec needed to produce it."""

    __tablename__ = "run_item"

    run_id: int = Field(foreign_key="run.id", primary_key=True)
    verdict_key: str = Field(primary_key=True, index=True)
    spec: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))


class Verdict(SQLModel, table=True):
    """One judge call's result with its full provenance.

    ``verdict_key`` is a content hash of (judge model, rubric hash, mode, prompt, turn, the responses' content,
    presentation order, sampling params): writing the same key twice never makes a second row.
    ``winner`` is in the pair's own orientation (model_a/model_b), whatever order the judge saw.
    """

    __tablename__ = "verdict"
    __table_args__ = (Index("ix_verdict_prompt_models", "prompt_id", "model_a", "model_b"),)

    id: int | None = Field(default=None, primary_key=True)
    verdict_key: str = Field(unique=True)
    run_id: int | None = Field(default=None, foreign_key="run.id", index=True)
    judge_model: str = Field(index=True)
    rubric_id: str
    rubric_version: str
    rubric_hash: str
    mode: str
    prompt_id: int = Field(foreign_key="prompt.id")
    turn: int = 1
    model_a: str
    model_b: str | None = None
    order: str
    request_hash: str
    sampling: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    raw_output: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    label: str | None = None
    winner: str | None = None
    score: float | None = None
    reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    parse_rule: str | None = None
    parse_span_start: int | None = None  # raw_output[parse_span_start:parse_span_end]: where the verdict was read
    parse_span_end: int | None = None
    status: str
    error: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    structured_output: bool = False
    attempts: int = 0
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cost_usd: float | None = None
    latency_ms: float | None = None
    extracted_answer: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    extraction_rule: str | None = None
    answer_span_start: int | None = None
    answer_span_end: int | None = None
    created_at: datetime = Field(default_factory=utcnow)


class GoldAnswer(SQLModel, table=True):
    """A verified short answer to one prompt turn (``spec``: the gold answer's JSON, type and options included)."""

    __tablename__ = "gold_answer"
    __table_args__ = (UniqueConstraint("prompt_id", "turn", name="uq_gold_answer_prompt_turn"),)

    id: int | None = Field(default=None, primary_key=True)
    prompt_id: int = Field(foreign_key="prompt.id", index=True)
    turn: int = 1
    answer_type: str
    spec: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    content_hash: str
    created_at: datetime = Field(default_factory=utcnow)


class CorrectnessLabel(SQLModel, table=True):
    """An imported correctness label of one response turn (unit tests, people), named by its ``source``."""

    __tablename__ = "correctness_label"
    __table_args__ = (
        UniqueConstraint("prompt_id", "model", "turn", "source", name="uq_correctness_label_response_source"),
    )

    id: int | None = Field(default=None, primary_key=True)
    set_id: int = Field(foreign_key="prompt_set.id", index=True)
    prompt_id: int = Field(foreign_key="prompt.id")
    model: str
    turn: int = 1
    source: str = Field(index=True)
    label: str
    note: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    created_at: datetime = Field(default_factory=utcnow)


class VerdictLease(SQLModel, table=True):
    """A claim on one verdict key: only its ``owner`` (``host:pid:uuid`` of one executor) may call the judge for
    it until ``expires_at`` (unix seconds), renewed while its call is in flight, deleted once the verdict is
    written. See :mod:`judge.store.leases`."""

    __tablename__ = "verdict_lease"

    verdict_key: str = Field(primary_key=True)
    owner: str = Field(index=True)
    run_id: int | None = None
    expires_at: float


class ApiKey(SQLModel, table=True):
    """An API key of a tenant, stored as its SHA-256 hex digest; ``prefix`` (its first 8 characters) names it."""

    __tablename__ = "api_key"

    id: int | None = Field(default=None, primary_key=True)
    tenant: str = Field(index=True)
    name: str
    key_hash: str = Field(unique=True)
    prefix: str
    created_at: datetime = Field(default_factory=utcnow)
    revoked_at: datetime | None = None


class ArenaVoter(SQLModel, table=True):
    """An arena invitation: a voter token (stored as its SHA-256) that opens one prompt set's arena, nothing else."""

    __tablename__ = "arena_voter"

    id: int | None = Field(default=None, primary_key=True)
    tenant: str = Field(index=True)
    set_id: int = Field(foreign_key="prompt_set.id", index=True)
    voter: str
    token_hash: str = Field(unique=True)
    prefix: str
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime | None = None
    revoked_at: datetime | None = None


class ArenaConfig(SQLModel, table=True):
    """A prompt set's arena settings: pair selection, and the models that answer live prompts (none: off)."""

    __tablename__ = "arena_config"

    set_id: int = Field(foreign_key="prompt_set.id", primary_key=True)
    selection: str = "active"
    live_models: list[dict[str, Any]] | None = Field(default=None, sa_column=Column(JSON(none_as_null=True)))
    max_cost_usd: float | None = None
    spent_usd: float = 0.0


class ArenaUnit(SQLModel, table=True):
    """One (prompt, pair, turn) served to one voter, under an opaque random id; ``first`` is the model shown as A.

    ``status`` is ``served``, ``voted`` or ``skipped``; a voter is never served the same unit twice.
    """

    __tablename__ = "arena_unit"
    __table_args__ = (
        UniqueConstraint("voter_id", "prompt_id", "model_a", "model_b", "turn", name="uq_arena_unit_voter_unit"),
    )

    id: str = Field(primary_key=True)
    set_id: int = Field(foreign_key="prompt_set.id", index=True)
    voter_id: int = Field(foreign_key="arena_voter.id", index=True)
    prompt_id: int = Field(foreign_key="prompt.id")
    model_a: str
    model_b: str
    turn: int = 1
    first: str
    status: str = "served"
    choice: str | None = None
    shown_at: float
    voted_at: float | None = None


class ArenaAnswer(SQLModel, table=True):
    """Provenance of a live answer (a response written by the arena for a voter's own prompt)."""

    __tablename__ = "arena_answer"

    response_id: int = Field(foreign_key="response.id", primary_key=True)
    model: str
    api_base: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cost_usd: float | None = None
    latency_ms: float
    attempts: int
    finish_reason: str | None = None
    created_at: datetime = Field(default_factory=utcnow)


class RunBatch(SQLModel, table=True):
    """One provider batch of a run judged with ``--batch``: the verdict keys it asks for (each request line's
    ``custom_id``), the provider's batch and file ids, its status and request counts.

    ``state``: ``submitting`` (written before the upload; the keys are leased to ``batch:<id>``), ``submitted``
    (the provider holds it: ``batch_id``), ``collected`` (ended at the provider and its results stored, in the
    transaction that set this state) or ``abandoned`` (never created, or cancelled before any result).
    ``retry_keys``: the keys whose line failed with a retryable status (429, 5xx, expired), set when collected."""

    __tablename__ = "run_batch"

    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="run.id", index=True)
    judge_model: str
    api_base: str | None = None
    keys: list[str] = Field(sa_column=Column(JSON, nullable=False))
    retry_keys: list[str] | None = Field(default=None, sa_column=Column(JSON(none_as_null=True), nullable=True))
    state: str = "submitting"
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
    note: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    created_at: datetime = Field(default_factory=utcnow)
    submitted_at: datetime | None = None
    collected_at: datetime | None = None
