"""When to stop judging a model (adaptive judging): a pure rule over the current Bradley-Terry fit.

After each wave of verdicts the run refits Bradley-Terry (Elo scale, ties half a win) on every battle so far with
closed-form sandwich 95% intervals (:mod:`judge.ratings.sandwich`), anchored on the baseline when the run judges
every model against one (its ratings are then each model's log-odds of beating the baseline, Arena-Hard's
comparison), else on the mean. A model still being judged stops when, and only when, it has at least
``min_battles`` battles and a finite rating (it has won or tied one battle and lost or tied one: otherwise its
maximum-likelihood rating is infinite and its interval means nothing), and

- ``ci_reached``: its interval's half-width is at most ``until_ci`` rating points, or
- ``separated``: (with ``until_separated``) its interval is disjoint from the intervals of its neighbours in the
  ranking by rating (the model just above and just below, whether still judged or not; the anchor model's interval
  is its fixed rating).

The first of these that holds is the reason recorded. ``budget`` (the run's ``--max-cost`` would be exceeded) and
``exhausted`` (every prompt judged before the rule held) are given by the run, not by this rule.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from enum import StrEnum
from typing import Self

import numpy as np
from pydantic import Field, model_validator

from judge.core.errors import InputError
from judge.core.types import Frozen
from judge.ratings.battles import Battles
from judge.ratings.bradley_terry import fit_bradley_terry
from judge.ratings.fit import Anchor, BootstrapSpec

CI_LEVEL = 0.95


class StopReason(StrEnum):
    """Why a model is no longer judged."""

    CI_REACHED = "ci_reached"
    SEPARATED = "separated"
    BUDGET = "budget"
    EXHAUSTED = "exhausted"


class StoppingRule(Frozen):
    """``until_ci`` (a 95% half-width in rating points), ``until_separated``, or both; ``min_battles`` first."""

    until_ci: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    until_separated: bool = False
    min_battles: int = Field(default=50, ge=1)

    @model_validator(mode="after")
    def _some_rule(self) -> Self:
        if self.until_ci is None and not self.until_separated:
            raise InputError("adaptive judging needs --until-ci HALF_WIDTH or --until-separated", field="until_ci")
        return self

    def describe(self) -> str:
        parts = []
        if self.until_ci is not None:
            parts.append(f"its 95% CI half-width is at most {self.until_ci:g} rating points (ci_reached)")
        if self.until_separated:
            parts.append("its 95% CI is disjoint from both ranking neighbours' (separated)")
        return f"a model stops once it has at least {self.min_battles} battles, a finite rating, and " + " or ".join(
            parts
        )


class Standing(Frozen):
    """One model in the current fit: its rating and 95% interval (Elo scale), its battles, whether its rating is
    finite (it has a battle it did not win and one it did not lose; the anchor always is)."""

    model: str
    rating: float
    ci_low: float
    ci_high: float
    battles: int
    finite: bool = True

    @property
    def half_width(self) -> float:
        return (self.ci_high - self.ci_low) / 2.0

    def to_json(self) -> dict[str, float | int | bool | str]:
        return {
            "rating": round(self.rating, 2),
            "ci_low": round(self.ci_low, 2),
            "ci_high": round(self.ci_high, 2),
            "half_width": round(self.half_width, 2),
            "battles": self.battles,
        }


def fit_standings(battles: Battles, *, anchor: str | None = None) -> list[Standing]:
    """Bradley-Terry with sandwich 95% intervals on ``battles``, anchored on ``anchor`` (the mean when None); one
    standing per model of ``battles.models`` that has a battle."""
    present = [m for m, n in zip(battles.models, battles.battles_per_model(), strict=True) if n > 0]
    if anchor is not None and anchor not in present:
        raise InputError(f"anchor model {anchor!r} has no battles", field="anchor")
    rated = battles.subset(present) if len(present) < len(battles.models) else battles
    fit = fit_bradley_terry(
        rated,
        anchor=Anchor(model=anchor, rating=1000.0),
        bootstrap=BootstrapSpec(rounds=0, ci_level=CI_LEVEL),
        ci="sandwich",
    )
    interval = fit.rating_interval()
    assert interval is not None
    low, high = interval
    k = len(rated.models)
    won = (rated.outcome > 0).astype(np.float64)  # a won or tied
    lost = (rated.outcome < 1).astype(np.float64)  # b won or tied
    scored = np.bincount(rated.a, won, k) + np.bincount(rated.b, lost, k)
    conceded = np.bincount(rated.a, lost, k) + np.bincount(rated.b, won, k)
    counts = rated.battles_per_model()
    return [
        Standing(
            model=model,
            rating=float(fit.ratings[i]),
            ci_low=float(low[i]),
            ci_high=float(high[i]),
            battles=int(counts[i]),
            finite=model == anchor or bool(scored[i] > 0 and conceded[i] > 0),
        )
        for i, model in enumerate(rated.models)
    ]


def _disjoint(a: Standing, b: Standing) -> bool:
    return a.ci_low > b.ci_high or b.ci_low > a.ci_high


def separated(standings: Sequence[Standing], model: str) -> bool:
    """Whether ``model``'s interval is disjoint from those of its neighbours in the ranking by rating (a model at
    the top or bottom has one neighbour)."""
    ranked = sorted(standings, key=lambda s: (-s.rating, s.model))
    at = next(i for i, s in enumerate(ranked) if s.model == model)
    neighbours = [ranked[j] for j in (at - 1, at + 1) if 0 <= j < len(ranked)]
    return bool(neighbours) and all(_disjoint(ranked[at], n) for n in neighbours)


def stopping_decisions(
    standings: Sequence[Standing], rule: StoppingRule, *, active: Collection[str]
) -> dict[str, StopReason]:
    """Which of the ``active`` models (still judged) stop now, and why (see the module docstring). Models of
    ``active`` without a standing (no battle yet) go on."""
    decisions: dict[str, StopReason] = {}
    for standing in standings:
        if standing.model not in active or standing.battles < rule.min_battles or not standing.finite:
            continue
        if rule.until_ci is not None and standing.half_width <= rule.until_ci:
            decisions[standing.model] = StopReason.CI_REACHED
        elif rule.until_separated and separated(standings, standing.model):
            decisions[standing.model] = StopReason.SEPARATED
    return decisions
