"""Judge diagnostics over per-order verdicts: position consistency, first-position preference, ties, failures.

Input is one :class:`OrderedVerdict` per (unit, presentation order). ``winner`` is always in the pair's own
orientation (model_a / model_b of the pair, not "first shown"); ``order`` ``ab`` showed model_a first.

- position consistency: among units judged in both orders, the share where both verdicts are ``ok`` and give
  the same outcome (ties folded together). A unit with a failed order counts as not consistent.
- first-position preference: among ``ok`` decisive verdicts, the share choosing the response shown first
  (0.5 means no position bias).
- tie rate: among ``ok`` verdicts, the share that are ties (either tie kind).
- unparseable rate / error rate: among all verdicts, the share with that status.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from judge.core.errors import InputError
from judge.core.types import Frozen, Order, VerdictStatus, Winner
from judge.metrics.intervals import Proportion, proportion


class OrderedVerdict(Frozen):
    """One judge call on one unit in one presentation order; winner None unless status is ``ok``."""

    unit: str
    order: Order
    status: VerdictStatus
    winner: Winner | None = None


class JudgeDiagnostics(Frozen):
    """Position and failure diagnostics of one judge; every figure a Wilson-CI proportion."""

    position_consistency: Proportion
    first_position_preference: Proportion
    tie_rate: Proportion
    unparseable_rate: Proportion
    error_rate: Proportion
    n_verdicts: int
    n_units: int
    n_units_one_order: int

    def to_json(self) -> dict[str, Any]:
        return {
            "position_consistency": self.position_consistency.to_json(),
            "first_position_preference": self.first_position_preference.to_json(),
            "tie_rate": self.tie_rate.to_json(),
            "unparseable_rate": self.unparseable_rate.to_json(),
            "error_rate": self.error_rate.to_json(),
            "n_verdicts": self.n_verdicts,
            "n_units": self.n_units,
            "n_units_one_order": self.n_units_one_order,
        }


def _validate(verdict: OrderedVerdict) -> None:
    if verdict.order is Order.SINGLE:
        raise InputError(f"unit {verdict.unit}: a pairwise verdict needs order ab or ba", field="order")
    if (verdict.status is VerdictStatus.OK) != (verdict.winner is not None):
        raise InputError(
            f"unit {verdict.unit} ({verdict.order}): winner must be set exactly when status is ok",
            field="winner",
        )


def _folded(winner: Winner | None) -> Winner | None:
    return Winner.TIE if winner is not None and winner.is_tie else winner


def shown_first(verdict: OrderedVerdict) -> bool:
    """Whether an ok decisive verdict chose the response shown first."""
    if verdict.winner is None or verdict.winner.is_tie:
        raise InputError(f"unit {verdict.unit}: only decisive verdicts have a position", field="winner")
    first = Winner.MODEL_A if verdict.order is Order.AB else Winner.MODEL_B
    return verdict.winner is first


def judge_diagnostics(verdicts: Sequence[OrderedVerdict], *, confidence: float = 0.95) -> JudgeDiagnostics:
    """Diagnostics of a judge's per-order verdicts (see module docstring); one verdict per (unit, order)."""
    by_unit: dict[str, dict[Order, OrderedVerdict]] = defaultdict(dict)
    for verdict in verdicts:
        _validate(verdict)
        if verdict.order in by_unit[verdict.unit]:
            raise InputError(f"unit {verdict.unit} has two verdicts in order {verdict.order}", field="order")
        by_unit[verdict.unit][verdict.order] = verdict

    both = [orders for orders in by_unit.values() if len(orders) == 2]
    consistent = sum(
        orders[Order.AB].status is VerdictStatus.OK
        and orders[Order.BA].status is VerdictStatus.OK
        and _folded(orders[Order.AB].winner) is _folded(orders[Order.BA].winner)
        for orders in both
    )
    ok = [v for v in verdicts if v.status is VerdictStatus.OK]
    decisive = [v for v in ok if v.winner is not None and not v.winner.is_tie]
    ties = sum(v.winner is not None and v.winner.is_tie for v in ok)
    return JudgeDiagnostics(
        position_consistency=proportion(consistent, len(both), confidence),
        first_position_preference=proportion(sum(shown_first(v) for v in decisive), len(decisive), confidence),
        tie_rate=proportion(ties, len(ok), confidence),
        unparseable_rate=proportion(
            sum(v.status is VerdictStatus.UNPARSEABLE for v in verdicts), len(verdicts), confidence
        ),
        error_rate=proportion(sum(v.status is VerdictStatus.ERROR for v in verdicts), len(verdicts), confidence),
        n_verdicts=len(verdicts),
        n_units=len(by_unit),
        n_units_one_order=len(by_unit) - len(both),
    )
