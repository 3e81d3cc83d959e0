"""Order rules agree / sum / separate, and JudgeBench's accuracy from its own published judgments."""

from __future__ import annotations

import json

import pytest

from judge.core.protocols.order_rules import OrderRule, apply_order_rule, sum_orders
from judge.core.types import Order, Winner
from judge.metrics.gold import gold_accuracy, gold_record
from tests.paths import REPO

A, B, TIE = Winner.MODEL_A, Winner.MODEL_B, Winner.TIE
EXCERPT = REPO / "tests" / "fixtures" / "formats" / "judgebench" / "judgebench_internlm2-7b-reward_excerpt.jsonl"


@pytest.mark.parametrize(
    ("ab", "ba", "agree", "summed", "separate"),
    [
        (A, A, A, A, [A, A]),
        (A, B, TIE, TIE, [A, B]),  # inconsistent: agree and sum both make it a tie
        (A, TIE, TIE, A, [A, TIE]),  # one decisive order: sum follows it, agree calls it a tie
        (B, None, None, B, [B]),  # a missing order: agree drops the unit, sum keeps the other
        (None, None, None, None, []),
    ],
)
def test_rules_on_hand_worked_units(
    ab: Winner | None, ba: Winner | None, agree: Winner | None, summed: Winner | None, separate: list[Winner]
) -> None:
    winners = {Order.AB: ab, Order.BA: ba}
    assert [o.winner for o in apply_order_rule(OrderRule.AGREE, winners)] == [agree]
    assert [o.winner for o in apply_order_rule(OrderRule.SUM, winners)] == [summed]
    assert [o.winner for o in apply_order_rule("separate", winners)] == separate


def test_sum_flags_opposite_decisive_orders_as_inconsistent() -> None:
    assert sum_orders({Order.AB: A, Order.BA: B}).inconsistent
    assert not sum_orders({Order.AB: A, Order.BA: TIE}).inconsistent


def _pair_orientation(decision: str, swapped: bool) -> Winner:
    """JudgeBench's decision in the pair's own orientation (its second game shows B first)."""
    first = decision == "A>B"
    return (B if first else A) if swapped else (A if first else B)


def test_sum_rule_gives_judgebench_accuracy_on_its_published_judgments() -> None:
    # internlm2-7b-reward on the two excerpt pairs (label A>B both): pair 1 games A>B, B>A (B-first) -> +1 +1,
    # correct; pair 2 games B>A, A>B (B-first) -> -1 -1, wrong. JudgeBench's compute_final_metrics: 50.0.
    records = []
    for line in EXCERPT.read_text().splitlines():
        pair = json.loads(line)
        first, second = (j["decision"] for j in pair["judgments"])
        winners = {Order.AB: _pair_orientation(first, False), Order.BA: _pair_orientation(second, True)}
        [outcome] = apply_order_rule(OrderRule.SUM, winners)
        records.append(gold_record(pair["pair_id"], 1 if pair["label"] == "A>B" else 2, outcome))
    accuracy = gold_accuracy(records).accuracy
    assert (accuracy.count, accuracy.n) == (1, 2)
