"""Shared rating settings (scale, anchor, bootstrap) and the numeric result of a rating fit."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from judge.core.errors import InputError

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
ParamValue = float | int | str | bool | None


@dataclass(frozen=True)
class RatingScale:
    """Elo scale: a rating gap of ``scale`` points means odds of ``base`` to 1."""

    scale: float = 400.0
    base: float = 10.0

    def __post_init__(self) -> None:
        if not (self.scale > 0 and self.base > 1):
            raise InputError("the rating scale must be > 0 and the base > 1", field="scale")

    @property
    def points_per_logit(self) -> float:
        """Rating points per unit of log-odds (400 / ln 10 ≈ 173.7 by default)."""
        return self.scale / math.log(self.base)

    def win_probability(self, rating_gap: FloatArray | float) -> FloatArray:
        """Probability that the higher side wins when it leads by ``rating_gap`` points (ties = half)."""
        return np.asarray(1.0 / (1.0 + np.power(self.base, -np.asarray(rating_gap) / self.scale)))


@dataclass(frozen=True)
class Anchor:
    """Where ratings sit: ``model`` at ``rating`` or, when ``model`` is None, the mean rating at ``rating``."""

    model: str | None = None
    rating: float = 1000.0

    def describe(self) -> str:
        return f"{self.model}={self.rating:g}" if self.model else f"mean={self.rating:g}"

    def offsets(self, logits: FloatArray, models: tuple[str, ...], scale: RatingScale) -> FloatArray:
        """Ratings on the Elo scale from log-strengths (rows of ``logits`` are separate fits)."""
        points = np.asarray(logits, dtype=np.float64) * scale.points_per_logit
        if self.model is None:
            shift = self.rating - points.mean(axis=-1, keepdims=True)
        else:
            if self.model not in models:
                raise InputError(f"anchor model {self.model!r} has no battles", field="anchor")
            shift = self.rating - points[..., [models.index(self.model)]]
        return np.asarray(points + shift)


def parse_anchor(text: str | None) -> Anchor:
    """``MODEL=RATING`` (e.g. ``gpt-4=1200``) or None for the default mean of 1000."""
    if text is None:
        return Anchor()
    model, sep, value = text.rpartition("=")
    try:
        rating = float(value)
    except ValueError:
        rating = math.nan
    if not sep or not model or not math.isfinite(rating):
        raise InputError(f"expected MODEL=RATING, got {text!r}", field="anchor")
    return Anchor(model, rating)


@dataclass(frozen=True)
class BootstrapSpec:
    """Bootstrap settings: ``rounds`` resamples (0 = no intervals), ``seed``, two-sided ``ci_level``."""

    rounds: int = 1000
    seed: int = 0
    ci_level: float = 0.95

    def __post_init__(self) -> None:
        if self.rounds < 0:
            raise InputError("bootstrap rounds must be >= 0", field="bootstrap")
        if not 0.0 < self.ci_level < 1.0:
            raise InputError("the confidence level must be between 0 and 1", field="ci")

    def interval(self, samples: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Percentile interval of each column of ``samples`` at ``ci_level``."""
        tail = (1.0 - self.ci_level) / 2.0
        low, high = np.quantile(samples, [tail, 1.0 - tail], axis=0)
        return np.asarray(low), np.asarray(high)


@dataclass(frozen=True, eq=False)
class RatingFit:
    """Numeric result of one rating method, on the Elo scale.

    ``samples`` holds one row of ratings per bootstrap round (None without bootstrap);
    ``coefficients`` are covariate effects in rating points per unit of covariate, with their samples.
    """

    method: str
    models: tuple[str, ...]
    ratings: FloatArray
    samples: FloatArray | None
    n_battles: IntArray
    total_battles: int
    scale: RatingScale
    anchor: Anchor
    bootstrap: BootstrapSpec
    params: dict[str, ParamValue] = field(default_factory=dict)
    coefficient_names: tuple[str, ...] = ()
    coefficients: FloatArray = field(default_factory=lambda: np.zeros(0))
    coefficient_samples: FloatArray | None = None
    notes: tuple[str, ...] = ()
    ci_method: str = "bootstrap"
    closed_form_interval: tuple[FloatArray, FloatArray] | None = None

    def rating_interval(self) -> tuple[FloatArray, FloatArray] | None:
        """Per-model (low, high) interval: the closed-form one when ``ci_method`` is ``sandwich``, else the
        bootstrap percentile interval, or None without bootstrap."""
        if self.closed_form_interval is not None:
            return self.closed_form_interval
        return None if self.samples is None else self.bootstrap.interval(self.samples)

    def coefficient_interval(self) -> tuple[FloatArray, FloatArray] | None:
        """Per-coefficient (low, high) bootstrap interval, or None without bootstrap."""
        if self.coefficient_samples is None:
            return None
        return self.bootstrap.interval(self.coefficient_samples)
