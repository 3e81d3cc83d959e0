"""Correctness audit of preferences on a hand-built set with known shares."""

from __future__ import annotations

import json

import pytest

from judge.core.types import Correctness, PairVote, Winner
from judge.metrics.audit import CorrectnessGrade, audit_preferences, shorten

OK, PART, WRONG = Correctness.CORRECT, Correctness.PARTIALLY_CORRECT, Correctness.INCORRECT


def vote(prompt: str, a: str, b: str, winner: Winner, voter: str, category: str | None = None) -> PairVote:
    return PairVote(prompt_id=prompt, model_a=a, model_b=b, winner=winner, voter=voter, category=category)


A, B, TIE = Winner.MODEL_A, Winner.MODEL_B, Winner.TIE

VOTES = [
    # p1: m1 correct, m2 incorrect; two of three voters prefer the wrong m2.
    vote("p1", "m1", "m2", B, "h1", "math"),
    vote("p1", "m2", "m1", A, "h2", "math"),
    vote("p1", "m1", "m2", A, "h3", "math"),
    # p2: m1 incorrect, m3 correct; one vote each way.
    vote("p2", "m1", "m3", A, "h1", "reasoning"),
    vote("p2", "m1", "m3", B, "h2", "reasoning"),
    # p3: m2 correct, m3 partially correct; the partial one wins (ordinal figure only).
    vote("p3", "m2", "m3", B, "h1", "math"),
    # p4: both incorrect; one vote picks a winner, one says tie.
    vote("p4", "m1", "m2", A, "h1", "math"),
    vote("p4", "m1", "m2", TIE, "h2", "math"),
    # p5: both correct.
    vote("p5", "m1", "m2", A, "h1", "math"),
    # p6: m3 has no grade.
    vote("p6", "m1", "m3", A, "h1", "math"),
    # p7: strict pair but a tie: not a decisive preference.
    vote("p7", "m1", "m2", TIE, "h1", "math"),
]

LABELS = {
    ("p1", "m1"): OK,
    ("p1", "m2"): WRONG,
    ("p2", "m1"): WRONG,
    ("p2", "m3"): OK,
    ("p3", "m2"): OK,
    ("p3", "m3"): PART,
    ("p4", "m1"): WRONG,
    ("p4", "m2"): WRONG,
    ("p5", "m1"): OK,
    ("p5", "m2"): OK,
    ("p6", "m1"): OK,
    ("p7", "m1"): OK,
    ("p7", "m2"): WRONG,
}
GRADES = {(p, m, 1): CorrectnessGrade(label=label, reason=f"{m} on {p} is {label}") for (p, m), label in LABELS.items()}
TEXTS = {(p, m, 1): f"Answer of {m} to {p}. " + "**Bold** filler. " * (20 if m == "m2" else 1) for p, m in LABELS}
PROMPTS = {("p1", 1): "What is 2 + 2?"}


def test_preferred_but_wrong_shares() -> None:
    report = audit_preferences(VOTES, GRADES, TEXTS, PROMPTS)
    assert (report.preferred_but_wrong.count, report.preferred_but_wrong.n) == (3, 5)
    by_model = {m: (p.count, p.n) for m, p in report.preferred_but_wrong_by_model.items()}
    assert by_model == {"m1": (1, 2), "m2": (2, 3)}
    by_category = {c: (p.count, p.n) for c, p in report.preferred_but_wrong_by_category.items()}
    assert by_category == {"math": (2, 3), "reasoning": (1, 2)}
    assert (report.preferred_less_correct.count, report.preferred_less_correct.n) == (4, 6)
    assert (report.both_incorrect_preferred.count, report.both_incorrect_preferred.n) == (1, 2)
    assert (report.n_votes, report.n_ungraded) == (11, 1)
    ci_low, ci_high = report.preferred_but_wrong.ci_low, report.preferred_but_wrong.ci_high
    assert ci_low is not None and ci_high is not None and ci_low < 0.6 < ci_high


