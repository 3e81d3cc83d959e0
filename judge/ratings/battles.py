"""Battles: the numeric input of every rating method, built from pairwise votes.

A battle is one comparison of model ``a`` with model ``b`` with an outcome from ``a``'s side: 1 (a won),
0 (b won) or 0.5 (tie). ``Winner.TIE`` and ``Winner.TIE_BOTHBAD`` both count as ties.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from judge.core.errors import InputError, StatisticsError
from judge.core.types import PairVote, Winner

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

_OUTCOME_OF_WINNER = {Winner.MODEL_A: 1.0, Winner.MODEL_B: 0.0, Winner.TIE: 0.5, Winner.TIE_BOTHBAD: 0.5}


@dataclass(frozen=True, eq=False)
class Battles:
    """Pairwise battles among ``models``: index arrays ``a``, ``b`` and ``outcome`` (1, 0.5 or 0 for ``a``).

    ``features`` is an optional (n_battles, k) matrix of covariates named by ``feature_names``; each
    covariate is antisymmetric (swapping the sides of a battle negates it), as style and correctness
    differences are.
    """

    models: tuple[str, ...]
    a: IntArray
    b: IntArray
    outcome: FloatArray
    features: FloatArray | None = None
    feature_names: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        n = len(self.a)
        if len(set(self.models)) != len(self.models):
            raise InputError("model names must be unique", field="models")
        if len(self.b) != n or len(self.outcome) != n:
            raise InputError("a, b and outcome must have the same length", field="battles")
        if n and (min(self.a.min(), self.b.min()) < 0 or max(self.a.max(), self.b.max()) >= len(self.models)):
            raise InputError("model index out of range", field="battles")
        if np.any(self.a == self.b):
            raise InputError("a battle needs two different models", field="battles")
        if n and not np.all(np.isin(self.outcome, (0.0, 0.5, 1.0))):
            raise InputError("outcome must be 1 (a wins), 0 (b wins) or 0.5 (tie)", field="outcome")
        if self.features is None:
            if self.feature_names:
                raise InputError("feature_names given without features", field="features")
            return
        if self.features.ndim != 2 or self.features.shape[0] != n:
            raise InputError("features must be an (n_battles, k) matrix", field="features")
        if self.features.shape[1] != len(self.feature_names):
            raise InputError("one name per feature column is needed", field="feature_names")
        if not np.all(np.isfinite(self.features)):
            raise InputError("features must be finite numbers", field="features")

    @property
    def n_battles(self) -> int:
        return len(self.a)

    def battles_per_model(self) -> IntArray:
        """How many battles each model took part in, in ``models`` order."""
        k = len(self.models)
        return np.bincount(self.a, minlength=k) + np.bincount(self.b, minlength=k)

    def with_features(self, features: FloatArray, names: Sequence[str]) -> Battles:
        """The same battles with ``features`` appended to any covariates already present."""
        columns = np.asarray(features, dtype=np.float64).reshape(self.n_battles, -1)
        if self.features is not None:
            columns = np.hstack([self.features, columns])
        return Battles(self.models, self.a, self.b, self.outcome, columns, (*self.feature_names, *names))

    def with_outcome(self, outcome: FloatArray) -> Battles:
        """The same pairs with other outcomes (and no covariates)."""
        return Battles(self.models, self.a, self.b, np.asarray(outcome, dtype=np.float64))

    def subset(self, models: Sequence[str]) -> Battles:
        """Only the battles between two of ``models``, re-indexed to that model list."""
        index = {m: i for i, m in enumerate(self.models)}
        unknown = [m for m in models if m not in index]
        if unknown:
            raise InputError(f"unknown models: {', '.join(unknown)}", field="models")
        remap = np.full(len(self.models), -1, dtype=np.int64)
        remap[[index[m] for m in models]] = np.arange(len(models))
        keep = (remap[self.a] >= 0) & (remap[self.b] >= 0)
        features = None if self.features is None else self.features[keep]
        return Battles(
            tuple(models),
            remap[self.a[keep]],
            remap[self.b[keep]],
            self.outcome[keep],
            features,
            self.feature_names,
        )


def battles_from_votes(votes: Sequence[PairVote], models: Sequence[str] | None = None) -> Battles:
    """One battle per vote; ``models`` fixes the model order (default: sorted names seen in the votes)."""
    names = tuple(models) if models is not None else tuple(sorted({m for v in votes for m in (v.model_a, v.model_b)}))
    index = {m: i for i, m in enumerate(names)}
    for row, vote in enumerate(votes):
        for name in (vote.model_a, vote.model_b):
            if name not in index:
                raise InputError(f"model {name!r} is not in the model list", location=f"vote {row + 1}")
        if vote.model_a == vote.model_b:
            raise InputError(f"vote compares {vote.model_a!r} with itself", location=f"vote {row + 1}")
    a = np.array([index[v.model_a] for v in votes], dtype=np.int64)
    b = np.array([index[v.model_b] for v in votes], dtype=np.int64)
    outcome = np.array([_OUTCOME_OF_WINNER[v.winner] for v in votes], dtype=np.float64)
    return Battles(names, a, b, outcome)


def comparison_components(battles: Battles) -> list[tuple[str, ...]]:
    """Groups of models linked by chains of battles, largest first; ratings compare only within a group."""
    from scipy.sparse import coo_matrix  # SciPy on first use: slow to import
    from scipy.sparse.csgraph import connected_components

    n = len(battles.models)
    graph = coo_matrix((np.ones(battles.n_battles), (battles.a, battles.b)), shape=(n, n))
    count, labels = connected_components(graph, directed=False)
    groups = [tuple(battles.models[i] for i in np.flatnonzero(labels == c)) for c in range(count)]
    return sorted(groups, key=lambda g: (-len(g), g))


def require_rateable(battles: Battles) -> None:
    """Raise StatisticsError unless every model has a battle and all are linked in one comparison graph."""
    if battles.n_battles == 0:
        raise StatisticsError("no battles to rate")
    idle = [m for m, n in zip(battles.models, battles.battles_per_model(), strict=True) if n == 0]
    if idle:
        raise StatisticsError(f"models without any battle cannot be rated: {', '.join(idle)}")
    groups = comparison_components(battles)
    if len(groups) > 1:
        listing = "; ".join("{" + ", ".join(g) + "}" for g in groups)
        raise StatisticsError(
            f"the comparison graph is disconnected ({len(groups)} groups: {listing}); ratings of models in "
            "different groups are not comparable: rate each group separately (Battles.subset)"
        )
