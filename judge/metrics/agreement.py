"""Agreement between two vote sources: with and without ties, Cohen's kappa, confusion, breakdowns.

Pairing of votes into comparisons is described in :mod:`judge.metrics.units`. Agreement with ties counts a
comparison as agreeing when both sides give the same of three outcomes (model_a, model_b, tie); agreement
without ties drops every comparison where either side says tie. Rates carry Wilson 95% intervals (treating
comparisons as independent); kappa's interval method is named in its ``ci_method``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from enum import StrEnum
from typing import Any, Literal

from pydantic import Field

from judge.core.errors import InputError
from judge.core.types import Frozen, PairVote
from judge.metrics.intervals import Proportion, proportion
from judge.metrics.kappa import ConfusionMatrix, Kappa, KappaCiMethod, cohen_kappa, confusion_matrix
from judge.metrics.units import Comparison, VoterConflicts, group_label, pair_across, pair_within, voter_conflicts


class Breakdown(StrEnum):
    """How agreement may be broken down: one block per prompt category, per turn, or per model pair."""

    CATEGORY = "category"
    TURN = "turn"
    PAIR = "pair"


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
CONFLICT_TREATMENT = {
    "same_source": "kept: every vote counts; a voter's votes on one unit are never compared with each other, "
    "each is compared with every other voter's votes on the unit",
    "cross_source": "kept: every vote counts; each is compared with every vote of the other source on the unit",
}


class ConflictSummary(Frozen):
    """Conflicting voter-units (one voter, one unit, differing votes) of each source, and how they were treated."""

    a: VoterConflicts
    b: VoterConflicts
    treatment: str

    def to_json(self) -> dict[str, Any]:
        """``{a: {...}, b: {...}, treatment}`` (see :class:`VoterConflicts`)."""
        return {"a": self.a.to_json(), "b": self.b.to_json(), "treatment": self.treatment}

    def to_rows(self) -> list[dict[str, Any]]:
        """One CSV row per source: metric ``conflicting_voter_units``, count of ``total`` voter-units."""
        return [
            {
                "group_by": "conflicts",
                "group": side,
                "metric": "conflicting_voter_units",
                "count": block.conflicting,
                "total": block.voter_units,
                "value": None,
                "ci_low": None,
                "ci_high": None,
                "n_units": None,
            }
            for side, block in (("a", self.a), ("b", self.b))
        ]


class AgreementReport(Frozen):
    """Overall agreement plus an optional breakdown (one metric block per group, sorted by label)."""

    mode: PairingMode
    overall: AgreementMetrics
    conflicts: ConflictSummary
    by: Breakdown | None = None
    groups: dict[str, AgreementMetrics] = Field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The overall block's keys at top level, plus ``mode`` and ``conflicts``, and ``by``/``groups`` for a
        breakdown."""
        out = {**self.overall.to_json(), "mode": self.mode, "conflicts": self.conflicts.to_json()}
        if self.by is not None:
            out["by"] = self.by.value
            out["groups"] = {label: block.to_json() for label, block in self.groups.items()}
        return out

    def to_rows(self) -> list[dict[str, Any]]:
        """CSV rows with columns :data:`CSV_COLUMNS`: the overall block (group ``all``), each group, then the
        conflicting voter-units of each source."""
        rows = self.overall.to_rows("all", "all")
        for label, block in self.groups.items():
            rows.extend(block.to_rows(self.by or "", label))
        return rows + self.conflicts.to_rows()


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
    shared unit is compared. ``by`` adds a breakdown by category, turn or model pair. Conflicting voter-units
    (one voter's differing votes on a unit) are kept, counted per source and reported with their treatment.
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
    mode: PairingMode = "same_source" if same_source else "cross_source"
    conflicts_a = voter_conflicts(a)
    conflicts = ConflictSummary(
        a=conflicts_a,
        b=conflicts_a if same_source or b is None else voter_conflicts(b),
        treatment=CONFLICT_TREATMENT[mode],
    )
    return AgreementReport(
        mode=mode,
        overall=metrics(comparisons),
        conflicts=conflicts,
        by=by,
        groups=groups,
    )
