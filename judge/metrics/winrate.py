"""Win rate against a baseline, as AlpacaEval reports it.

Each vote between a model and the baseline is one item scored 1 (model wins), 0.5 (draw) or 0 (baseline
wins). ``win_rate`` is the mean score in percent; ``standard_error`` is the sample standard deviation of the
item scores (ddof 1) over √n, in percent (AlpacaEval's ``standard_error``); the CI is the normal interval
win_rate ± z·standard_error, clipped to [0, 100].
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from judge.core.errors import InputError
from judge.core.types import Frozen, JsonFields, PairVote, Winner
from judge.metrics.categories import in_category
from judge.metrics.intervals import z_for

METHOD = "alpacaeval-winrate"


class WinRate(JsonFields):
    """One model's win rate (percent) against ``baseline`` over ``n`` items."""

    model: str
    baseline: str
    n: int
    wins: int
    draws: int
    losses: int
    win_rate: float
    standard_error: float
    ci_low: float
    ci_high: float
    ci_level: float


def item_score(vote: PairVote, model: str) -> float:
    """The vote's score for ``model`` (which must be one of its two sides): 1 win, 0.5 draw, 0 loss."""
    if vote.winner.is_tie:
        return 0.5
    if model not in (vote.model_a, vote.model_b):
        raise InputError(f"{model!r} is not in this vote", field="model")
    won = Winner.MODEL_A if vote.model_a == model else Winner.MODEL_B
    return 1.0 if vote.winner is won else 0.0


def win_rate_of(model: str, baseline: str, scores: Sequence[float], confidence: float = 0.95) -> WinRate:
    """The win-rate block of item ``scores`` (each 0, 0.5 or 1); needs at least one item."""
    n = len(scores)
    if n == 0:
        raise InputError(f"no votes between {model!r} and the baseline {baseline!r}", field="baseline")
    mean = sum(scores) / n
    variance = sum((s - mean) ** 2 for s in scores) / (n - 1) if n > 1 else 0.0
    se = math.sqrt(variance / n)
    half = z_for(confidence) * se
    return WinRate(
        model=model,
        baseline=baseline,
        n=n,
        wins=sum(s == 1.0 for s in scores),
        draws=sum(s == 0.5 for s in scores),
        losses=sum(s == 0.0 for s in scores),
        win_rate=100.0 * mean,
        standard_error=100.0 * se,
        ci_low=100.0 * max(0.0, mean - half),
        ci_high=100.0 * min(1.0, mean + half),
        ci_level=confidence,
    )


def win_rates_vs_baseline(votes: Sequence[PairVote], baseline: str, confidence: float = 0.95) -> list[WinRate]:
    """Each model that met ``baseline`` in a vote, with its win rate; sorted by win rate, highest first."""
    scores: dict[str, list[float]] = {}
    for vote in votes:
        if baseline not in (vote.model_a, vote.model_b) or vote.model_a == vote.model_b:
            continue
        other = vote.model_b if vote.model_a == baseline else vote.model_a
        scores.setdefault(other, []).append(item_score(vote, other))
    if not scores:
        raise InputError(f"no votes involve the baseline {baseline!r}", field="baseline")
    rows = [win_rate_of(model, baseline, s, confidence) for model, s in scores.items()]
    return sorted(rows, key=lambda r: (-r.win_rate, r.model))


def method_card(baseline: str, confidence: float, order_rule: str | None = None) -> dict[str, Any]:
    """How the win rates were computed."""
    card: dict[str, Any] = {
        "method": METHOD,
        "baseline": baseline,
        "item_score": "1 win, 0.5 draw, 0 loss; one item per vote",
        "win_rate": "mean item score, percent",
        "standard_error": "sample SD (ddof 1) of item scores / sqrt(n), percent (AlpacaEval's)",
        "ci": f"normal: win_rate ± z·standard_error, clipped to [0, 100], level {confidence}",
        "length_controlled": "not computed",
    }
    if order_rule is not None:
        card["order_rule"] = order_rule
    return card


class CategoryWinRates(Frozen):
    """Win rates per category, and each model's micro (pooled over items) and macro (mean of categories) rate."""

    categories: dict[str, list[WinRate]]
    micro: dict[str, float]
    macro: dict[str, float]

    def to_json(self) -> dict[str, Any]:
        return {
            "categories": {k: [r.to_json() for r in rows] for k, rows in self.categories.items()},
            "micro": self.micro,
            "macro": self.macro,
            "aggregation": "micro: pooled over every item; macro: mean of the model's per-category win rates",
        }


def win_rates_by_category(
    votes: Sequence[PairVote], baseline: str, tags: Sequence[str], confidence: float = 0.95
) -> CategoryWinRates:
    """Each category's win rates vs ``baseline`` (a vote counts in every category tag it carries)."""
    overall = {r.model: r.win_rate for r in win_rates_vs_baseline(votes, baseline, confidence)}
    categories: dict[str, list[WinRate]] = {}
    for tag in tags:
        chosen = [v for v in votes if in_category(v.category, tag)]
        if any(baseline in (v.model_a, v.model_b) for v in chosen):
            categories[tag] = win_rates_vs_baseline(chosen, baseline, confidence)
    macro: dict[str, float] = {}
    for model in overall:
        rates = [r.win_rate for rows in categories.values() for r in rows if r.model == model]
        if rates:
            macro[model] = sum(rates) / len(rates)
    return CategoryWinRates(categories=categories, micro=overall, macro=macro)
