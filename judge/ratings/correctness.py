"""Correctness-aware ratings from reference-graded ``correctness`` verdicts.

Scores: correct 1, partially correct 0.5, incorrect 0. (1) Correctness rating: each pair becomes a battle
that the more correct response wins; equal scores (both or neither correct) are a tie. (2) Preference
controlled for correctness: the score difference a - b is a covariate of the preference battles, fitted
jointly; its coefficient is the rating-point advantage of a correct over an incorrect response.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence

import numpy as np
from numpy.typing import NDArray

from judge.core.errors import InputError
from judge.core.types import Correctness, PairVote
from judge.ratings.battles import Battles
from judge.ratings.bradley_terry import fit_bradley_terry
from judge.ratings.fit import Anchor, BootstrapSpec, RatingFit, RatingScale

FloatArray = NDArray[np.float64]
Unit = tuple[str, str, int]  # (prompt_id, model, turn)

CORRECTNESS_SCORE = {
    Correctness.CORRECT: 1.0,
    Correctness.PARTIALLY_CORRECT: 0.5,
    Correctness.INCORRECT: 0.0,
    Correctness.NO_ANSWER: 0.0,
}


def _check_scores(*columns: FloatArray) -> None:
    for column in columns:
        if not np.all(np.isin(column, (0.0, 0.5, 1.0))):
            raise InputError("correctness scores must be 1, 0.5 or 0", field="correctness")


def correctness_of_votes(
    votes: Sequence[PairVote], verdicts: Mapping[Unit, Correctness]
) -> tuple[FloatArray, FloatArray]:
    """Scores of each vote's two responses from ``verdicts[(prompt_id, model, turn)]``."""

    def score(key: Unit, row: int) -> float:
        if key not in verdicts:
            raise InputError(
                f"no correctness verdict for prompt {key[0]!r}, model {key[1]!r}, turn {key[2]}",
                location=f"vote {row}",
            )
        return CORRECTNESS_SCORE[verdicts[key]]

    a = np.array([score((v.prompt_id, v.model_a, v.turn), k + 1) for k, v in enumerate(votes)], dtype=np.float64)
    b = np.array([score((v.prompt_id, v.model_b, v.turn), k + 1) for k, v in enumerate(votes)], dtype=np.float64)
    return a, b


def correctness_battles(battles: Battles, correct_a: FloatArray, correct_b: FloatArray) -> Battles:
    """The same pairs, won by the more correct response (equal scores tie)."""
    _check_scores(correct_a, correct_b)
    outcome = np.where(correct_a > correct_b, 1.0, np.where(correct_a < correct_b, 0.0, 0.5))
    return battles.with_outcome(outcome)


def correctness_battles_from_verdicts(verdicts: Mapping[Unit, Correctness]) -> Battles:
    """One correctness battle per pair of models graded on the same (prompt, turn)."""
    models = tuple(sorted({m for _, m, _ in verdicts}))
    index = {m: k for k, m in enumerate(models)}
    by_unit: dict[tuple[str, int], list[tuple[int, float]]] = {}
    for (prompt, model, turn), verdict in sorted(verdicts.items()):
        by_unit.setdefault((prompt, turn), []).append((index[model], CORRECTNESS_SCORE[verdict]))
    pairs = [pair for graded in by_unit.values() for pair in itertools.combinations(graded, 2)]
    a = np.array([p[0][0] for p in pairs], dtype=np.int64)
    b = np.array([p[1][0] for p in pairs], dtype=np.int64)
    score_a = np.array([p[0][1] for p in pairs], dtype=np.float64)
    score_b = np.array([p[1][1] for p in pairs], dtype=np.float64)
    return correctness_battles(Battles(models, a, b, np.full(len(pairs), 0.5)), score_a, score_b)


def with_correctness_covariate(battles: Battles, correct_a: FloatArray, correct_b: FloatArray) -> Battles:
    """The preference battles with the correctness difference a - b (in [-1, 1]) as a covariate."""
    _check_scores(correct_a, correct_b)
    return battles.with_features((correct_a - correct_b)[:, None], ("correctness",))


def fit_correctness_rating(
    battles: Battles,
    *,
    scale: RatingScale = RatingScale(),
    anchor: Anchor = Anchor(),
    bootstrap: BootstrapSpec = BootstrapSpec(),
) -> RatingFit:
    """Bradley-Terry on correctness battles (see ``correctness_battles``)."""
    return fit_bradley_terry(battles, scale=scale, anchor=anchor, bootstrap=bootstrap, method="correctness")


def fit_correctness_controlled(
    battles: Battles,
    correct_a: FloatArray,
    correct_b: FloatArray,
    *,
    scale: RatingScale = RatingScale(),
    anchor: Anchor = Anchor(),
    bootstrap: BootstrapSpec = BootstrapSpec(),
) -> RatingFit:
    """Preference Bradley-Terry with the correctness difference as a jointly fitted covariate."""
    return fit_bradley_terry(
        with_correctness_covariate(battles, correct_a, correct_b),
        scale=scale,
        anchor=anchor,
        bootstrap=bootstrap,
        method="correctness_controlled",
    )
