"""Synthetic battles drawn from known ratings: the ground truth for tests and benchmarks."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from judge.ratings.battles import Battles
from judge.ratings.fit import RatingScale

FloatArray = NDArray[np.float64]


def simulate_battles(
    ratings: FloatArray,
    n_battles: int,
    rng: np.random.Generator,
    *,
    scale: RatingScale = RatingScale(),
    tie_rate: float = 0.0,
    features: FloatArray | None = None,
    coefficients: FloatArray | None = None,
) -> Battles:
    """Battles between uniformly drawn distinct pairs, outcomes from the Bradley-Terry model.

    A model leading by ``d`` points (plus ``features @ coefficients`` points when covariates are given) has
    expected score ``p = win_probability(d)``. A battle is a tie with probability ``tie_rate * 2 min(p, 1-p)``
    and otherwise a win with the probability that keeps the expected score (ties = half) at ``p``.
    """
    n = len(ratings)
    a = rng.integers(0, n, n_battles)
    b = (a + rng.integers(1, n, n_battles)) % n
    gap = np.asarray(ratings)[a] - np.asarray(ratings)[b]
    names: tuple[str, ...] = ()
    if features is not None and coefficients is not None:
        gap = gap + features @ coefficients
        names = tuple(f"x{c}" for c in range(features.shape[1]))
    p = scale.win_probability(gap)
    tie_probability = tie_rate * 2.0 * np.minimum(p, 1.0 - p)
    tie = rng.random(n_battles) < tie_probability
    win_given_no_tie = (p - tie_probability / 2.0) / (1.0 - tie_probability)
    outcome = np.where(tie, 0.5, (rng.random(n_battles) < win_given_no_tie).astype(np.float64))
    models = tuple(f"model-{k:03d}" for k in range(n))
    battles = Battles(models, a.astype(np.int64), b.astype(np.int64), outcome)
    return battles.with_features(features, names) if features is not None and coefficients is not None else battles
