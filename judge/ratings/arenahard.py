"""Arena-Hard-Auto's score: each model's win rate against the baseline over its games, as ``show_result.py``
computes it.

Each judgment record has two games (game 1 shows the baseline as A, game 2 the model as A); the two games are
separate battles (order rule ``separate``). A game scores 1 (model better), 0.5 (tie) or 0 (baseline better), and
a strong verdict (``>>``) counts as ``weight`` (3, show_result.py's ``--weight``) identical battles: the label map
and the order ``scores(game 2) + [1 - s for s in scores(game 1)]`` are those of lmarena/arena-hard-auto's
``load_judgments``. Records with a null game (or a null score) are dropped whole, and records whose model is the
judge itself are left out, both as ``load_judgments`` does.

The score is the mean battle score. Arena-Hard v0.1 reported the Bradley-Terry win rate against the baseline,
fitted on the same battles; every battle involves the baseline, so each model's fit is separate and its win rate
is exactly this mean. v2.0 prints the mean of its 100 bootstrap means, which differs from this mean only by
bootstrap noise. The interval comes from ``rounds`` bootstrap resamples of each model's battles (v2.0: 100 rounds,
5th and 95th percentiles).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from judge.core.errors import InputError
from judge.core.types import JsonFields
from judge.importers.arenahard import ArenaHardGame

STRONG_WEIGHT = 3

_MODEL_AS_A = {
    "A>B": [1.0],
    "A>>B": [1.0] * STRONG_WEIGHT,
    "A=B": [0.5],
    "A<<B": [0.0] * STRONG_WEIGHT,
    "A<B": [0.0],
    "B>A": [0.0],
    "B>>A": [0.0] * STRONG_WEIGHT,
    "B=A": [0.5],
    "B<<A": [1.0] * STRONG_WEIGHT,
    "B<A": [1.0],
}


def _weighted(label: str, weight: int) -> list[float]:
    scores = _MODEL_AS_A[label]
    return [scores[0]] * (weight if len(scores) > 1 else 1)


def battle_scores(game: ArenaHardGame, weight: int = STRONG_WEIGHT) -> list[float]:
    """The model's battle scores from one record (game 2 as published, game 1 mirrored); [] if a game is null."""
    if game.game1 is None or game.game2 is None:
        return []
    return _weighted(game.game2, weight) + [1.0 - s for s in _weighted(game.game1, weight)]


class ArenaHardScore(JsonFields):
    """A model's Arena-Hard score (percent) vs the baseline, with its bootstrap interval."""

    model: str
    baseline: str
    score: float
    ci_low: float
    ci_high: float
    n_questions: int
    n_battles: int
    n_dropped: int


def arenahard_scores(
    games: Sequence[ArenaHardGame],
    *,
    baseline: str,
    weight: int = STRONG_WEIGHT,
    rounds: int = 100,
    seed: int = 0,
    interval: tuple[float, float] = (0.05, 0.95),
    category: str | None = None,
) -> list[ArenaHardScore]:
    """Every judged model's score against ``baseline`` (the baseline itself is listed at 50), highest first."""
    chosen = [
        g
        for g in games
        if g.baseline == baseline and g.model != g.judge and (category is None or g.category == category)
    ]
    if not chosen:
        raise InputError(f"no judgments against the baseline {baseline!r}", field="--baseline")
    by_model: dict[str, list[ArenaHardGame]] = {}
    for game in chosen:
        by_model.setdefault(game.model, []).append(game)
    rng = np.random.default_rng(seed)
    rows = []
    for model, model_games in sorted(by_model.items()):
        scores = np.array([s for g in model_games for s in battle_scores(g, weight)], dtype=np.float64)
        dropped = sum(1 for g in model_games if g.game1 is None or g.game2 is None)
        if scores.size == 0:
            continue
        means = rng.choice(scores, size=(rounds, scores.size), replace=True).mean(axis=1)
        low, high = np.quantile(means, interval)
        rows.append(
            ArenaHardScore(
                model=model,
                baseline=baseline,
                score=100.0 * float(scores.mean()),
                ci_low=100.0 * float(low),
                ci_high=100.0 * float(high),
                n_questions=len(model_games) - dropped,
                n_battles=int(scores.size),
                n_dropped=dropped,
            )
        )
    rows.append(
        ArenaHardScore(
            model=baseline,
            baseline=baseline,
            score=50.0,
            ci_low=50.0,
            ci_high=50.0,
            n_questions=0,
            n_battles=0,
            n_dropped=0,
        )
    )
    return sorted(rows, key=lambda r: (-r.score, r.model))


def method_card(weight: int, rounds: int, interval: tuple[float, float], seed: int) -> dict[str, Any]:
    """How the Arena-Hard scores were computed."""
    return {
        "method": "arena-hard-auto score",
        "order_rule": "separate",
        "order_rule_means": "each record's two games (baseline first, model first) are separate battles",
        "strong_verdicts": f"A>>B / B>>A count as {weight} battles",
        "null_games": "a record with a null game is dropped whole",
        "judge_as_model": "records whose model is the judge itself are left out",
        "score": "mean battle score of the model vs the baseline, percent",
        "ci": f"bootstrap over each model's battles, {rounds} rounds, "
        f"quantiles {interval[0]}-{interval[1]}, seed {seed}",
    }
