"""Closed-form (sandwich) confidence intervals for plain Bradley-Terry ratings.

At the maximum-likelihood ratings theta, with per-battle score residuals r = y - p (y = 1, 0.5 or 0 for the
first model; ties count half), the robust covariance is ``H^-1 B H^-1``: H = sum n p (1 - p) x x' is the
information (the "bread"), B = sum r^2 x x' the observed variance of the scores (the "meat"), x = e_i - e_j.
It is right whatever the tie share (ties make the binomial variance n p (1 - p) of the plain inverse-information
interval wrong; B measures it). Both sums are taken over the aggregated (pair, outcome) counts, so the cost does
not depend on the number of battles. Ratings are identified only up to a common shift; the anchor's linear map
(mean or one model fixed) removes that direction. Intervals are rating +- z * standard error, normal quantile z.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from judge.ratings.newton import Design

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


def sandwich_covariance(
    design: Design,
    theta: FloatArray,
    category_row: IntArray,
    category_score: FloatArray,
    category_count: FloatArray,
) -> FloatArray:
    """Robust covariance of the log-strengths ``theta`` (logit scale, with a harmless common-shift term)."""
    n = design.n_models
    p_row = 1.0 / (1.0 + np.exp(-(theta[design.cell_i] - theta[design.cell_j])))
    p = p_row[design.cell[category_row]]
    residual2 = category_count * (category_score - p) ** 2
    meat_row = np.bincount(category_row, residual2, design.n_rows).astype(np.float64)
    count_row = np.bincount(category_row, category_count, design.n_rows).astype(np.float64)
    bread = design.information(count_row * p_row * (1.0 - p_row), 0.0)
    meat = design.information(meat_row, 0.0)
    inverse = np.linalg.inv(bread)
    return np.asarray(inverse @ meat @ inverse)[:n, :n]


def anchored_covariance(covariance: FloatArray, anchor_index: int | None, points_per_logit: float) -> FloatArray:
    """Covariance of the ratings on the Elo scale: centred on the mean (``anchor_index`` None) or with one
    model held fixed."""
    n = covariance.shape[0]
    projection = np.eye(n)
    if anchor_index is None:
        projection -= 1.0 / n
    else:
        projection[:, anchor_index] -= 1.0
    return np.asarray(points_per_logit**2 * (projection @ covariance @ projection.T))


def normal_interval(ratings: FloatArray, covariance: FloatArray, level: float) -> tuple[FloatArray, FloatArray]:
    """rating +- z * standard error at two-sided ``level``."""
    from scipy.special import ndtri  # SciPy on first use: slow to import

    z = float(ndtri(0.5 + level / 2.0))
    se = np.sqrt(np.clip(np.diag(covariance), 0.0, None))
    return np.asarray(ratings - z * se), np.asarray(ratings + z * se)


def normal_draws(ratings: FloatArray, covariance: FloatArray, rounds: int, seed: int) -> FloatArray:
    """``rounds`` draws of the ratings from their normal approximation (for significance and rank bands)."""
    values, vectors = np.linalg.eigh((covariance + covariance.T) / 2.0)
    root = vectors * np.sqrt(np.clip(values, 0.0, None))
    noise = np.random.default_rng(seed).standard_normal((rounds, len(ratings)))
    return np.asarray(ratings + noise @ root.T)
