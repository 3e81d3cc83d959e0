"""Frozen domain types shared by the pure core and the edges."""

from __future__ import annotations

from enum import StrEnum

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