def test_examples_rank_the_most_glaring_case_first() -> None:
    report = audit_preferences(VOTES, GRADES, TEXTS, PROMPTS, n_examples=5, shorten_to=60)
    assert [(e.prompt_id, e.winner_model, e.loser_model) for e in report.examples] == [
        ("p1", "m2", "m1"),
        ("p2", "m1", "m3"),
    ]
    first = report.examples[0]
    assert first.voters_for_wrong == ("h1", "h2") and first.voters_for_correct == ("h3",)
    assert first.winner_grade.label is WRONG and first.loser_grade.label is OK
    assert first.winner_grade.reason == "m2 on p1 is incorrect"
    assert first.prompt == "What is 2 + 2?"
    assert first.winner_text is not None and len(first.winner_text) <= 60 and " … " in first.winner_text
    assert report.examples[1].prompt is None
    assert len(audit_preferences(VOTES, GRADES, TEXTS, n_examples=1).examples) == 1


def test_style_part_uses_decisive_votes_with_texts() -> None:
    report = audit_preferences(VOTES, GRADES, TEXTS)
    # Decisive votes: 11 minus 2 ties; p6's m3 has no text.
    assert (report.style.n_votes, report.style.n_missing_text) == (8, 1)
    json.dumps(report.to_json())


def test_empty_audit() -> None:
    report = audit_preferences([], {}, {})
    assert report.preferred_but_wrong.rate is None and report.preferred_but_wrong.note
    assert report.preferred_but_wrong_by_model == {}
    assert report.examples == ()


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [("short  text\n here", 50, "short text here"), ("abcdefghijklmnopqrstuvwxyz", 12, "abcdef … xyz")],
)
def test_shorten(text: str, limit: int, expected: str) -> None:
    assert shorten(text, limit) == expected


def test_by_voter_and_ties_by_the_pairs_correctness() -> None:
    report = audit_preferences(VOTES, GRADES, TEXTS, PROMPTS)
    by_voter = {v: (p.count, p.n) for v, p in report.preferred_but_wrong_by_voter.items()}
    assert by_voter == {"h1": (2, 2), "h2": (1, 2), "h3": (0, 1)}
    ties = {kind: (p.count, p.n) for kind, p in report.ties_by_correctness.items()}
    assert ties == {
        "both_correct": (0, 1),
        "correct_vs_not_correct": (1, 6),
        "both_not_correct": (1, 2),
        "partial_involved": (0, 1),
    }
    data = report.to_json()
    assert {"count", "n"} <= set(data["preferred_but_wrong"]) and {"count", "n"} <= set(
        data["both_incorrect_preferred"]
    )


def test_no_answer_counts_as_not_correct() -> None:
    none = Correctness.NO_ANSWER
    votes = [
        vote("p8", "m1", "m2", B, "h1"),  # correct vs no answer: the empty one wins
        vote("p9", "m1", "m2", A, "h1"),  # no answer vs incorrect: decisive between two wrong ones
        vote("p9", "m1", "m2", TIE, "h2"),
    ]
    grades = {
        ("p8", "m1", 1): CorrectnessGrade(label=OK),
        ("p8", "m2", 1): CorrectnessGrade(label=none, extracted_answer=None),
        ("p9", "m1", 1): CorrectnessGrade(label=none),
        ("p9", "m2", 1): CorrectnessGrade(label=WRONG, extracted_answer="7", extraction_rule="strict:answer_is"),
    }
    report = audit_preferences(votes, grades, {})
    assert (report.preferred_but_wrong.count, report.preferred_but_wrong.n) == (1, 1)
    assert (report.both_incorrect_preferred.count, report.both_incorrect_preferred.n) == (1, 2)
    assert {m: (p.count, p.n) for m, p in report.preferred_but_wrong_by_model.items()} == {"m2": (1, 1)}
    assert (report.preferred_less_correct.count, report.preferred_less_correct.n) == (1, 1)
    assert report.examples[0].winner_grade.label is none
