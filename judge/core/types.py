"""Frozen domain types shared by the pure core and the edges."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict


class Winner(StrEnum):
    """Outcome of a pairwise preference, from the pair's own (model_a, model_b) point of view."""

    MODEL_A = "model_a"
    MODEL_B = "model_b"
    TIE = "tie"
    TIE_BOTHBAD = "tie_bothbad"

    @property
    def is_tie(self) -> bool:
        return self in (Winner.TIE, Winner.TIE_BOTHBAD)

    def swapped(self) -> Winner:
        """The same outcome seen with model_a and model_b exchanged."""
        if self is Winner.MODEL_A:
            return Winner.MODEL_B
        if self is Winner.MODEL_B:
            return Winner.MODEL_A
        return self


class Mode(StrEnum):
    """What a rubric asks of the judge."""

    PAIRWISE = "pairwise"
    SINGLE = "single"
    CORRECTNESS = "correctness"


class Order(StrEnum):
    """Presentation order of a pairwise comparison: ``ab`` shows model_a first, ``ba`` model_b first."""

    AB = "ab"
    BA = "ba"
    SINGLE = "single"


class VerdictStatus(StrEnum):
    """Whether a judge call produced a usable verdict."""

    OK = "ok"
    UNPARSEABLE = "unparseable"
    ERROR = "error"


class RunStatus(StrEnum):
    """Where a run stands: ``created`` (planned, nothing judged), ``running``, then one final status:
    ``completed`` (every planned verdict stored), ``incomplete`` (some ended in errors or were never judged),
    ``stopped`` (budget reached, Ctrl-C, server shutdown), ``cancelled`` (by the CLI or the API) or ``failed``
    (the execution itself failed: broker or database down)."""

    CREATED = "created"
    RUNNING = "running"
    COMPLETED = "completed"
    INCOMPLETE = "incomplete"
    STOPPED = "stopped"
    CANCELLED = "cancelled"
    FAILED = "failed"

    @property
    def is_active(self) -> bool:
        """Still to be judged or being judged: a run in this status may be cancelled."""
        return self in (RunStatus.CREATED, RunStatus.RUNNING)


class Correctness(StrEnum):
    """Correctness of one response: graded against a reference or gold answer, or an imported label.

    ``no_answer``: nothing answer-like could be extracted (a deterministic grader never guesses); it counts as
    not correct wherever correctness is scored.
    """

    CORRECT = "correct"
    PARTIALLY_CORRECT = "partially_correct"
    INCORRECT = "incorrect"
    NO_ANSWER = "no_answer"


class Frozen(BaseModel):
    """Base for immutable domain values."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class JsonFields(Frozen):
    """A frozen value whose JSON form is its fields as they are (reports' rows and figures)."""

    def to_json(self) -> dict[str, Any]:
        return self.model_dump()


class PairVote(Frozen):
    """One pairwise preference on one unit (prompt, pair, turn), by a human voter or a judge."""

    prompt_id: str
    model_a: str
    model_b: str
    winner: Winner
    voter: str
    turn: int = 1
    category: str | None = None


class JudgeTask(Frozen):
    """Everything a rubric may show the judge about one unit, before presentation order is applied.

    ``turn`` is 1-based: the judge grades the answer(s) to ``question_turns[turn - 1]``, seeing the earlier
    turns of the conversation. For ``single`` and ``correctness`` only ``model_a``/``answer_a`` are set.
    """

    mode: Mode
    prompt_id: str
    turn: int = 1
    category: str | None = None
    question_turns: tuple[str, ...]
    reference_turns: tuple[str, ...] | None = None
    model_a: str
    answer_a: tuple[str, ...]
    model_b: str | None = None
    answer_b: tuple[str, ...] | None = None


class ChatMessage(Frozen):
    """One message sent to a judge model."""

    role: str
    content: str


class VerdictRecord(Frozen):
    """One judge call's (or deterministic grader's) result with its full provenance, as judging produces it and
    the store keeps it: one row per verdict key (``store.upsert_verdicts``), read back by export, API and analysis.

    ``verdict_key`` is a content hash of everything that decides the verdict (judge, rubric hash, mode, prompt,
    turn, the responses' content, presentation order, sampling); ``winner`` is in the pair's own orientation,
    whatever order the judge saw; ``raw_output[parse_span_start:parse_span_end]`` is where the verdict was read
    (``answer_span_*`` likewise for a grader's extracted answer). An unparseable reply keeps its raw text.
    """

    verdict_key: str
    run_id: int | None = None
    judge_model: str
    rubric_id: str
    rubric_version: str
    rubric_hash: str
    mode: str  # a Mode, or "tag" for prompt tagging (judge tag)
    prompt_id: int
    turn: int = 1
    model_a: str
    model_b: str | None = None
    order: Order
    request_hash: str
    sampling: dict[str, Any]
    status: VerdictStatus
    raw_output: str | None = None
    label: str | None = None
    winner: Winner | None = None
    score: float | None = None
    reason: str | None = None
    parse_rule: str | None = None
    parse_span_start: int | None = None
    parse_span_end: int | None = None
    error: str | None = None
    structured_output: bool = False
    attempts: int = 0
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cost_usd: float | None = None
    latency_ms: float | None = None
    extracted_answer: str | None = None
    extraction_rule: str | None = None
    answer_span_start: int | None = None
    answer_span_end: int | None = None
    created_at: datetime | None = None
    """When the verdict was paid for (set as it is journaled, before it is written)."""
