"""Judging protocols: presentation orders, position-swap reconciliation and panels (pure functions)."""

from judge.core.protocols.pairwise import (
    CombinedOutcome,
    OrderMode,
    OutcomeStatus,
    combine_orders,
    pair_unit_key,
    panel_majority,
    plan_orders,
    reconcile,
    single_order_outcome,
)
from judge.core.protocols.single import (
    CorrectnessOutcome,
    ScoreOutcome,
    compare_scores,
    panel_correctness,
    panel_score,
)

__all__ = [
    "CombinedOutcome",
    "CorrectnessOutcome",
    "OrderMode",
    "OutcomeStatus",
    "ScoreOutcome",
    "combine_orders",
    "compare_scores",
    "pair_unit_key",
    "panel_correctness",
    "panel_majority",
    "panel_score",
    "plan_orders",
    "reconcile",
    "single_order_outcome",
]
