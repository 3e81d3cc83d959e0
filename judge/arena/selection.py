"""Which unit a voter sees next: uniform, or active (where one more vote teaches the ranking most).

Active selection fits Bradley-Terry to the votes so far with a Gaussian prior (a Laplace approximation gives
each rating difference a variance), and scores each model pair by

    P(the pair's order is wrong) x (expected shrinkage of the variance of their difference from one vote)

i.e. pairs whose rating intervals overlap, weighted towards those with few votes (large variance). A pair is
drawn with probability proportional to its score raised to ``sharpness`` (so concurrent voters do not all get
the same pair), then a prompt uniformly among those the voter has not seen for that pair.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from judge.core.errors import InputError

FloatArray = NDArray[np.float64]
Strategy = Literal["uniform", "active"]
STRATEGIES: tuple[str, ...] = ("uniform", "active")
Pair = tuple[str, str]


def check_strategy(text: str) -> Strategy:
    """``uniform`` or ``active``; anything else is an InputError."""
    if text == "uniform":
        return "uniform"
    if text == "active":
        return "active"
    raise InputError(f"pair selection must be one of {', '.join(STRATEGIES)}, got {text!r}", field="selection")


@dataclass(frozen=True, eq=False)
class RatingState:
    """Bradley-Terry log-strengths of ``models`` (``theta``) with their approximate covariance ``cov``."""

    models: tuple[str, ...]
    theta: FloatArray
    cov: FloatArray

    def index(self, model: str) -> int:
        return self.models.index(model)

    def difference(self, a: str, b: str) -> tuple[float, float]:
        """Mean and variance of theta_a - theta_b."""
        i, j = self.index(a), self.index(b)
        var = float(self.cov[i, i] + self.cov[j, j] - 2.0 * self.cov[i, j])
        return float(self.theta[i] - self.theta[j]), max(var, 1e-12)


def fit_rating_state(
    models: Sequence[str], outcomes: Sequence[tuple[str, str, float]], *, prior_var: float = 1.0, steps: int = 30
) -> RatingState:
    """MAP Bradley-Terry with a N(0, ``prior_var``) prior per log-strength, by Newton; ``outcomes`` are
    (a, b, score of a: 1, 0.5 or 0). Models without votes keep theta 0 and the prior variance."""
    names = tuple(sorted(set(models)))
    n = len(names)
    where = {m: k for k, m in enumerate(names)}
    count = np.zeros((n, n))
    wins = np.zeros((n, n))
    for a, b, s in outcomes:
        i, j = where[a], where[b]
        count[i, j] += 1.0
        count[j, i] += 1.0
        wins[i, j] += s
        wins[j, i] += 1.0 - s
    return fit_counts(names, count, wins, prior_var=prior_var, steps=steps)


def fit_counts(
    models: tuple[str, ...], count: FloatArray, wins: FloatArray, *, prior_var: float = 1.0, steps: int = 30
) -> RatingState:
    """:func:`fit_rating_state` from symmetric ``count`` and ``wins`` (row beat column, ties half) matrices."""
    n = len(models)
    precision = 1.0 / prior_var
    theta = np.zeros(n)
    hessian = np.eye(n) * precision
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-(theta[:, None] - theta[None, :])))
        gradient = (wins - count * p).sum(axis=1) - precision * theta
        weight = count * p * (1.0 - p)
        hessian = np.diag(weight.sum(axis=1)) - weight + np.eye(n) * precision
        step = np.linalg.solve(hessian, gradient)
        theta = theta + step
        if float(np.abs(step).max(initial=0.0)) < 1e-9:
            break
    return RatingState(models=models, theta=theta, cov=np.asarray(np.linalg.inv(hessian), dtype=np.float64))


def pair_score(state: RatingState, a: str, b: str, floor: float = 0.0) -> float:
    """How much one vote on (a, b) is expected to teach the ranking: (P(order wrong) + ``floor``) x variance
    shrinkage (``floor`` keeps some weight on well-separated pairs, whose votes still narrow every interval)."""
    from scipy.special import ndtr  # SciPy on first use: slow to import

    mean, var = state.difference(a, b)
    wrong = float(ndtr(-abs(mean) / math.sqrt(var))) + floor
    p = 1.0 / (1.0 + math.exp(-mean))
    information = p * (1.0 - p)
    shrinkage = var * var * information / (1.0 + var * information)
    return wrong * shrinkage


def choose_pair(
    available: Sequence[Pair],
    state: RatingState | None,
    strategy: Strategy,
    rng: np.random.Generator,
    *,
    sharpness: float = 2.0,
    floor: float = 0.0,
) -> Pair | None:
    """One of the ``available`` pairs: uniformly, or (active) with probability proportional to score^sharpness."""
    if not available:
        return None
    if strategy == "uniform" or state is None:
        return available[int(rng.integers(len(available)))]
    scores = np.array([pair_score(state, a, b, floor) for a, b in available]) ** sharpness
    total = float(scores.sum())
    if not math.isfinite(total) or total <= 0.0:
        return available[int(rng.integers(len(available)))]
    return available[int(rng.choice(len(available), p=scores / total))]


def choose_unit(
    units: Mapping[Pair, Sequence[tuple[int, int]]],
    state: RatingState | None,
    strategy: Strategy,
    rng: np.random.Generator,
    *,
    sharpness: float = 2.0,
) -> tuple[Pair, tuple[int, int]] | None:
    """A (pair, (prompt id, turn)) among the units the voter has not seen (``units``: per pair); None if none."""
    available = sorted(pair for pair, prompts in units.items() if prompts)
    pair = choose_pair(available, state, strategy, rng, sharpness=sharpness)
    if pair is None:
        return None
    prompts = units[pair]
    return pair, prompts[int(rng.integers(len(prompts)))]
