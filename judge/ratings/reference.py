"""Per-battle logistic regression: the textbook Bradley-Terry fit, used as an independent check and baseline.

One row per battle (no aggregation), log-loss minimised with scipy's L-BFGS over all model strengths and
covariate coefficients, with the same tiny ridge as the fast fit. Ties enter as a target of 0.5.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from judge.core.errors import StatisticsError
from judge.ratings.battles import Battles, require_rateable
from judge.ratings.bradley_terry import DEFAULT_RIDGE
from judge.ratings.fit import Anchor, RatingScale

FloatArray = NDArray[np.float64]


def fit_logistic_per_battle(
    battles: Battles,
    *,
    scale: RatingScale = RatingScale(),
    anchor: Anchor = Anchor(),
    ridge: float = DEFAULT_RIDGE,
    weights: FloatArray | None = None,
) -> tuple[FloatArray, FloatArray]:
    """Ratings (anchored, Elo scale) and covariate coefficients (points per unit) from a per-battle fit.

    ``weights`` (battle multiplicities, e.g. a bootstrap resample) default to one per battle.
    """
    require_rateable(battles)
    n, total = len(battles.models), battles.n_battles
    x = battles.features if battles.features is not None else np.zeros((total, 0))
    w = np.ones(total) if weights is None else np.asarray(weights, dtype=np.float64)
    y, a, b = battles.outcome, battles.a, battles.b

    def loss(params: FloatArray) -> tuple[float, FloatArray]:
        eta = params[a] - params[b] + x @ params[n:]
        p = 0.5 * (1.0 + np.tanh(0.5 * eta))
        value = w @ (np.logaddexp(0.0, eta) - y * eta) + 0.5 * ridge * (params @ params)
        residual = w * (p - y)
        grad = (
            np.concatenate([np.bincount(a, residual, n) - np.bincount(b, residual, n), x.T @ residual]) + ridge * params
        )
        return float(value) / total, grad / total

    from scipy.optimize import minimize  # SciPy on first use: slow to import

    result = minimize(
        loss,
        np.zeros(n + x.shape[1]),
        jac=True,
        method="L-BFGS-B",
        options={"maxiter": 20_000, "maxcor": 30, "ftol": 1e-15, "gtol": 1e-10},
    )
    if not np.all(np.isfinite(result.x)):
        raise StatisticsError(f"per-battle logistic regression failed: {result.message}")
    theta = result.x[:n] - result.x[:n].mean()
    return anchor.offsets(theta, battles.models, scale), result.x[n:] * scale.points_per_logit
