"""Gold-label accuracy on a hand-built set."""

from __future__ import annotations

import pytest

from judge.core.errors import InputError
from judge.core.protocols.pairwise import reconcile
from judge.core.types import Winner
from judge.metrics.gold import GoldRecord, gold_accuracy, gold_record

RECORDS = [
    GoldRecord(pair_id="0", gold=1, verdict="first"),  # correct
    GoldRecord(pair_id="1", gold=2, verdict="second"),  # correct
    GoldRecord(pair_id="2", gold=2, verdict="first"),  # wrong, consistent
    GoldRecord(pair_id="3", gold=1, verdict="tie", inconsistent=True),  # orders disagreed
    GoldRecord(pair_id="4", gold=2, verdict="tie"),  # a consistent tie is not correct
    GoldRecord(pair_id="5", gold=1, verdict=None),  # no usable verdict
]


def test_gold_accuracy_known_values() -> None:
    result = gold_accuracy(RECORDS)
    assert (result.accuracy.count, result.accuracy.n) == (2, 6)
    assert (result.inconsistent_rate.count, result.inconsistent_rate.n) == (1, 6)
    assert (result.tie_rate.count, result.tie_rate.n) == (2, 6)
    assert (result.no_verdict_rate.count, result.no_verdict_rate.n) == (1, 6)
    assert (result.accuracy_consistent.count, result.accuracy_consistent.n) == (2, 5)
    assert result.to_json()["accuracy"]["rate"] == pytest.approx(1 / 3)


def test_gold_accuracy_empty_and_duplicates() -> None:
    assert gold_accuracy([]).accuracy.rate is None
    with pytest.raises(InputError):
        gold_accuracy([RECORDS[0], RECORDS[0]])


@pytest.mark.parametrize(
    ("ab", "ba", "verdict", "inconsistent"),
    [
        (Winner.MODEL_A, Winner.MODEL_A, "first", False),
        (Winner.MODEL_B, Winner.MODEL_B, "second", False),
        (Winner.MODEL_A, Winner.MODEL_B, "tie", True),
        (Winner.TIE, Winner.TIE_BOTHBAD, "tie", False),
        (Winner.MODEL_A, None, None, False),
    ],
)
def test_gold_record_from_reconciled_orders(
    ab: Winner, ba: Winner | None, verdict: str | None, inconsistent: bool
) -> None:
    record = gold_record("7", 1, reconcile(ab, ba))
    assert (record.verdict, record.inconsistent) == (verdict, inconsistent)
    assert record.correct is (verdict == "first")
