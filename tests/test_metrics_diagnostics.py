"""Judge diagnostics over per-order verdicts, and length bias, on hand-built sets with known rates."""

from __future__ import annotations

import pytest

from judge.core.errors import InputError
from judge.core.types import Order, PairVote, VerdictStatus, Winner
from judge.metrics.diagnostics import OrderedVerdict, judge_diagnostics
from judge.metrics.length_bias import compare_length_bias, length_bias

A, B = Winner.MODEL_A, Winner.MODEL_B
OK, BAD, ERR = VerdictStatus.OK, VerdictStatus.UNPARSEABLE, VerdictStatus.ERROR


def verdict(unit: str, order: Order, status: VerdictStatus, winner: Winner | None = None) -> OrderedVerdict:
    return OrderedVerdict(unit=unit, order=order, status=status, winner=winner)


VERDICTS = [
    verdict("u1", Order.AB, OK, A),  # consistent; shown first
    verdict("u1", Order.BA, OK, A),  # model_a shown second
    verdict("u2", Order.AB, OK, A),  # position-biased: first shown wins in both orders
    verdict("u2", Order.BA, OK, B),
    verdict("u3", Order.AB, OK, Winner.TIE),  # tie and tie_bothbad agree
    verdict("u3", Order.BA, OK, Winner.TIE_BOTHBAD),
    verdict("u4", Order.AB, OK, B),  # the other order failed to parse: not consistent
    verdict("u4", Order.BA, BAD),
    verdict("u5", Order.AB, ERR),  # only one order
]


def test_diagnostics_known_rates() -> None:
    result = judge_diagnostics(VERDICTS)
    assert (result.position_consistency.count, result.position_consistency.n) == (2, 4)
    assert (result.first_position_preference.count, result.first_position_preference.n) == (3, 5)
    assert (result.tie_rate.count, result.tie_rate.n) == (2, 7)
    assert (result.unparseable_rate.count, result.unparseable_rate.n) == (1, 9)
    assert (result.error_rate.count, result.error_rate.n) == (1, 9)
    assert (result.n_verdicts, result.n_units, result.n_units_one_order) == (9, 5, 1)
    assert result.to_json()["position_consistency"]["rate"] == pytest.approx(0.5)


def test_diagnostics_on_empty_input() -> None:
    result = judge_diagnostics([])
    assert result.position_consistency.rate is None
    assert result.first_position_preference.note


def test_diagnostics_reject_bad_records() -> None:
    with pytest.raises(InputError):
        judge_diagnostics([verdict("u1", Order.AB, OK, A), verdict("u1", Order.AB, OK, B)])
    with pytest.raises(InputError):
        judge_diagnostics([verdict("u1", Order.AB, OK)])
    with pytest.raises(InputError):
        judge_diagnostics([verdict("u1", Order.BA, BAD, A)])
    with pytest.raises(InputError):
        judge_diagnostics([verdict("u1", Order.SINGLE, OK, A)])


def vote(prompt: str, winner: Winner, voter: str, a: str = "x", b: str = "y") -> PairVote:
    return PairVote(prompt_id=prompt, model_a=a, model_b=b, winner=winner, voter=voter)


LENGTHS = {
    ("p1", "x", 1): 100, ("p1", "y", 1): 50,
    ("p2", "x", 1): 10, ("p2", "y", 1): 80,
    ("p3", "x", 1): 30, ("p3", "y", 1): 30,
    ("p4", "x", 1): 5, ("p4", "y", 1): 500,
}  # fmt: skip


def test_length_bias_counts_only_decisive_votes_with_different_known_lengths() -> None:
    votes = [
        vote("p1", A, "j"),  # longer (x) wins
        vote("p2", A, "j", a="y", b="x"),  # listed reversed: y is longer and wins
        vote("p4", A, "j"),  # shorter wins
        vote("p3", A, "j"),  # equal lengths
        vote("p1", Winner.TIE, "j"),  # tie
        vote("p9", A, "j"),  # no lengths
    ]
    result = length_bias(votes, LENGTHS)
    assert (result.prefers_longer.count, result.prefers_longer.n) == (2, 3)
    assert (result.n_ties, result.n_equal_length, result.n_missing_length) == (1, 1, 1)
    assert result.to_json()["n_votes"] == 6


def test_length_bias_comparison_uses_shared_units_only() -> None:
    judge = [vote("p1", A, "j"), vote("p2", B, "j"), vote("p4", B, "j")]
    humans = [vote("p1", B, "h1"), vote("p1", A, "h2"), vote("p2", A, "h1")]
    result = compare_length_bias(judge, humans, LENGTHS)
    assert result.n_shared_units == 2
    assert (result.source_a.prefers_longer.count, result.source_a.prefers_longer.n) == (2, 2)
    assert (result.source_b.prefers_longer.count, result.source_b.prefers_longer.n) == (1, 3)
