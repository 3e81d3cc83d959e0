"""Single-answer protocols (pure): scores and correctness grades combined across a panel of judges.

- ``compare_scores``: two single-answer scores as a pairwise outcome (higher wins, equal is a tie).
- ``panel_score``: mean of the judges' scores; judges without a score are counted, not imputed.
- ``panel_correctness``: a grade backed by more than half of the whole panel; otherwise undecided
  (``correctness`` None, ``inconsistent``). A judge without a grade backs no grade, as in
  ``judge.core.protocols.pairwise.panel_majority``. Grades are never averaged into a middle grade.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from judge.core.errors import InputError
from judge.core.protocols.pairwise import OutcomeStatus
from judge.core.types import Correctness, Frozen, Winner


class ScoreOutcome(Frozen):
    """Mean score of a panel (None when no judge gave one), with how many scored and how many did not."""

    mean: float | None
    status: OutcomeStatus
    n_verdicts: int
    n_missing: int = 0


class CorrectnessOutcome(Frozen):
    """Panel correctness grade: None when no judge graded or no grade has a strict majority."""

    correctness: Correctness | None
    status: OutcomeStatus
    inconsistent: bool = False
    n_verdicts: int
    n_missing: int = 0


def compare_scores(score_a: float | None, score_b: float | None) -> Winner | None:
    """The pairwise outcome of two single-answer scores; None when either is missing."""
    if score_a is None or score_b is None:
        return None
    if score_a == score_b:
        return Winner.TIE
    return Winner.MODEL_A if score_a > score_b else Winner.MODEL_B


def _status(missing: int) -> OutcomeStatus:
    return OutcomeStatus.COMPLETE if missing == 0 else OutcomeStatus.INCOMPLETE


def panel_score(scores: Sequence[float | None]) -> ScoreOutcome:
    """The mean of the scores that were given."""
    if not scores:
        raise InputError("a panel needs at least one judge", field="judges")
    present = [s for s in scores if s is not None]
    missing = len(scores) - len(present)
    mean = sum(present) / len(present) if present else None
    return ScoreOutcome(mean=mean, status=_status(missing), n_verdicts=len(present), n_missing=missing)


def panel_correctness(grades: Sequence[Correctness | None]) -> CorrectnessOutcome:
    """The grade more than half of all judges gave; None when no grade has such a majority."""
    if not grades:
        raise InputError("a panel needs at least one judge", field="judges")
    present = [g for g in grades if g is not None]
    missing = len(grades) - len(present)
    counts = Counter(present)
    decided: Correctness | None = None
    if counts:
        top, votes = counts.most_common(1)[0]
        decided = top if 2 * votes > len(grades) else None
    return CorrectnessOutcome(
        correctness=decided,
        status=_status(missing),
        inconsistent=len(counts) > 1,
        n_verdicts=len(present),
        n_missing=missing,
    )
