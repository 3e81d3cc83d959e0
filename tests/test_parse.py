"""Reading judge replies: JSON schema first, else the last valid bracketed label; never a default."""

from __future__ import annotations

import json

import pydantic
import pytest

from judge.errors import InputError
from judge.parse import ParsedOutput, ParseRule, parse_output, to_correctness, to_winner
from judge.rubrics import Position, Rubric, load_rubric
from judge.types import Correctness, Order, VerdictStatus, Winner


@pytest.fixture(scope="module")
def pairwise() -> Rubric:
    return load_rubric("pairwise")


@pytest.fixture(scope="module")
def five() -> Rubric:
    return load_rubric("pairwise-5")


@pytest.fixture(scope="module")
def single() -> Rubric:
    return load_rubric("single")


@pytest.fixture(scope="module")
def correctness() -> Rubric:
    return load_rubric("correctness")


def test_last_label_wins(pairwise: Rubric) -> None:
    text = "At first I leaned to [[A]], but B handles the edge case.\nFinal verdict: [[B]]"
    parsed = parse_output(pairwise, text, structured=False)
    assert (parsed.status, parsed.label, parsed.position) == (VerdictStatus.OK, "B", Position.SECOND)
    assert parsed.parse_rule is ParseRule.REGEX_LAST
    assert parsed.reason == "At first I leaned to [[A]], but B handles the edge case.\nFinal verdict:"


def test_labels_quoted_in_reasoning_do_not_win(pairwise: Rubric) -> None:
    text = (
        'Assistant B ends its answer with "[[B]]" and {"verdict": "B"}, trying to instruct the judge.\n'
        "Both answers get the arithmetic right and explain it equally well.\n[[tie]]"
    )
    parsed = parse_output(pairwise, text, structured=False)
    assert parsed.label == "tie" and parsed.position is Position.TIE


def test_invalid_bracketed_text_is_skipped_for_the_last_valid_label(pairwise: Rubric) -> None:
    assert parse_output(pairwise, "[[A]] ... [[C]] [[A and B]]", structured=False).label == "A"
    assert parse_output(pairwise, "verdict: [[ b ]]", structured=False).label == "B"


def test_json_reply_is_read_by_schema(pairwise: Rubric) -> None:
    text = json.dumps({"reason": "B says [[A]] but A is wrong about the date.", "verdict": "B"})
    parsed = parse_output(pairwise, text, structured=True)
    assert (parsed.label, parsed.parse_rule) == ("B", ParseRule.JSON_SCHEMA)
    assert parsed.reason == "B says [[A]] but A is wrong about the date."
    fenced = parse_output(pairwise, f"```json\n{text}\n```", structured=False)
    assert (fenced.label, fenced.parse_rule) == ("B", ParseRule.JSON_SCHEMA)


def test_json_against_the_schema_is_unparseable_when_structured(pairwise: Rubric) -> None:
    text = json.dumps({"reason": "They are the same. [[A]]", "verdict": "same"})
    parsed = parse_output(pairwise, text, structured=True)
    assert parsed.status is VerdictStatus.UNPARSEABLE and parsed.label is None
    assert parsed.raw == text and parsed.error is not None and "verdict" in parsed.error
    prose = parse_output(pairwise, text, structured=False)  # not asked for JSON: read as prose
    assert (prose.label, prose.parse_rule) == ("A", ParseRule.REGEX_LAST)


def test_structured_call_answered_in_prose_falls_back_to_regex(pairwise: Rubric) -> None:
    parsed = parse_output(pairwise, "Assistant A is more accurate.\n[[A]]", structured=True)
    assert (parsed.label, parsed.parse_rule) == ("A", ParseRule.REGEX_LAST)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   \n",
        "Both answers have merit; it is hard to say.",
        "Verdict: A",
        "[A]",
        "[[C]]",
        '{"verdict": "A"',
    ],
)
def test_unmatched_reply_is_unparseable_with_raw_text(pairwise: Rubric, text: str) -> None:
    parsed = parse_output(pairwise, text, structured=False)
    assert parsed.status is VerdictStatus.UNPARSEABLE
    assert parsed.raw == text
    assert (parsed.label, parsed.position, parsed.parse_rule) == (None, None, None)
    assert parsed.error
    assert to_winner(parsed, Order.AB) is None


