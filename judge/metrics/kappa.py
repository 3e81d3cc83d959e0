"""Confusion matrices and Cohen's kappa with a confidence interval.

Two interval methods:

- ``asymptotic``: the large-sample standard error of Fleiss, Cohen & Everitt (1969), kappa ± z·SE, clipped to
  [-1, 1]. It treats comparisons as independent.
- ``bootstrap``: percentile interval from resampling *units* with replacement (seeded), which respects the
  clustering of several comparisons on one unit. Resamples where kappa is undefined are dropped and counted.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from judge.core.errors import StatisticsError
from judge.core.types import Frozen
from judge.metrics.intervals import NO_DATA, z_for
from judge.metrics.units import OUTCOMES, Comparison, UnitKey

KappaCiMethod = Literal["asymptotic", "bootstrap"]
Matrix = npt.NDArray[np.float64]
UNDEFINED = "kappa undefined: chance agreement is 1 (both sides always give the same single outcome)"


def confusion_json(labels: Sequence[str], counts: Sequence[Sequence[int]]) -> dict[str, Any]:
    """A confusion table as JSON: ``{labels, rows, cols, counts, n}``; ``counts[i][j]``: a said labels[i], b said
    labels[j]."""
    return {
        "labels": list(labels),
        "rows": "source_a",
        "cols": "source_b",
        "counts": [list(row) for row in counts],
        "n": sum(sum(row) for row in counts),
    }


class ConfusionMatrix(Frozen):
    """3×3 counts over (model_a, model_b, tie) in canonical orientation; rows = source a, cols = source b."""

    labels: tuple[str, str, str] = (OUTCOMES[0].value, OUTCOMES[1].value, OUTCOMES[2].value)
    counts: tuple[tuple[int, int, int], tuple[int, int, int], tuple[int, int, int]]

    @property
    def n(self) -> int:
        return sum(sum(row) for row in self.counts)

    def to_json(self) -> dict[str, Any]:
        return confusion_json(self.labels, self.counts)


class Kappa(Frozen):
    """Cohen's kappa over ``n`` comparisons with its CI; value None (and a note) when undefined."""

    value: float | None
    n: int
    ci_low: float | None
    ci_high: float | None
    confidence: float = 0.95
    ci_method: KappaCiMethod = "asymptotic"
    note: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "value": self.value,
            "n": self.n,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
            "ci_method": self.ci_method,
        }
        if self.note:
            out["note"] = self.note
        return out


def confusion_counts(comparisons: Sequence[Comparison]) -> Matrix:
    """Raw 3×3 count array (rows = outcome of source a)."""
    index = {outcome: i for i, outcome in enumerate(OUTCOMES)}
    counts = np.zeros((3, 3), dtype=np.float64)
    for comparison in comparisons:
        counts[index[comparison.outcome_a], index[comparison.outcome_b]] += 1
    return counts


def confusion_matrix(comparisons: Sequence[Comparison]) -> ConfusionMatrix:
    """The labelled confusion matrix of a list of comparisons."""
    c = confusion_counts(comparisons).astype(int).tolist()
    return ConfusionMatrix(counts=(tuple(c[0]), tuple(c[1]), tuple(c[2])))


def kappa_value(counts: Matrix) -> float | None:
    """Cohen's kappa of a square count matrix; None when n = 0 or chance agreement is 1."""
    n = float(counts.sum())
    if n == 0:
        return None
    p = counts / n
    observed = float(np.trace(p))
    chance = float(p.sum(axis=1) @ p.sum(axis=0))
    if math.isclose(chance, 1.0):
        return None
    return (observed - chance) / (1.0 - chance)


def kappa_standard_error(counts: Matrix) -> float:
    """Fleiss-Cohen-Everitt (1969) large-sample standard error of kappa; needs a defined kappa."""
    kappa = kappa_value(counts)
    if kappa is None:
        raise StatisticsError("kappa is undefined for this matrix")
    n = float(counts.sum())
    p = counts / n
    rows, cols = p.sum(axis=1), p.sum(axis=0)
    chance = float(rows @ cols)
    diagonal = float(np.sum(np.diag(p) * (1.0 - (rows + cols) * (1.0 - kappa)) ** 2))
    weights = (cols[:, None] + rows[None, :]) ** 2
    off = p * weights
    off_diagonal = (1.0 - kappa) ** 2 * float(off.sum() - np.trace(off))
    correction = (kappa - chance * (1.0 - kappa)) ** 2
    variance = (diagonal + off_diagonal - correction) / (n * (1.0 - chance) ** 2)
    return math.sqrt(max(variance, 0.0))


def _bootstrap_interval(
    comparisons: Sequence[Comparison], confidence: float, n_resamples: int, seed: int
) -> tuple[float | None, float | None, str | None]:
    units: dict[UnitKey, list[Comparison]] = {}
    for comparison in comparisons:
        units.setdefault(comparison.unit, []).append(comparison)
    per_unit = np.stack([confusion_counts(group) for group in units.values()])
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(per_unit), size=(n_resamples, len(per_unit)))
    values = [kappa_value(per_unit[row].sum(axis=0)) for row in draws]
    defined = np.array([v for v in values if v is not None], dtype=np.float64)
    dropped = n_resamples - len(defined)
    note = f"{dropped} of {n_resamples} bootstrap resamples had undefined kappa" if dropped else None
    if len(defined) == 0:
        return None, None, note
    alpha = (1.0 - confidence) / 2.0
    low, high = np.quantile(defined, [alpha, 1.0 - alpha])
    return float(low), float(high), note


def cohen_kappa(
    comparisons: Sequence[Comparison],
    *,
    confidence: float = 0.95,
    ci_method: KappaCiMethod = "asymptotic",
    n_resamples: int = 2000,
    seed: int = 0,
) -> Kappa:
    """Cohen's kappa over three outcomes with an asymptotic or unit-bootstrap CI (see module docstring)."""
    counts = confusion_counts(comparisons)
    n = int(counts.sum())
    value = kappa_value(counts)
    low: float | None = None
    high: float | None = None
    if n == 0:
        note: str | None = NO_DATA
    elif value is None:
        note = UNDEFINED
    elif ci_method == "asymptotic":
        half = z_for(confidence) * kappa_standard_error(counts)
        low, high, note = max(-1.0, value - half), min(1.0, value + half), None
    else:
        low, high, note = _bootstrap_interval(comparisons, confidence, n_resamples, seed)
    return Kappa(value=value, n=n, ci_low=low, ci_high=high, confidence=confidence, ci_method=ci_method, note=note)
