"""Significance: is model (or judge) A better than B, and which leaderboard pairs can be told apart.

- :func:`paired_bootstrap`: resample the shared items (prompts) with replacement; the difference of the two
  means in each round gives a percentile CI, ``p_a_better`` (share of rounds where A's mean is higher, ties
  half) and a two-sided bootstrap p-value ``2 * min(P(d <= 0), P(d >= 0))``.
- :func:`mcnemar`: exact McNemar test for two accuracies on the same items (binomial test on the items only one
  of the two got right).
- :func:`holm`: Holm-Bonferroni adjusted p-values (step-down, monotone) for a family of tests.
- :func:`significance_matrix` / :func:`rank_bands`: from a rating fit's bootstrap samples, each pair's
  P(row rated above column), its Holm-adjusted two-sided p-value over all pairs, and each model's rank band
  (the percentile interval of its rank across rounds).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from judge.core.errors import StatisticsError
from judge.core.types import Frozen, JsonFields

FloatArray = NDArray[np.float64]


class Difference(JsonFields):
    """A - B with its bootstrap percentile CI, P(A better) and a two-sided bootstrap p-value."""

    estimate: float
    ci_low: float
    ci_high: float
    ci_level: float
    p_a_better: float
    p_value: float
    n: int
    rounds: int
    seed: int
    method: str = "paired bootstrap over items"


def _summarise(
    estimate: float, draws: FloatArray, n: int, rounds: int, seed: int, ci: float, method: str
) -> Difference:
    tail = (1.0 - ci) / 2.0
    low, high = np.quantile(draws, [tail, 1.0 - tail])
    above = float(np.mean(draws > 0)) + 0.5 * float(np.mean(draws == 0))
    p_value = min(1.0, 2.0 * min(float(np.mean(draws <= 0)), float(np.mean(draws >= 0))))
    return Difference(
        estimate=estimate,
        ci_low=float(low),
        ci_high=float(high),
        ci_level=ci,
        p_a_better=above,
        p_value=p_value,
        n=n,
        rounds=rounds,
        seed=seed,
        method=method,
    )


def paired_bootstrap(
    a: Sequence[float], b: Sequence[float], *, rounds: int = 2000, seed: int = 0, ci: float = 0.95
) -> Difference:
    """mean(a) - mean(b) over paired items (a[i] and b[i] are the same item), resampling items."""
    x = np.asarray(a, dtype=np.float64)
    y = np.asarray(b, dtype=np.float64)
    if x.shape != y.shape or x.ndim != 1:
        raise StatisticsError("paired values must be two sequences of the same length")
    if x.size == 0:
        raise StatisticsError("no shared items to compare")
    if rounds < 1:
        raise StatisticsError("the bootstrap needs at least one round")
    rng = np.random.default_rng(seed)
    index = rng.integers(0, x.size, size=(rounds, x.size))
    diff = x - y
    draws = diff[index].mean(axis=1)
    return _summarise(float(diff.mean()), draws, int(x.size), rounds, seed, ci, "paired bootstrap over items")


def cluster_bootstrap(
    statistic: Callable[[NDArray[np.int64]], float],
    n_clusters: int,
    *,
    rounds: int = 200,
    seed: int = 0,
    ci: float = 0.95,
) -> Difference:
    """A difference statistic of a resample of clusters (prompts): ``statistic(indices)`` for indices drawn
    with replacement; ``statistic(arange(n))`` is the point estimate. Rounds where it fails (e.g. a model drops
    out of the resample) are skipped; at least half the rounds must succeed."""
    if n_clusters == 0:
        raise StatisticsError("no prompts to resample")
    rng = np.random.default_rng(seed)
    estimate = statistic(np.arange(n_clusters, dtype=np.int64))
    draws = []
    for _ in range(rounds):
        try:
            draws.append(statistic(rng.integers(0, n_clusters, size=n_clusters)))
        except StatisticsError:
            continue
    if len(draws) < max(1, rounds // 2):
        raise StatisticsError(f"only {len(draws)} of {rounds} bootstrap rounds could be computed")
    return _summarise(
        estimate, np.asarray(draws, dtype=np.float64), n_clusters, rounds, seed, ci, "bootstrap over prompts"
    )


class McNemar(JsonFields):
    """Exact McNemar test of two accuracies on the same ``n`` items."""

    n: int
    both_correct: int
    only_a: int
    only_b: int
    neither: int
    p_value: float
    method: str = "exact McNemar (two-sided binomial test on the discordant items)"


def mcnemar(a_correct: Sequence[bool], b_correct: Sequence[bool]) -> McNemar:
    """The test on paired correctness flags (a_correct[i], b_correct[i] on the same item)."""
    if len(a_correct) != len(b_correct):
        raise StatisticsError("paired flags must have the same length")
    pairs = list(zip(a_correct, b_correct, strict=True))
    only_a = sum(1 for x, y in pairs if x and not y)
    only_b = sum(1 for x, y in pairs if y and not x)
    discordant = only_a + only_b
    from scipy.stats import binomtest  # SciPy on first use: slow to import

    p_value = 1.0 if discordant == 0 else float(binomtest(only_a, discordant, 0.5).pvalue)
    return McNemar(
        n=len(pairs),
        both_correct=sum(1 for x, y in pairs if x and y),
        only_a=only_a,
        only_b=only_b,
        neither=sum(1 for x, y in pairs if not x and not y),
        p_value=p_value,
    )


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values, in the input order."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted = [0.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted


class SignificanceMatrix(Frozen):
    """Pairwise comparisons of rated models from bootstrap samples, Holm-corrected over all pairs."""

    models: tuple[str, ...]
    p_above: tuple[tuple[float, ...], ...]
    p_adjusted: tuple[tuple[float, ...], ...]
    alpha: float
    rank_low: tuple[int, ...]
    rank_high: tuple[int, ...]
    samples_from: str = "bootstrap rounds"

    def better_than(self, model: str) -> list[str]:
        """The models ``model`` is rated above with a Holm-adjusted p-value below alpha."""
        i = self.models.index(model)
        return [
            m
            for j, m in enumerate(self.models)
            if j != i and self.p_above[i][j] > 0.5 and self.p_adjusted[i][j] < self.alpha
        ]

    def to_json(self) -> dict[str, Any]:
        return {
            "models": list(self.models),
            "p_above": [list(r) for r in self.p_above],
            "p_adjusted": [list(r) for r in self.p_adjusted],
            "alpha": self.alpha,
            "rank_bands": {m: [lo, hi] for m, lo, hi in zip(self.models, self.rank_low, self.rank_high, strict=True)},
            "method": f"P(row above column) over {self.samples_from}; two-sided p = 2 min(P, 1 - P); Holm over "
            "all pairs; rank band = percentile interval of the rank across them",
        }


def rank_bands(samples: FloatArray, ci: float = 0.95) -> tuple[list[int], list[int]]:
    """Each model's (best, worst) rank across bootstrap rounds at level ``ci`` (rank 1 = highest rating)."""
    ranks = (-samples).argsort(axis=1).argsort(axis=1) + 1
    tail = (1.0 - ci) / 2.0
    low = np.floor(np.quantile(ranks, tail, axis=0, method="lower"))
    high = np.ceil(np.quantile(ranks, 1.0 - tail, axis=0, method="higher"))
    return [int(v) for v in low], [int(v) for v in high]


