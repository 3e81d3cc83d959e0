"""Win rates implied by ratings: the predicted matrix and each model's predicted win rate vs a baseline."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from judge.core.errors import InputError
from judge.core.types import Frozen
from judge.ratings.battles import Battles
from judge.ratings.fit import RatingFit

FloatArray = NDArray[np.float64]


class WinRateMatrix(Frozen):
    """``probability[i][j]``: predicted chance that ``models[i]`` beats ``models[j]`` (ties count half)."""

    models: tuple[str, ...]
    probability: tuple[tuple[float, ...], ...]


class BaselineWinRate(Frozen):
    """A model's predicted win rate against ``baseline`` with its bootstrap interval, and the observed one.

    ``observed`` is the share of points won in the ``n_direct`` direct battles (ties = half; None if none).
    """

    model: str
    baseline: str
    win_rate: float
    ci_low: float | None
    ci_high: float | None
    ci_level: float
    observed: float | None
    n_direct: int


def predicted_win_rates(fit: RatingFit) -> WinRateMatrix:
    """The win-probability matrix from the fitted ratings (diagonal 0.5)."""
    gap = fit.ratings[:, None] - fit.ratings[None, :]
    matrix = fit.scale.win_probability(gap)
    return WinRateMatrix(models=fit.models, probability=tuple(tuple(float(v) for v in row) for row in matrix))


def win_rates_vs_baseline(fit: RatingFit, battles: Battles, baseline: str) -> list[BaselineWinRate]:
    """Each other model's predicted win rate vs ``baseline``; intervals from the bootstrap ratings."""
    if baseline not in fit.models:
        raise InputError(f"baseline {baseline!r} is not a rated model", field="baseline")
    base = fit.models.index(baseline)
    point = fit.scale.win_probability(fit.ratings - fit.ratings[base])
    interval = None
    if fit.samples is not None:
        interval = fit.bootstrap.interval(fit.scale.win_probability(fit.samples - fit.samples[:, [base]]))
    out = []
    for k, model in enumerate(fit.models):
        if k == base:
            continue
        versus_a = (battles.a == k) & (battles.b == base)
        versus_b = (battles.b == k) & (battles.a == base)
        n_direct = int(versus_a.sum() + versus_b.sum())
        points = float(battles.outcome[versus_a].sum() + (1.0 - battles.outcome[versus_b]).sum())
        out.append(
            BaselineWinRate(
                model=model,
                baseline=baseline,
                win_rate=float(point[k]),
                ci_low=None if interval is None else float(interval[0][k]),
                ci_high=None if interval is None else float(interval[1][k]),
                ci_level=fit.bootstrap.ci_level,
                observed=points / n_direct if n_direct else None,
                n_direct=n_direct,
            )
        )
    return sorted(out, key=lambda r: (-r.win_rate, r.model))
