"""Conflicting voter-units: one voter's differing votes on one unit, counted (never dropped) in agreement."""

from __future__ import annotations

from judge.core.types import PairVote, Winner
from judge.metrics.agreement import compare_sources
from judge.metrics.units import pair_within, voter_conflicts


def vote(voter: str, winner: Winner, a: str = "x", b: str = "y", prompt: str = "p1", turn: int = 1) -> PairVote:
    return PairVote(prompt_id=prompt, model_a=a, model_b=b, winner=winner, voter=voter, turn=turn)


VOTES = [
    vote("ann", Winner.MODEL_A),
    vote("ann", Winner.MODEL_A, a="y", b="x"),  # ann: x then y, the pair listed the other way round: conflict
    vote("bob", Winner.MODEL_A),
    vote("bob", Winner.MODEL_B, a="y", b="x"),  # bob: x twice (same outcome, other listing): repeated, no conflict
    vote("cat", Winner.TIE),
    vote("cat", Winner.MODEL_B),  # cat: tie then y: conflict
    vote("cat", Winner.TIE_BOTHBAD, turn=2),
    vote("cat", Winner.TIE, turn=2),  # both ties: no conflict
    vote("dan", Winner.MODEL_A, prompt="p2"),
    vote("anonymous", Winner.MODEL_A, prompt="p2"),
    vote("anonymous", Winner.MODEL_B, prompt="p2"),  # no voter named: not one voter contradicting itself
]


def test_voter_conflicts_counts_differing_votes_of_one_voter_on_one_unit() -> None:
    counted = voter_conflicts(VOTES)
    assert (counted.voter_units, counted.repeated, counted.conflicting, counted.conflicting_votes) == (5, 4, 2, 4)
    assert voter_conflicts([]).to_json() == {"voter_units": 0, "repeated": 0, "conflicting": 0, "conflicting_votes": 0}


def test_agreement_keeps_conflicting_votes_and_reports_them() -> None:
    report = compare_sources(VOTES, same_source=True)
    assert report.overall.with_ties.n == len(pair_within(VOTES))  # nothing dropped
    data = report.to_json()
    assert data["conflicts"]["a"]["conflicting"] == data["conflicts"]["b"]["conflicting"] == 2
    assert data["conflicts"]["treatment"].startswith("kept")
    rows = [r for r in report.to_rows() if r["metric"] == "conflicting_voter_units"]
    assert [(r["group"], r["count"], r["total"]) for r in rows] == [("a", 2, 5), ("b", 2, 5)]

    judge = [vote("judge", Winner.MODEL_A), vote("judge", Winner.MODEL_A, prompt="p2")]
    across = compare_sources(judge, VOTES).to_json()["conflicts"]
    assert (across["a"]["conflicting"], across["b"]["conflicting"]) == (0, 2)
    assert "other source" in across["treatment"]