def significance_matrix(
    models: Sequence[str],
    samples: FloatArray,
    *,
    alpha: float = 0.05,
    ci: float = 0.95,
    samples_from: str = "bootstrap rounds",
) -> SignificanceMatrix:
    """The matrix from rating ``samples`` (rounds x models): bootstrap rounds, or what ``samples_from`` names."""
    if samples.ndim != 2 or samples.shape[1] != len(models) or samples.shape[0] == 0:
        raise StatisticsError("samples must be a (rounds, models) matrix")
    k = len(models)
    above = np.full((k, k), 0.5)
    raw: list[float] = []
    cells: list[tuple[int, int]] = []
    for i in range(k):
        for j in range(k):
            if i == j:
                continue
            d = samples[:, i] - samples[:, j]
            above[i, j] = float(np.mean(d > 0)) + 0.5 * float(np.mean(d == 0))
            if i < j:
                raw.append(min(1.0, 2.0 * min(above[i, j], 1.0 - above[i, j])))
                cells.append((i, j))
    adjusted = np.ones((k, k))
    for (i, j), p in zip(cells, holm(raw), strict=True):
        adjusted[i, j] = adjusted[j, i] = p
    low, high = rank_bands(samples, ci)
    return SignificanceMatrix(
        models=tuple(models),
        p_above=tuple(tuple(float(v) for v in row) for row in above),
        p_adjusted=tuple(tuple(float(v) for v in row) for row in adjusted),
        alpha=alpha,
        rank_low=tuple(low),
        rank_high=tuple(high),
        samples_from=samples_from,
    )
