"""Units of comparison and the pairing of votes from two sources on the same unit.

A unit is (prompt, unordered model pair, turn). Every vote is turned to the unit's canonical orientation: the
two model names sorted, ``model_a`` the alphabetically first one, the winner swapped when the vote listed the
models the other way round. ``tie`` and ``tie_bothbad`` are one outcome, ``tie``.

Two pairing modes:

- same source (:func:`pair_within`): one vote set, e.g. human vs human. For every unit, every unordered pair
  of votes by two *different* voters is one comparison (MT-Bench's human-human definition). Two votes by the
  same voter on one unit are never compared.
- cross source (:func:`pair_across`): every combination (vote from a, vote from b) on a unit is one
  comparison. When a side has several votes on a unit (many humans, or a judge in several runs) each pairing
  counts, which is how MT-Bench compares GPT-4 with the experts. Voter names are not compared here.

Conflicts (:func:`voter_conflicts`): a voter-unit (one named voter on one unit) is *conflicting* when that voter's
votes on the unit name different outcomes (one model and the other, or a win and a tie), in either listing order.
Such votes are kept and counted, never dropped or merged: every one of them takes part in the pairings above.
Votes by ``anonymous`` (no voter given) are not known to share a voter and are never counted as conflicting.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from itertools import combinations, product

from judge.core.errors import InputError
from judge.core.types import Frozen, JsonFields, PairVote, Winner

OUTCOMES: tuple[Winner, Winner, Winner] = (Winner.MODEL_A, Winner.MODEL_B, Winner.TIE)
UNCATEGORIZED = "uncategorized"
ANONYMOUS = "anonymous"
"""The voter of a vote imported without one: not a person, so never one voter contradicting itself."""

ResponseKey = tuple[str, str, int]
"""(prompt_id, model, turn): one model's response to one turn of one prompt."""


class UnitKey(Frozen):
    """One unit: a prompt, an unordered model pair (stored sorted: model_a < model_b) and a turn."""

    prompt_id: str
    model_a: str
    model_b: str
    turn: int

    @property
    def pair_label(self) -> str:
        return f"{self.model_a} vs {self.model_b}"

    @property
    def label(self) -> str:
        return f"{self.prompt_id}/{self.turn}/{self.pair_label}"


class Comparison(Frozen):
    """A vote of source a against a vote of source b on the same unit, both in canonical orientation."""

    unit: UnitKey
    category: str | None
    voter_a: str
    voter_b: str
    outcome_a: Winner
    outcome_b: Winner

    @property
    def agrees(self) -> bool:
        return self.outcome_a is self.outcome_b

    @property
    def involves_tie(self) -> bool:
        return self.outcome_a is Winner.TIE or self.outcome_b is Winner.TIE


def unit_key(vote: PairVote) -> UnitKey:
    """The canonical unit of a vote; a vote comparing a model with itself is an InputError."""
    if vote.model_a == vote.model_b:
        raise InputError(f"vote by {vote.voter} on prompt {vote.prompt_id} compares {vote.model_a} with itself")
    first, second = sorted((vote.model_a, vote.model_b))
    return UnitKey(prompt_id=vote.prompt_id, model_a=first, model_b=second, turn=vote.turn)


def canonical_outcome(vote: PairVote) -> Winner:
    """The vote's winner in its unit's orientation, with both tie kinds folded into ``tie``."""
    if vote.winner.is_tie:
        return Winner.TIE
    return vote.winner if vote.model_a < vote.model_b else vote.winner.swapped()


def canonical_winner_model(vote: PairVote) -> str | None:
    """Name of the preferred model, or None for a tie."""
    if vote.winner.is_tie:
        return None
    return vote.model_a if vote.winner is Winner.MODEL_A else vote.model_b


def response_keys(vote: PairVote) -> tuple[ResponseKey, ResponseKey]:
    """The (winner-side-agnostic) response keys of the vote's model_a and model_b, in the vote's own order."""
    return (vote.prompt_id, vote.model_a, vote.turn), (vote.prompt_id, vote.model_b, vote.turn)


def group_by_unit(votes: Iterable[PairVote]) -> dict[UnitKey, list[PairVote]]:
    """Votes grouped by canonical unit, in input order within each unit."""
    groups: dict[UnitKey, list[PairVote]] = defaultdict(list)
    for vote in votes:
        groups[unit_key(vote)].append(vote)
    return dict(groups)


def _comparison(unit: UnitKey, first: PairVote, second: PairVote) -> Comparison:
    return Comparison(
        unit=unit,
        category=first.category if first.category is not None else second.category,
        voter_a=first.voter,
        voter_b=second.voter,
        outcome_a=canonical_outcome(first),
        outcome_b=canonical_outcome(second),
    )


def pair_within(votes: Sequence[PairVote]) -> list[Comparison]:
    """Same-source pairing: every unordered pair of votes by two different voters on the same unit."""
    comparisons: list[Comparison] = []
    for unit, unit_votes in group_by_unit(votes).items():
        for first, second in combinations(unit_votes, 2):
            if first.voter != second.voter:
                comparisons.append(_comparison(unit, first, second))
    return comparisons


def pair_across(a: Sequence[PairVote], b: Sequence[PairVote]) -> list[Comparison]:
    """Cross-source pairing: every (vote of a, vote of b) combination on each unit both sources voted on."""
    groups_b = group_by_unit(b)
    comparisons: list[Comparison] = []
    for unit, votes_a in group_by_unit(a).items():
        for first, second in product(votes_a, groups_b.get(unit, [])):
            comparisons.append(_comparison(unit, first, second))
    return comparisons


class VoterConflicts(JsonFields):
    """How often one voter voted more than once on a unit, and how often those votes disagree.

    ``voter_units``: distinct (named voter, unit); ``repeated``: those with two or more votes; ``conflicting``:
    those whose votes name different outcomes; ``conflicting_votes``: the votes in conflicting voter-units."""

    voter_units: int
    repeated: int
    conflicting: int
    conflicting_votes: int


def voter_conflicts(votes: Iterable[PairVote]) -> VoterConflicts:
    """Count the voter-units of ``votes`` that hold opposite (differing) votes by the same named voter."""
    outcomes: dict[tuple[str, UnitKey], list[Winner]] = defaultdict(list)
    for vote in votes:
        if vote.voter != ANONYMOUS:
            outcomes[(vote.voter, unit_key(vote))].append(canonical_outcome(vote))
    conflicting = [o for o in outcomes.values() if len(set(o)) > 1]
    return VoterConflicts(
        voter_units=len(outcomes),
        repeated=sum(1 for o in outcomes.values() if len(o) > 1),
        conflicting=len(conflicting),
        conflicting_votes=sum(len(o) for o in conflicting),
    )


def shared_units(a: Iterable[PairVote], b: Iterable[PairVote]) -> set[UnitKey]:
    """Units on which both vote sets have at least one vote."""
    return set(group_by_unit(a)) & set(group_by_unit(b))


def group_label(comparison: Comparison, by: str) -> str:
    """Breakdown label of a comparison for ``by`` in {category, turn, pair}."""
    if by == "category":
        return comparison.category if comparison.category is not None else UNCATEGORIZED
    if by == "turn":
        return str(comparison.unit.turn)
    if by == "pair":
        return comparison.unit.pair_label
    raise InputError(f"unknown breakdown {by!r}; expected one of category, turn, pair", field="by")
