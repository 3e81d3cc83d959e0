"""Leaderboards: rating rows with intervals and CI-based ranks, plus the method card that produced them."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from judge.core.errors import StatisticsError
from judge.core.types import Frozen
from judge.ratings.fit import ParamValue, RatingFit

FloatArray = NDArray[np.float64]


class RatingRow(Frozen):
    """One model's rating, its interval (None without bootstrap), CI rank and number of battles."""

    model: str
    rating: float
    ci_low: float | None
    ci_high: float | None
    rank: int
    n_battles: int


class Coefficient(Frozen):
    """A covariate effect in rating points per unit of the covariate, with its interval."""

    name: str
    value: float
    ci_low: float | None
    ci_high: float | None


class Leaderboard(Frozen):
    """Rows sorted by rating (best first) and the method card: how the numbers were made."""

    method: str
    params: dict[str, ParamValue]
    ci_level: float
    bootstrap_rounds: int
    seed: int | None
    anchor: str
    n_battles: int
    rows: tuple[RatingRow, ...]
    coefficients: tuple[Coefficient, ...] = ()
    notes: tuple[str, ...] = ()
    ci_method: str = "bootstrap"

    def row(self, model: str) -> RatingRow | None:
        return next((r for r in self.rows if r.model == model), None)

    def card(self) -> dict[str, Any]:
        """The method card as plain data."""
        return {
            "method": self.method,
            "params": dict(self.params),
            "ci_level": self.ci_level,
            "ci_method": self.ci_method,
            "bootstrap_rounds": self.bootstrap_rounds,
            "seed": self.seed,
            "anchor": self.anchor,
            "n_battles": self.n_battles,
            "notes": list(self.notes),
        }

    def to_json_rows(self) -> list[dict[str, Any]]:
        """``{model, rating, ci_low, ci_high, rank, n_battles, ci_level}`` per model, best first."""
        return [{**r.model_dump(), "ci_level": self.ci_level} for r in self.rows]


def rank_by_intervals(low: FloatArray, high: FloatArray) -> list[int]:
    """Rank = 1 + the number of models whose lower bound is above this model's upper bound."""
    return [1 + int(np.sum(low > h)) for h in high]


def leaderboard_from_fit(fit: RatingFit) -> Leaderboard:
    """Rows with percentile intervals and CI ranks; without bootstrap, ranks by the ratings alone."""
    interval = fit.rating_interval()
    if interval is None:
        low = high = None
        ranks = rank_by_intervals(fit.ratings, fit.ratings)
    else:
        low, high = interval
        ranks = rank_by_intervals(low, high)
    rows = [
        RatingRow(
            model=m,
            rating=float(fit.ratings[k]),
            ci_low=None if low is None else float(low[k]),
            ci_high=None if high is None else float(high[k]),
            rank=ranks[k],
            n_battles=int(fit.n_battles[k]),
        )
        for k, m in enumerate(fit.models)
    ]
    coefficient_interval = fit.coefficient_interval()
    coefficients = tuple(
        Coefficient(
            name=name,
            value=float(fit.coefficients[k]),
            ci_low=None if coefficient_interval is None else float(coefficient_interval[0][k]),
            ci_high=None if coefficient_interval is None else float(coefficient_interval[1][k]),
        )
        for k, name in enumerate(fit.coefficient_names)
    )
    for value in [r.rating for r in rows] + [c.value for c in coefficients]:
        if not math.isfinite(value):
            raise StatisticsError(f"{fit.method}: a rating is not finite")
    return Leaderboard(
        method=fit.method,
        params=fit.params,
        ci_level=fit.bootstrap.ci_level,
        bootstrap_rounds=fit.bootstrap.rounds,
        seed=fit.bootstrap.seed if fit.bootstrap.rounds else None,
        anchor=fit.anchor.describe(),
        n_battles=fit.total_battles,
        rows=tuple(sorted(rows, key=lambda r: (-r.rating, r.model))),
        coefficients=coefficients,
        notes=fit.notes,
        ci_method=fit.ci_method,
    )


class ComparisonRow(Frozen):
    """One model under raw, style-controlled and correctness-aware ratings; shifts are raw rank minus rank.

    A positive shift means the model moves up once style (or correctness) is controlled for.
    """

    model: str
    rating: float
    ci_low: float | None
    ci_high: float | None
    rank: int
    n_battles: int
    style_rating: float | None = None
    style_ci_low: float | None = None
    style_ci_high: float | None = None
    style_rank: int | None = None
    style_rank_shift: int | None = None
    correctness_rating: float | None = None
    correctness_ci_low: float | None = None
    correctness_ci_high: float | None = None
    correctness_rank: int | None = None
    correctness_rank_shift: int | None = None


def combine_leaderboards(
    raw: Leaderboard, style: Leaderboard | None = None, correctness: Leaderboard | None = None
) -> list[ComparisonRow]:
    """Side-by-side columns for every model of ``raw`` (its order); absent columns stay None."""
    out = []
    for row in raw.rows:
        extra: dict[str, float | int | None] = {}
        for prefix, board in (("style", style), ("correctness", correctness)):
            other = board.row(row.model) if board is not None else None
            if other is not None:
                extra |= {
                    f"{prefix}_rating": other.rating,
                    f"{prefix}_ci_low": other.ci_low,
                    f"{prefix}_ci_high": other.ci_high,
                    f"{prefix}_rank": other.rank,
                    f"{prefix}_rank_shift": row.rank - other.rank,
                }
        out.append(ComparisonRow(**row.model_dump(), **extra))
    return out


def comparison_json_rows(rows: Sequence[ComparisonRow], ci_level: float) -> list[dict[str, Any]]:
    """The JSON list: base columns plus the style/correctness columns present in any row."""
    present = {k for r in rows for k, v in r.model_dump().items() if v is not None}
    return [{**{k: v for k, v in r.model_dump().items() if k in present}, "ci_level": ci_level} for r in rows]
