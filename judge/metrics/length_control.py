"""A length-controlled win rate in the spirit of AlpacaEval 2.0's, without its instruction-difficulty term.

For one model against the baseline, fit ``P(model wins item i) = sigmoid(theta + phi * tanh(d_i / s))`` by
maximum likelihood (draws are targets of 0.5), where ``d_i`` is the model's response length minus the
baseline's (characters) and ``s`` the standard deviation of ``d`` over the model's items. The length-controlled
win rate is ``100 * sigmoid(theta)``: the predicted win rate had both responses been equally long. AlpacaEval's
own GLM adds a per-instruction difficulty term fitted across all models; this variant leaves it out, so its
figures are close to, not equal to, AlpacaEval's ``length_controlled_winrate``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from judge.core.errors import StatisticsError
from judge.core.types import PairVote
from judge.metrics.winrate import item_score

RIDGE = 1e-6
"""A tiny L2 penalty that keeps the fit finite when length separates wins from losses."""


def length_controlled_win_rate(scores: Sequence[float], length_differences: Sequence[float]) -> float:
    """Percent; ``scores`` are the items' 1/0.5/0 and ``length_differences`` model minus baseline length."""
    y = np.asarray(scores, dtype=np.float64)
    d = np.asarray(length_differences, dtype=np.float64)
    if y.size == 0 or y.shape != d.shape:
        raise StatisticsError("one length difference per scored item is needed")
    spread = float(d.std(ddof=1)) if d.size > 1 else 0.0
    x = np.tanh(d / spread) if spread > 0 else np.zeros_like(d)

    def loss(params: np.ndarray) -> float:
        z = params[0] + params[1] * x
        log_p = -np.logaddexp(0.0, -z)
        log_q = -np.logaddexp(0.0, z)
        return float(-(y * log_p + (1.0 - y) * log_q).sum() + RIDGE * (params**2).sum())

    from scipy.optimize import minimize  # SciPy on first use: slow to import

    fit = minimize(loss, np.zeros(2), method="BFGS", options={"gtol": 1e-10})
    theta = float(fit.x[0])
    return 100.0 / (1.0 + math.exp(-theta))


def length_controlled_by_model(
    votes: Sequence[PairVote], baseline: str, lengths: Mapping[tuple[str, str, int], int]
) -> dict[str, float]:
    """Each model's length-controlled win rate vs ``baseline``; items without both response texts are left out."""
    items: dict[str, tuple[list[float], list[float]]] = {}
    for vote in votes:
        if baseline not in (vote.model_a, vote.model_b) or vote.model_a == vote.model_b:
            continue
        model = vote.model_b if vote.model_a == baseline else vote.model_a
        mine = lengths.get((vote.prompt_id, model, vote.turn))
        theirs = lengths.get((vote.prompt_id, baseline, vote.turn))
        if mine is None or theirs is None:
            continue
        scores, differences = items.setdefault(model, ([], []))
        scores.append(item_score(vote, model))
        differences.append(float(mine - theirs))
    return {model: length_controlled_win_rate(s, d) for model, (s, d) in items.items()}


METHOD = (
    "logistic fit per model: P(win) = sigmoid(theta + phi * tanh(length difference / its SD)), draws 0.5; "
    "reported: 100 * sigmoid(theta), the win rate at equal length (AlpacaEval 2's GLM without its "
    "instruction-difficulty term)"
)
