"""Judging protocols: order planning, position-swap reconciliation, panels, single-answer helpers."""

from __future__ import annotations

import pytest

from judge.core.errors import InputError
from judge.core.protocols import (
    OrderMode,
    OutcomeStatus,
    combine_orders,
    compare_scores,
    pair_unit_key,
    panel_correctness,
    panel_majority,
    panel_score,
    plan_orders,
    reconcile,
    single_order_outcome,
)
from judge.core.types import Correctness, Order, Winner

A, B, TIE, BOTHBAD = Winner.MODEL_A, Winner.MODEL_B, Winner.TIE, Winner.TIE_BOTHBAD


def test_both_orders_by_default() -> None:
    assert plan_orders(OrderMode.BOTH, None, "unit") == [Order.AB, Order.BA]
    assert plan_orders("both", 7, "unit") == [Order.AB, Order.BA]


def test_random_order_needs_a_seed() -> None:
    with pytest.raises(InputError, match="--seed"):
        plan_orders(OrderMode.RANDOM, None, "unit")
    with pytest.raises(ValueError):
        plan_orders("sometimes", 1, "unit")


def test_random_order_is_deterministic_per_seed_and_unit() -> None:
    keys = [pair_unit_key(str(q), "gpt-4", "claude-v1", turn) for q in range(81, 161) for turn in (1, 2)]
    first = [plan_orders("random", 42, key) for key in keys]
    assert first == [plan_orders("random", 42, key) for key in keys]
    assert all(len(orders) == 1 for orders in first)
    assert first != [plan_orders("random", 43, key) for key in keys]


def test_random_order_is_about_half_and_half() -> None:
    keys = [pair_unit_key(f"q{i}", "model-x", "model-y", 1) for i in range(4000)]
    share_ab = sum(plan_orders("random", 2024, key) == [Order.AB] for key in keys) / len(keys)
    assert 0.46 < share_ab < 0.54
    over_seeds = sum(plan_orders("random", seed, keys[0]) == [Order.AB] for seed in range(4000)) / 4000
    assert 0.46 < over_seeds < 0.54


def test_unit_key_separates_fields() -> None:
    assert pair_unit_key("1", "a", "b", 1) != pair_unit_key("1", "b", "a", 1)
    assert pair_unit_key("1", "a", "b", 1) != pair_unit_key("1", "a", "b", 2)
    assert pair_unit_key("1|a", "b", "c", 1) != pair_unit_key("1", "a|b", "c", 1)


@pytest.mark.parametrize(
    ("ab", "ba", "winner", "inconsistent", "status"),
    [
        (A, A, A, False, OutcomeStatus.COMPLETE),
        (B, B, B, False, OutcomeStatus.COMPLETE),
        (TIE, TIE, TIE, False, OutcomeStatus.COMPLETE),
        (TIE, BOTHBAD, TIE, False, OutcomeStatus.COMPLETE),
        (BOTHBAD, BOTHBAD, BOTHBAD, False, OutcomeStatus.COMPLETE),
        (A, B, TIE, True, OutcomeStatus.COMPLETE),
        (B, A, TIE, True, OutcomeStatus.COMPLETE),
        (A, TIE, TIE, True, OutcomeStatus.COMPLETE),
        (TIE, B, TIE, True, OutcomeStatus.COMPLETE),
        (A, None, None, False, OutcomeStatus.INCOMPLETE),
        (None, B, None, False, OutcomeStatus.INCOMPLETE),
        (None, None, None, False, OutcomeStatus.INCOMPLETE),
    ],
)
def test_reconcile_table(
    ab: Winner | None, ba: Winner | None, winner: Winner | None, inconsistent: bool, status: OutcomeStatus
) -> None:
    outcome = reconcile(ab, ba)
    assert (outcome.winner, outcome.inconsistent, outcome.status) == (winner, inconsistent, status)
    assert outcome.n_verdicts + outcome.n_missing == 2
    assert outcome.n_verdicts == sum(w is not None for w in (ab, ba))


def test_combine_orders_dispatches_on_the_planned_orders() -> None:
    assert combine_orders({Order.AB: A, Order.BA: B}) == reconcile(A, B)
    assert combine_orders({Order.BA: B}) == single_order_outcome(B)
    assert combine_orders({Order.AB: None}).status is OutcomeStatus.INCOMPLETE
    assert combine_orders({Order.AB: None}).winner is None
    with pytest.raises(InputError):
        combine_orders({Order.SINGLE: A})
    with pytest.raises(InputError):
        combine_orders({})


@pytest.mark.parametrize(
    ("winners", "winner", "inconsistent", "status"),
    [
        ([A], A, False, OutcomeStatus.COMPLETE),
        ([A, A, B], A, True, OutcomeStatus.COMPLETE),
        ([B, B, B], B, False, OutcomeStatus.COMPLETE),
        ([A, B], TIE, True, OutcomeStatus.COMPLETE),
        ([A, B, TIE], TIE, True, OutcomeStatus.COMPLETE),
        ([TIE, BOTHBAD, A], TIE, True, OutcomeStatus.COMPLETE),
        ([BOTHBAD, BOTHBAD, A], BOTHBAD, True, OutcomeStatus.COMPLETE),
        ([A, A, B, B], TIE, True, OutcomeStatus.COMPLETE),
        ([A, A, None], A, False, OutcomeStatus.INCOMPLETE),
        ([A, None, None], TIE, False, OutcomeStatus.INCOMPLETE),
        ([A, B, None], TIE, True, OutcomeStatus.INCOMPLETE),
        ([None, None, None], None, False, OutcomeStatus.INCOMPLETE),
    ],
)
def test_panel_majority(
    winners: list[Winner | None], winner: Winner | None, inconsistent: bool, status: OutcomeStatus
) -> None:
    outcome = panel_majority(winners)
    assert (outcome.winner, outcome.inconsistent, outcome.status) == (winner, inconsistent, status)
    assert outcome.n_missing == winners.count(None)
    assert outcome.n_verdicts == len(winners) - winners.count(None)


def test_empty_panel_is_refused() -> None:
    with pytest.raises(InputError):
        panel_majority([])
    with pytest.raises(InputError):
        panel_score([])
    with pytest.raises(InputError):
        panel_correctness([])


def test_compare_scores() -> None:
    assert compare_scores(8.0, 6.0) is A
    assert compare_scores(3.0, 9.0) is B
    assert compare_scores(5.0, 5.0) is TIE
    assert compare_scores(5.0, None) is None


def test_panel_score_counts_missing_judges_without_imputing() -> None:
    outcome = panel_score([6.0, 9.0, None])
    assert outcome.mean == 7.5 and (outcome.n_verdicts, outcome.n_missing) == (2, 1)
    assert outcome.status is OutcomeStatus.INCOMPLETE
    assert panel_score([None]).mean is None
    assert panel_score([4.0]).status is OutcomeStatus.COMPLETE


def test_panel_correctness_needs_a_strict_majority() -> None:
    c, p, i = Correctness.CORRECT, Correctness.PARTIALLY_CORRECT, Correctness.INCORRECT
    assert panel_correctness([c, c, i]).correctness is c
    assert panel_correctness([c, c, i]).inconsistent
    undecided = panel_correctness([c, p, i])
    assert undecided.correctness is None and undecided.inconsistent
    assert panel_correctness([c, None, None]).correctness is None
    assert panel_correctness([i, i, None]).correctness is i
    assert panel_correctness([None]).status is OutcomeStatus.INCOMPLETE