@pytest.mark.parametrize(
    ("text", "label", "position", "strength"),
    [
        ("[[A>>B]]", "A>>B", Position.FIRST, 2),
        ("Clearly better: [[A > B]]", "A>B", Position.FIRST, 1),
        ("[[A=B]]", "A=B", Position.TIE, 0),
        ("[[B>A]]", "B>A", Position.SECOND, 1),
        ("It asked for [[A>>B]] in its answer; that is not my call. [[B >> A]]", "B>>A", Position.SECOND, 2),
        ('{"reason": "B misses the second part.", "verdict": "A>B"}', "A>B", Position.FIRST, 1),
    ],
)
def test_five_point_labels_carry_strength(
    five: Rubric, text: str, label: str, position: Position, strength: int
) -> None:
    parsed = parse_output(five, text, structured=text.startswith("{"))
    assert (parsed.label, parsed.position, parsed.strength) == (label, position, strength)


def test_three_point_labels_have_no_strength(pairwise: Rubric) -> None:
    assert parse_output(pairwise, "[[A]]", structured=False).strength is None


@pytest.mark.parametrize(
    ("text", "score"),
    [
        ("Score: [[7]]", 7.0),
        ("[[1]]", 1.0),
        ("[[10]]", 10.0),
        ("[[ 8 ]]", 8.0),
        ("[[7.0]]", 7.0),
        ("Not [[7]] but [[3]]", 3.0),
        ("[[6]] then [[11]]", 6.0),
        ("[[4]] then [[7.5]]", 4.0),
        ('{"reason": "Accurate and complete.", "score": 9}', 9.0),
        ('{"reason": "Fine.", "score": 5.0}', 5.0),
    ],
)
def test_single_scores_within_bounds(single: Rubric, text: str, score: float) -> None:
    parsed = parse_output(single, text, structured=text.startswith("{"))
    assert parsed.status is VerdictStatus.OK
    assert parsed.score == score and parsed.label == str(int(score))
    assert parsed.position is None


@pytest.mark.parametrize(
    "text",
    [
        "[[0]]",
        "[[11]]",
        "[[-3]]",
        "[[7.5]]",
        "Score: 7",
        '{"reason": "Good.", "score": 7.5}',
        '{"reason": "Good.", "score": 11}',
        '{"reason": "Good.", "score": "7"}',
        '{"reason": "Good.", "score": true}',
        '{"score": 7}',
    ],
)
def test_single_scores_out_of_bounds_or_fractional_are_unparseable(single: Rubric, text: str) -> None:
    parsed = parse_output(single, text, structured=True)
    assert parsed.status is VerdictStatus.UNPARSEABLE and parsed.score is None
    assert parsed.raw == text


def test_correctness_grade_and_reason(correctness: Rubric) -> None:
    text = "The final sum is 12, the reference says 14.\nReason: wrong final sum (12 vs 14).\n[[incorrect]]"
    parsed = parse_output(correctness, text, structured=False)
    assert parsed.correctness is Correctness.INCORRECT and parsed.label == "incorrect"
    assert parsed.reason is not None and parsed.reason.endswith("Reason: wrong final sum (12 vs 14).")
    loose = parse_output(correctness, "Reason: second part missing.\n[[Partially Correct]]", structured=False)
    assert loose.label == "partially_correct" and to_correctness(loose) is Correctness.PARTIALLY_CORRECT
    structured = parse_output(correctness, '{"reason": "Matches.", "verdict": "correct"}', structured=True)
    assert to_correctness(structured) is Correctness.CORRECT and structured.reason == "Matches."
    assert to_correctness(parse_output(correctness, "no idea", structured=False)) is None


@pytest.mark.parametrize(
    ("label", "order", "winner"),
    [
        ("A", Order.AB, Winner.MODEL_A),
        ("B", Order.AB, Winner.MODEL_B),
        ("tie", Order.AB, Winner.TIE),
        ("A", Order.BA, Winner.MODEL_B),
        ("B", Order.BA, Winner.MODEL_A),
        ("tie", Order.BA, Winner.TIE),
    ],
)
def test_to_winner_maps_positions_back_to_the_pair(pairwise: Rubric, label: str, order: Order, winner: Winner) -> None:
    assert to_winner(parse_output(pairwise, f"[[{label}]]", structured=False), order) is winner


def test_to_winner_with_strength_and_misuse(five: Rubric, correctness: Rubric) -> None:
    assert to_winner(parse_output(five, "[[B>>A]]", structured=False), Order.BA) is Winner.MODEL_A
    assert to_winner(parse_output(correctness, "[[correct]]", structured=False), Order.AB) is None
    with pytest.raises(InputError):
        to_winner(parse_output(five, "[[A>B]]", structured=False), Order.SINGLE)


def test_parsed_output_is_frozen(pairwise: Rubric) -> None:
    parsed = parse_output(pairwise, "[[A]]", structured=False)
    assert isinstance(parsed, ParsedOutput)
    with pytest.raises(pydantic.ValidationError):
        parsed.label = "B"  # type: ignore[misc]
