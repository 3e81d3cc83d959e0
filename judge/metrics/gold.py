"""Gold-label accuracy: how often a judge picks the response a gold label marks as correct (LLMBar).

Each pair is judged in both presentation orders and the two verdicts are combined into one by
:func:`judge.core.protocols.pairwise.reconcile` (:func:`gold_record` turns that outcome into a record). A pair counts
as correct only when the combined verdict picks the gold response. Ties, inconsistent pairs (whose combined
verdict is a tie) and pairs with no usable verdict all count as not correct, so accuracy is over every pair.
``first``/``second`` name the pair's ``output_1``/``output_2``, not a presentation position.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from judge.core.errors import InputError
from judge.core.protocols.pairwise import CombinedOutcome
from judge.core.types import Frozen, Winner
from judge.metrics.intervals import Proportion, proportion

CombinedVerdict = Literal["first", "second", "tie"]


class GoldRecord(Frozen):
    """One gold-labelled pair and the judge's combined verdict (None: no order gave a usable one)."""

    pair_id: str
    gold: Literal[1, 2]
    verdict: CombinedVerdict | None
    inconsistent: bool = False

    @property
    def correct(self) -> bool:
        return (self.gold == 1 and self.verdict == "first") or (self.gold == 2 and self.verdict == "second")


class GoldAccuracy(Frozen):
    """Accuracy against gold labels, with the inconsistent, tie and no-verdict rates; all over every pair."""

    accuracy: Proportion
    inconsistent_rate: Proportion
    tie_rate: Proportion
    no_verdict_rate: Proportion
    accuracy_consistent: Proportion

    def to_json(self) -> dict[str, Any]:
        return {
            "accuracy": self.accuracy.to_json(),
            "inconsistent_rate": self.inconsistent_rate.to_json(),
            "tie_rate": self.tie_rate.to_json(),
            "no_verdict_rate": self.no_verdict_rate.to_json(),
            "accuracy_consistent": self.accuracy_consistent.to_json(),
        }


def gold_record(pair_id: str, gold: Literal[1, 2], outcome: CombinedOutcome) -> GoldRecord:
    """The record of one pair from its reconciled outcome, oriented with model_a = ``output_1``.

    That is the orientation :mod:`judge.importers.llmbar` gives each pair (models ``output_1``, ``output_2``).
    """
    verdict: CombinedVerdict | None
    if outcome.winner is None:
        verdict = None
    elif outcome.winner.is_tie:
        verdict = "tie"
    else:
        verdict = "first" if outcome.winner is Winner.MODEL_A else "second"
    return GoldRecord(pair_id=pair_id, gold=gold, verdict=verdict, inconsistent=outcome.inconsistent)


def gold_accuracy(records: Sequence[GoldRecord], *, confidence: float = 0.95) -> GoldAccuracy:
    """Accuracy over all pairs, plus the accuracy among position-consistent pairs; pair ids must be unique."""
    seen: set[str] = set()
    for record in records:
        if record.pair_id in seen:
            raise InputError(f"pair {record.pair_id} appears twice", field="pair_id")
        seen.add(record.pair_id)
    n = len(records)
    consistent = [r for r in records if not r.inconsistent]
    return GoldAccuracy(
        accuracy=proportion(sum(r.correct for r in records), n, confidence),
        inconsistent_rate=proportion(n - len(consistent), n, confidence),
        tie_rate=proportion(sum(r.verdict == "tie" for r in records), n, confidence),
        no_verdict_rate=proportion(sum(r.verdict is None for r in records), n, confidence),
        accuracy_consistent=proportion(sum(r.correct for r in consistent), len(consistent), confidence),
    )
