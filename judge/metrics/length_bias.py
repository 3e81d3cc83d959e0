"""Length bias: how often a source prefers the longer of two responses.

P(prefers longer | lengths differ, decisive): among a source's decisive votes whose two responses have known,
different lengths, the share won by the longer one (0.5 means no length preference). Ties, equal lengths and
responses without a known length are left out and counted. Length is whatever the caller measures (characters,
tokens). To compare a judge with humans fairly, :func:`compare_length_bias` restricts both sources to the
units they both voted on.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from judge.core.types import Frozen, PairVote, Winner
from judge.metrics.intervals import Proportion, proportion
from judge.metrics.units import ResponseKey, response_keys, shared_units, unit_key


class LengthBias(Frozen):
    """Share of decisive votes won by the longer response, with what was left out."""

    prefers_longer: Proportion
    n_votes: int
    n_ties: int
    n_equal_length: int
    n_missing_length: int

    def to_json(self) -> dict[str, Any]:
        return {
            "prefers_longer": self.prefers_longer.to_json(),
            "n_votes": self.n_votes,
            "n_ties": self.n_ties,
            "n_equal_length": self.n_equal_length,
            "n_missing_length": self.n_missing_length,
        }


class LengthBiasComparison(Frozen):
    """Length bias of two sources on the units both voted on."""

    source_a: LengthBias
    source_b: LengthBias
    n_shared_units: int

    def to_json(self) -> dict[str, Any]:
        return {
            "source_a": self.source_a.to_json(),
            "source_b": self.source_b.to_json(),
            "n_shared_units": self.n_shared_units,
        }


def length_bias(
    votes: Sequence[PairVote], lengths: Mapping[ResponseKey, int], *, confidence: float = 0.95
) -> LengthBias:
    """P(prefers the longer response | lengths differ, decisive) for one source."""
    ties = equal = missing = longer_won = 0
    for vote in votes:
        if vote.winner.is_tie:
            ties += 1
            continue
        key_a, key_b = response_keys(vote)
        if key_a not in lengths or key_b not in lengths:
            missing += 1
            continue
        length_a, length_b = lengths[key_a], lengths[key_b]
        if length_a == length_b:
            equal += 1
            continue
        longer = Winner.MODEL_A if length_a > length_b else Winner.MODEL_B
        longer_won += vote.winner is longer
    decided = len(votes) - ties - equal - missing
    return LengthBias(
        prefers_longer=proportion(longer_won, decided, confidence),
        n_votes=len(votes),
        n_ties=ties,
        n_equal_length=equal,
        n_missing_length=missing,
    )


def compare_length_bias(
    a: Sequence[PairVote],
    b: Sequence[PairVote],
    lengths: Mapping[ResponseKey, int],
    *,
    confidence: float = 0.95,
) -> LengthBiasComparison:
    """Length bias of sources a (e.g. the judge) and b (e.g. humans), each restricted to the shared units."""
    units = shared_units(a, b)
    return LengthBiasComparison(
        source_a=length_bias([v for v in a if unit_key(v) in units], lengths, confidence=confidence),
        source_b=length_bias([v for v in b if unit_key(v) in units], lengths, confidence=confidence),
        n_shared_units=len(units),
    )
