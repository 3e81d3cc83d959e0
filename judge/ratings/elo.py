"""Online Elo: battles processed one by one in the given order (or averaged over shuffled orders).

After a battle with outcome s for a (1, 0.5 or 0), expected score e = 1 / (1 + base^((R_b - R_a) / scale)):
R_a += K (s - e) and R_b -= K (s - e). Intervals come from a bootstrap over battles: each round resamples
battles with replacement, keeps them in their original order (or in a fresh random order when shuffling)
and reruns Elo. Rounds run side by side as vectors, one battle position at a time.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from judge.core.errors import InputError, StatisticsError
from judge.ratings.battles import Battles
from judge.ratings.fit import Anchor, BootstrapSpec, RatingFit, RatingScale

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

_MAX_EXPONENT = 700.0  # keeps exp() finite for absurd rating gaps
_CELLS_PER_CHUNK = 4_000_000  # rounds x battles held in memory at once


@dataclass(frozen=True)
class EloParams:
    """Online Elo settings: step size ``k`` and the rating every model starts from."""

    k: float = 4.0
    initial: float = 1000.0

    def __post_init__(self) -> None:
        if not self.k > 0:
            raise InputError("the Elo K factor must be > 0", field="k")


def run_elo(battles: Battles, params: EloParams = EloParams(), scale: RatingScale = RatingScale()) -> FloatArray:
    """Ratings after one pass over the battles in the given order."""
    ratings = [params.initial] * len(battles.models)
    k, per_point = params.k, math.log(scale.base) / scale.scale
    exp, cap = math.exp, _MAX_EXPONENT
    for i, j, s in zip(battles.a.tolist(), battles.b.tolist(), battles.outcome.tolist(), strict=True):
        ri, rj = ratings[i], ratings[j]
        delta = k * (s - 1.0 / (1.0 + exp(min((rj - ri) * per_point, cap))))
        ratings[i] = ri + delta
        ratings[j] = rj - delta
    return np.array(ratings)


def run_elo_orders(
    battles: Battles, orders: IntArray, params: EloParams = EloParams(), scale: RatingScale = RatingScale()
) -> FloatArray:
    """Ratings for each row of ``orders`` (battle indices, repeats allowed), rows run side by side."""
    if len(orders) == 1:
        one = Battles(battles.models, battles.a[orders[0]], battles.b[orders[0]], battles.outcome[orders[0]])
        return run_elo(one, params, scale)[None, :]
    out = np.empty((len(orders), len(battles.models)))
    per_point = math.log(scale.base) / scale.scale
    rows_per_chunk = max(1, _CELLS_PER_CHUNK // max(1, orders.shape[1]))
    for start in range(0, len(orders), rows_per_chunk):
        chunk = orders[start : start + rows_per_chunk]
        a, b, s = battles.a[chunk], battles.b[chunk], battles.outcome[chunk]
        ratings = np.full((len(chunk), len(battles.models)), params.initial)
        rows = np.arange(len(chunk))
        for t in range(chunk.shape[1]):
            i, j = a[:, t], b[:, t]
            ri, rj = ratings[rows, i], ratings[rows, j]
            delta = params.k * (s[:, t] - 1.0 / (1.0 + np.exp(np.minimum((rj - ri) * per_point, _MAX_EXPONENT))))
            ratings[rows, i] = ri + delta
            ratings[rows, j] = rj - delta
        out[start : start + len(chunk)] = ratings
    return out


def _permutations(rng: np.random.Generator, rounds: int, n: int) -> IntArray:
    return np.stack([rng.permutation(n) for _ in range(rounds)])


def _resamples(rng: np.random.Generator, rounds: int, n: int, keep_order: bool) -> IntArray:
    draws = rng.integers(0, n, (rounds, n))
    if keep_order:
        draws.sort(axis=1)
    return draws


def _elo_rounds(
    battles: Battles, params: EloParams, scale: RatingScale, rounds: int, draw: Callable[[int], IntArray]
) -> FloatArray:
    """Elo for ``rounds`` battle orders made by ``draw(count)``, a memory-bounded chunk at a time."""
    per_chunk = max(1, _CELLS_PER_CHUNK // battles.n_battles)
    parts = [
        run_elo_orders(battles, draw(min(per_chunk, rounds - done)), params, scale)
        for done in range(0, rounds, per_chunk)
    ]
    return np.vstack(parts)


def fit_elo(
    battles: Battles,
    *,
    params: EloParams = EloParams(),
    scale: RatingScale = RatingScale(),
    bootstrap: BootstrapSpec = BootstrapSpec(),
    shuffle_seed: int | None = None,
    n_orders: int = 1,
) -> RatingFit:
    """Online Elo ratings with bootstrap intervals.

    Without ``shuffle_seed`` the battles are taken in the given order. With it, the rating is the mean over
    ``n_orders`` random orders drawn from that seed, and every bootstrap round uses its own random order.
    Elo is not re-anchored: ratings keep the mean ``params.initial`` that every update preserves.
    """
    if battles.n_battles == 0:
        raise StatisticsError("no battles to rate")
    if n_orders < 1:
        raise InputError("n_orders must be >= 1", field="n_orders")
    n = battles.n_battles
    if shuffle_seed is None:
        ratings = run_elo(battles, params, scale)
    else:
        order_rng = np.random.default_rng(shuffle_seed)
        ratings = _elo_rounds(battles, params, scale, n_orders, lambda k: _permutations(order_rng, k, n))
        ratings = ratings.mean(axis=0)
    samples = None
    if bootstrap.rounds:
        rng = np.random.default_rng(bootstrap.seed)
        keep_order = shuffle_seed is None
        samples = _elo_rounds(battles, params, scale, bootstrap.rounds, lambda k: _resamples(rng, k, n, keep_order))
    return RatingFit(
        method="elo",
        models=battles.models,
        ratings=ratings,
        samples=samples,
        n_battles=battles.battles_per_model(),
        total_battles=n,
        scale=scale,
        anchor=Anchor(None, params.initial),
        bootstrap=bootstrap,
        params={
            "k": params.k,
            "initial": params.initial,
            "scale": scale.scale,
            "base": scale.base,
            "shuffle_seed": shuffle_seed,
            "n_orders": n_orders if shuffle_seed is not None else 1,
        },
    )
