"""Order rules: how one judge's verdicts in the two presentation orders become outcomes (a method choice).

- ``agree`` (the default): the same winner in both orders → that winner; different winners → a tie, flagged
  inconsistent; a missing or unparseable order → no outcome (:func:`judge.core.protocols.pairwise.reconcile`).
- ``sum`` (JudgeBench's rule): each order scores +1 for model_a, −1 for model_b, 0 for a tie or no usable
  verdict; a sum > 0 is a model_a win, < 0 a model_b win, 0 a tie. No outcome only if neither order has one.
- ``separate`` (Arena-Hard-Auto's): each order with a usable verdict is its own outcome (two battles per unit).
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

from judge.core.protocols.pairwise import CombinedOutcome, OutcomeStatus, combine_orders, single_order_outcome
from judge.core.types import Order, Winner


class OrderRule(StrEnum):
    """How per-order verdicts are combined."""

    AGREE = "agree"
    SUM = "sum"
    SEPARATE = "separate"


DESCRIPTIONS: dict[OrderRule, str] = {
    OrderRule.AGREE: "both orders must agree; disagreement is a tie (flagged inconsistent); a missing order drops "
    "the unit",
    OrderRule.SUM: "JudgeBench's rule: each order +1 model_a / -1 model_b / 0 tie or none; the sign of the sum "
    "decides, 0 is a tie",
    OrderRule.SEPARATE: "each order is its own battle (Arena-Hard-Auto's two games); missing orders are skipped",
}


def _points(winner: Winner | None) -> int:
    if winner is Winner.MODEL_A:
        return 1
    if winner is Winner.MODEL_B:
        return -1
    return 0


def sum_orders(winners: Mapping[Order, Winner | None]) -> CombinedOutcome:
    """JudgeBench's sum of the orders' points; incomplete (no winner) only when no order has a verdict."""
    present = [w for w in winners.values() if w is not None]
    missing = len(winners) - len(present)
    if not present:
        return CombinedOutcome(winner=None, status=OutcomeStatus.INCOMPLETE, n_verdicts=0, n_missing=missing)
    total = sum(_points(w) for w in winners.values())
    if total > 0:
        winner = Winner.MODEL_A
    elif total < 0:
        winner = Winner.MODEL_B
    else:
        winner = Winner.TIE_BOTHBAD if all(w is Winner.TIE_BOTHBAD for w in present) else Winner.TIE
    decisive = {w for w in present if not w.is_tie}
    return CombinedOutcome(
        winner=winner,
        status=OutcomeStatus.COMPLETE if missing == 0 else OutcomeStatus.INCOMPLETE,
        inconsistent=len(decisive) > 1,
        n_verdicts=len(present),
        n_missing=missing,
    )


def apply_order_rule(rule: OrderRule | str, winners: Mapping[Order, Winner | None]) -> list[CombinedOutcome]:
    """The outcomes of one unit under ``rule``: one (agree, sum) or one per usable order (separate)."""
    chosen = OrderRule(rule)
    if chosen is OrderRule.AGREE:
        return [combine_orders(winners)]
    if chosen is OrderRule.SUM:
        return [sum_orders(winners)]
    return [single_order_outcome(w) for _, w in sorted(winners.items()) if w is not None]
