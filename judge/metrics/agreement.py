"""Agreement between two vote sources: with and without ties, Cohen's kappa, confusion, breakdowns.

Pairing of votes into comparisons is described in :mod:`judge.metrics.units`. Agreement with ties counts a
comparison as agreeing when both sides give the same of three outcomes (model_a, model_b, tie); agreement
without ties drops every comparison where either side says tie. Rates carry Wilson 95% intervals (treating
comparisons as independent); kappa's interval method is named in its ``ci_method``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any, Literal

from pydantic import Field

from judge.errors import InputError
from judge.metrics.intervals import Proportion, proportion
from judge.metrics.kappa import ConfusionMatrix, Kappa, KappaCiMethod, cohen_kappa, confusion_matrix
from judge.metrics.units import Comparison, group_label, pair_across, pair_within
from judge.types import Frozen, PairVote

Breakdown = Literal["category", "turn", "pair"]
PairingMode = Literal["same_source", "cross_source"]


def _agreement_json(block: Proportion) -> dict[str, Any]:
    out: dict[str, Any] = {
        "agree": block.count,
        "total": block.n,
        "rate": block.rate,
        "ci_low": block.ci_low,
        "ci_high": block.ci_high,
    }
    if block.note:
        out["note"] = block.note
    return out


class AgreementMetrics(Frozen):
    """The metric block of one set of comparisons (overall or one breakdown group)."""

    with_ties: Proportion
    without_ties: Proportion
    kappa: Kappa
    confusion: ConfusionMatrix
    n_units: int

    def to_json(self) -> dict[str, Any]:
        """``{with_ties, without_ties, kappa, confusion, n_units}``; agreement blocks are
        ``{agree, total, rate, ci_low, ci_high}``."""
        return {
            "with_ties": _agreement_json(self.with_ties),
            "without_ties": _agreement_json(self.without_ties),
            "kappa": self.kappa.to_json(),
            "confusion": self.confusion.to_json(),
            "n_units": self.n_units,
        }

    def to_rows(self, group_by: str, group: str) -> list[dict[str, Any]]:
        """Flat rows (one per metric) for CSV output."""
        base = {"group_by": group_by, "group": group, "n_units": self.n_units}
        rows = [
            {
                **base,
                "metric": name,
                "count": block.count,
                "total": block.n,
                "value": block.rate,
                "ci_low": block.ci_low,
                "ci_high": block.ci_high,
            }
            for name, block in (("with_ties", self.with_ties), ("without_ties", self.without_ties))
        ]
        rows.append(
            {
                **base,
                "metric": "kappa",
                "count": None,
                "total": self.kappa.n,
                "value": self.kappa.value,
                "ci_low": self.kappa.ci_low,
                "ci_high": self.kappa.ci_high,
            }
        )
        for i, row_label in enumerate(self.confusion.labels):
            for j, col_label in enumerate(self.confusion.labels):
                rows.append(
                    {
                        **base,
                        "metric": f"confusion:{row_label}|{col_label}",
                        "count": self.confusion.counts[i][j],
                        "total": self.confusion.n,
                        "value": None,
                        "ci_low": None,
                        "ci_high": None,
                    }
                )
        return rows


CSV_COLUMNS = ("group_by", "group", "metric", "count", "total", "value", "ci_low", "ci_high", "n_units")


class AgreementReport(Frozen):
    """Overall agreement plus an optional breakdown (one metric block per group, sorted by label)."""

    mode: PairingMode
    overall: AgreementMetrics
    by: Breakdown | None = None
    groups: dict[str, AgreementMetrics] = Field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The overall block's keys at top level, plus ``mode``, and ``by``/``groups`` for a breakdown."""
        out = {**self.overall.to_json(), "mode": self.mode}
        if self.by is not None:
            out["by"] = self.by
            out["groups"] = {label: block.to_json() for label, block in self.groups.items()}
        return out

    def to_rows(self) -> list[dict[str, Any]]:
        """CSV rows with columns :data:`CSV_COLUMNS`: the overall block (group ``all``), then each group."""
        rows = self.overall.to_rows("all", "all")
        for label, block in self.groups.items():
            rows.extend(block.to_rows(self.by or "", label))
        return rows


def agreement_metrics(
    comparisons: Sequence[Comparison],
    *,
    confidence: float = 0.95,
    kappa_ci: KappaCiMethod = "asymptotic",
    n_resamples: int = 2000,
    seed: int = 0,
) -> AgreementMetrics:
    """Agreement with and without ties, kappa and confusion of a list of comparisons."""
    decisive = [c for c in comparisons if not c.involves_tie]
    return AgreementMetrics(
        with_ties=proportion(sum(c.agrees for c in comparisons), len(comparisons), confidence),
        without_ties=proportion(sum(c.agrees for c in decisive), len(decisive), confidence),
        kappa=cohen_kappa(comparisons, confidence=confidence, ci_method=kappa_ci, n_resamples=n_resamples, seed=seed),
        confusion=confusion_matrix(comparisons),
        n_units=len({c.unit for c in comparisons}),
    )


def compare_sources(
    a: Sequence[PairVote],
    b: Sequence[PairVote] | None = None,
    *,
    same_source: bool = False,
    by: Breakdown | None = None,
    confidence: float = 0.95,
    kappa_ci: KappaCiMethod = "asymptotic",
    n_resamples: int = 2000,
    seed: int = 0,
) -> AgreementReport:
    """Agreement of vote source ``a`` with ``b``.

    ``same_source=True``: ``a`` is the one source (``b`` must be None or the same votes) and every pair of
    votes by two different voters on a unit is compared. Otherwise every (a vote, b vote) combination on a
    shared unit is compared. ``by`` adds a breakdown by category, turn or model pair.
    """
    if same_source:
        if b is not None and set(a) != set(b):
            raise InputError("a same-source comparison takes one vote set; b differs from a", field="b")
        comparisons = pair_within(a)
    else:
        if b is None:
            raise InputError("a cross-source comparison needs two vote sets", field="b")
        comparisons = pair_across(a, b)

    def metrics(subset: Sequence[Comparison]) -> AgreementMetrics:
        return agreement_metrics(subset, confidence=confidence, kappa_ci=kappa_ci, n_resamples=n_resamples, seed=seed)

    groups: dict[str, AgreementMetrics] = {}
    if by is not None:
        grouped: dict[str, list[Comparison]] = defaultdict(list)
        for comparison in comparisons:
            grouped[group_label(comparison, by)].append(comparison)
        groups = {label: metrics(grouped[label]) for label in sorted(grouped)}
    return AgreementReport(
        mode="same_source" if same_source else "cross_source",
        overall=metrics(comparisons),
        by=by,
        groups=groups,
    )
