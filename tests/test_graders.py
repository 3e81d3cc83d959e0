"""Deterministic graders: labelled real responses, each grader and rule, and "never a guess" properties."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from judge.core.errors import InputError
from judge.core.graders import (
    ACCEPTED_TYPES,
    KNOWN_ANSWER_TYPES,
    KNOWN_GRADERS,
    AnswerType,
    ExtractionRule,
    GoldAnswer,
    GradeOutcome,
    GraderSpec,
    code_version,
    grade,
    parse_grader,
)
from judge.core.graders.numerals import find_numerals, parse_number_text
from tests.paths import MT_BENCH, REFERENCES

FIXTURES = Path(__file__).parent / "fixtures" / "graded_responses.jsonl"
AUTO = parse_grader("grader:auto")
STRICT = parse_grader("grader:auto@strict")
FLEXIBLE = parse_grader("grader:auto@flexible")


def _gold_answers() -> dict[int, GoldAnswer]:
    gold: dict[int, GoldAnswer] = {}
    for line in (MT_BENCH / "gold_answers.jsonl").read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        fields = {k: v for k, v in record.items() if k in GoldAnswer.model_fields}
        gold[record["question_id"]] = GoldAnswer.model_validate(fields)
    return gold


def _questions() -> dict[int, str]:
    lines = (MT_BENCH / "question.jsonl").read_text(encoding="utf-8").splitlines()
    return {r["question_id"]: r["turns"][0] for r in map(json.loads, lines)}


GOLD = _gold_answers()
QUESTIONS = _questions()
ROWS: list[dict[str, Any]] = [json.loads(line) for line in FIXTURES.read_text(encoding="utf-8").splitlines()]


def number(answer: float | str, **extra: Any) -> GoldAnswer:
    return GoldAnswer(type=AnswerType.NUMBER, answer=answer, **extra)


# --- the labelled real responses ---------------------------------------------------------------------------------


def test_fixtures_cover_what_the_issue_asks() -> None:
    sample = [r for r in ROWS if r["source"].startswith("data/")]
    assert len(ROWS) >= 40
    assert {(r["question_id"], r["model"]) for r in sample} == {(q, m) for q in GOLD for m in _MODELS}
    covered = {tag for r in ROWS for tag in r["covers"]}
    wanted = {"numbers_in_prose", "fraction", "percent", "latex", "contradiction", "restates_question", "truncated"}
    assert wanted <= covered
    assert {r["label"] for r in ROWS} == {"correct", "incorrect", "no_answer"}


_MODELS = ("alpaca-13b", "claude-v1", "gpt-3.5-turbo", "gpt-4", "llama-13b", "vicuna-13b-v1.2")


@pytest.mark.parametrize("row", ROWS, ids=[f"q{r['question_id']}-{r['model']}" for r in ROWS])
def test_grader_auto_matches_the_hand_label(row: dict[str, Any]) -> None:
    result = grade(AUTO, row["response"], GOLD[row["question_id"]], prompt=QUESTIONS[row["question_id"]])
    assert result.outcome.value == row["label"], row["note"]
    assert result.extraction_rule == row["rule"]
    assert result.extracted_answer == row["extracted"]
    if result.span is not None:
        start, end = result.span
        shown = " ".join(row["response"][start:end].replace("\\*", "*").split()).casefold()
        assert all(piece.casefold() in shown for piece in row["extracted"].split("; "))


def test_strict_then_flexible_is_strict_when_strict_fires() -> None:
    for row in ROWS:
        gold, prompt = GOLD[row["question_id"]], QUESTIONS[row["question_id"]]
        auto = grade(AUTO, row["response"], gold, prompt=prompt)
        strict = grade(STRICT, row["response"], gold, prompt=prompt)
        flexible = grade(FLEXIBLE, row["response"], gold, prompt=prompt)
        if strict.outcome is not GradeOutcome.NO_ANSWER:
            assert auto == strict
        else:
            assert auto == flexible
        assert strict.extraction_rule is None or strict.extraction_rule.startswith("strict:")
        assert flexible.extraction_rule is None or flexible.extraction_rule.startswith("flexible:")


def test_gpt4_reference_answers_to_q111_and_q114_are_wrong_per_the_gold_file() -> None:
    references = {
        r["question_id"]: r["choices"][0]["turns"][0]
        for r in map(json.loads, REFERENCES.read_text(encoding="utf-8").splitlines())
    }
    for question_id, stated in ((111, 0.0), (114, 34 / 36)):
        result = grade(AUTO, references[question_id], GOLD[question_id], prompt=QUESTIONS[question_id])
        assert result.outcome is GradeOutcome.INCORRECT
        assert result.extracted_answer is not None
        assert parse_number_text(result.extracted_answer) == pytest.approx(stated, abs=0.001)
    for question_id in (112, 115, 119, 120):
        result = grade(AUTO, references[question_id], GOLD[question_id], prompt=QUESTIONS[question_id])
        assert result.outcome is GradeOutcome.CORRECT


# --- numbers -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("12,000", 12000.0),
        ("-20", -20.0),
        ("35/36", 35 / 36),
        ("\\frac{35}{36}", 35 / 36),
        ("\\dfrac{1}{4}", 0.25),
        ("19%", 0.19),
        ("three", 3.0),
        ("0.9722", 0.9722),
        (".5", 0.5),
    ],
)
def test_parse_number_text(text: str, value: float) -> None:
    assert parse_number_text(text) == pytest.approx(value)


@pytest.mark.parametrize("text", ["", "12 and 13", "x", "1/0", "2z"])
def test_parse_number_text_refuses_anything_but_one_number(text: str) -> None:
    assert parse_number_text(text) is None


def test_numerals_know_expressions_arguments_and_coordinates() -> None:
    found = {round(n.value, 3): n.role for n in find_numerals("f(2) = 2z, (3, 4), 1/2 the base, 5 * 6 and 38 people")}
    assert found[2.0] in ("reference", "operand")
    assert found[3.0] == "reference" and found[4.0] == "reference"
    assert found[0.5] == "reference"
    assert found[5.0] == "operand" and found[6.0] == "operand"
    assert found[38.0] == "value"


@pytest.mark.parametrize(
    ("response", "gold", "outcome", "extracted"),
    [
        ("The probability is 35/36.", number(0.9722222222, tolerance=0.001), "correct", "35/36"),
        ("The probability is $\\frac{35}{36}$.", number("35/36"), "correct", "\\frac{35}{36}"),
        ("So the probability is about 0.9722.", number(0.9722222222, tolerance=0.001), "correct", "0.9722"),
        ("So the probability is 0.97.", number(0.9722222222, tolerance=0.001), "incorrect", "0.97"),
        ("So it is 97.2%.", number(0.9722222222, tolerance=0.001, accept_percent=True), "correct", "97.2%"),
        ("So it is 97.2%.", number(0.9722222222, tolerance=0.001), "incorrect", "97.2%"),
        ("So it is 35/36.", number(0.9722222222, tolerance=0.001, accept_fraction=False), "incorrect", "35/36"),
        ("The total is $12,000.", number(12000), "correct", "12,000"),
        ("Therefore f(2) = -20.", number(-20), "correct", "-20"),
        ("Therefore f(2) = -20.", number(20), "incorrect", "-20"),
        ("Final answer: \\boxed{3}", number(3), "correct", "3"),
        ("He has zero brothers.", number(0), "correct", "zero"),
        ("He has no brothers.", number(0), "correct", "no"),
        ("One of them has three brothers.", number(3), "correct", "three"),
        ("Therefore x - y = 2z.", number(2), "incorrect", "2z"),
        ("The area is 4.5*sqrt(2) square units.", number(4.5), "incorrect", "4.5*sqrt(2)"),
    ],
)
def test_numeric(response: str, gold: GoldAnswer, outcome: str, extracted: str) -> None:
    result = grade(parse_grader("grader:numeric"), response, gold)
    assert (result.outcome.value, result.extracted_answer) == (outcome, extracted)


def test_final_answer_overrides_an_earlier_one() -> None:
    text = "The answer is 3.\n\nWait, I made an error: the base is 4.\n\nSo the answer is 6."
    result = grade(AUTO, text, number(6))
    assert (result.outcome, result.extraction_rule, result.extracted_answer) == (
        GradeOutcome.CORRECT,
        "strict:answer_is",
        "6",
    )
    assert grade(AUTO, text, number(3)).outcome is GradeOutcome.INCORRECT


def test_strict_needs_a_marker_and_flexible_takes_the_last_number_of_the_final_paragraph() -> None:
    text = "We add 8 and 4.\n\nI get 12 here, maybe 13"
    assert grade(STRICT, text, number(13)).outcome is GradeOutcome.NO_ANSWER
    flexible = grade(FLEXIBLE, text, number(13))
    assert (flexible.outcome, flexible.extraction_rule) == (GradeOutcome.CORRECT, "flexible:last_number")
    auto = grade(AUTO, text, number(13))
    assert auto.extraction_rule == "flexible:last_number"


def test_bold_final_statement_and_answer_label_are_strict() -> None:
    assert grade(STRICT, "Work...\n\nThe area is **3**", number(3)).extraction_rule == "strict:bold"
    assert grade(STRICT, "Work...\nFinal answer: 38", number(38)).extraction_rule == "strict:answer_label"
    assert grade(STRICT, "Work... 5 + 7\n= 12", number(12)).extraction_rule == "strict:last_line"


def test_an_answer_given_up_front_is_strict_and_a_later_statement_overrides_it() -> None:
    gold = GoldAnswer(type=AnswerType.CHOICE, answer="true", choices=["true", "false", "uncertain"])
    up_front = "False.\n\nOranges sit between apples and bananas, so bananas cannot cost more than both."
    result = grade(AUTO, up_front, gold)
    assert (result.outcome, result.extraction_rule, result.extracted_answer) == (
        GradeOutcome.INCORRECT,
        "strict:first_line",
        "False",
    )
    overridden = "False.\n\nOn reflection bananas cost the most.\n\nTherefore, the statement is true."
    assert grade(AUTO, overridden, gold).extraction_rule == "strict:conclusion"
    work = "f(2) = 4(2)^3 - 9(2) - 14\nf(2) = 16 - 18 - 14\nf(2) = -"
    assert grade(AUTO, work, number(0)).outcome is GradeOutcome.NO_ANSWER


def test_flexible_reads_only_the_final_paragraph() -> None:
    text = "The square root of 0 is undefined.\n\nSo we cannot express x - y in terms of z."
    assert grade(AUTO, text, number(0)).outcome is GradeOutcome.NO_ANSWER
    closing = "The area is 3.\n\nLet me know if you have any other questions!"
    assert grade(FLEXIBLE, closing, number(3)).extracted_answer == "3"


def test_truncated_response_is_no_answer_unless_a_marker_fired() -> None:
    cut = "Let us compute.\n\n= (58/100) * (1 - (45/"
    assert grade(AUTO, cut, number(0.58)).outcome is GradeOutcome.NO_ANSWER
    assert grade(FLEXIBLE, cut, number(0.58)).outcome is GradeOutcome.NO_ANSWER
    marked = "The answer is 19%.\n\nCheck: = (58/100) * (1 - (45/"
    result = grade(AUTO, marked, number(0.19, accept_percent=True))
    assert (result.outcome, result.extraction_rule) == (GradeOutcome.CORRECT, "strict:answer_is")


def test_a_restated_question_is_not_graded_from_its_own_numbers() -> None:
    prompt = "How many integers are in the solution of the inequality |x + 5| < 10"
    echo = "The solution of the inequality |x + 5| < 10 is the set of all real numbers that satisfy it."
    assert grade(AUTO, echo, number(10), prompt=prompt).outcome is GradeOutcome.NO_ANSWER
    answered = "There are 19 integers in the solution of the inequality |x + 5| < 10."
    result = grade(AUTO, answered, number(19), prompt=prompt)
    assert (result.outcome, result.extracted_answer) == (GradeOutcome.CORRECT, "19")
    assert grade(AUTO, prompt, number(10), prompt=prompt).outcome is GradeOutcome.NO_ANSWER


# --- choices, words, parts, exact, regex ---------------------------------------------------------------------------

LETTERS = GoldAnswer(type=AnswerType.CHOICE, answer="B", choices=["A", "B", "C", "D"])


@pytest.mark.parametrize(
    ("response", "outcome", "rule"),
    [
        ("The answer is (B).", "correct", "strict:answer_is"),
        ("The answer is B.", "correct", "strict:answer_is"),
        ("I would pick B) because it fits.", "correct", "flexible:last_option"),
        ("Option (A) is tempting, but option C is right.", "incorrect", "flexible:last_option"),
        ("A careful reading is needed here.", "no_answer", None),
        ("The answer is a bit subtle, so let us look again.", "no_answer", None),
        ("The correct answer is B because it fits.", "correct", "strict:answer_is"),
        ("Final answer: **C**", "incorrect", "strict:answer_label"),
    ],
)
def test_choice_letters(response: str, outcome: str, rule: str | None) -> None:
    result = grade(parse_grader("grader:choice"), response, LETTERS)
    assert (result.outcome.value, result.extraction_rule) == (outcome, rule)


def test_choice_option_texts_from_the_prompt() -> None:
    prompt = "Which one?\na) A cat sleeping on the warm sofa.\nb) A dog chasing the red ball in the park.\n"
    gold = GoldAnswer(type=AnswerType.CHOICE, answer="b", choices=["a", "b"])
    said = "The one to pick is the dog that is chasing a red ball around the park."
    result = grade(AUTO, said, gold, prompt=prompt)
    assert (result.outcome, result.extracted_answer) == (GradeOutcome.CORRECT, "b")
    assert grade(AUTO, said, gold).outcome is GradeOutcome.NO_ANSWER


def test_choice_words_skip_negated_mentions() -> None:
    gold = GoldAnswer(type=AnswerType.CHOICE, answer="true", choices=["true", "false", "uncertain"])
    assert grade(AUTO, "It is not false; the statement is true.", gold).outcome is GradeOutcome.CORRECT
    assert grade(AUTO, "The statement is not true.", gold).outcome is GradeOutcome.NO_ANSWER
    assert grade(AUTO, "Therefore, the third statement is uncertain.", gold).outcome is GradeOutcome.INCORRECT


def test_word_boundaries_case_and_variants() -> None:
    gold = GoldAnswer(type=AnswerType.WORD, answer="west", variants=["westward"])
    assert grade(AUTO, "The shadow points WEST.", gold).outcome is GradeOutcome.CORRECT
    assert grade(AUTO, "It points westward.", gold).outcome is GradeOutcome.CORRECT
    assert grade(AUTO, "It points northwest.", gold).outcome is GradeOutcome.INCORRECT
    assert grade(AUTO, "It does not point west.", gold).outcome is GradeOutcome.INCORRECT
    assert grade(AUTO, "West is not where it points; it points east.", gold).outcome is GradeOutcome.INCORRECT
    names = GoldAnswer(type=AnswerType.WORD, answer="Alice")
    aside = "Therefore, David must be the secretary, since Alice's (who is not the secretary) car is green."
    assert grade(AUTO, aside, names).outcome is GradeOutcome.INCORRECT


def test_word_among_alternatives_the_prompt_lists() -> None:
    prompt = "Which way: east, south, west, or north?"
    gold = GoldAnswer(type=AnswerType.WORD, answer="west")
    text = "The sun rises in the east, so Suresh faces north and the shadow points west."
    result = grade(AUTO, text, gold, prompt=prompt)
    assert (result.outcome, result.extraction_rule) == (GradeOutcome.CORRECT, "flexible:last_option")
    wrong = "Therefore the shadow points east, away from the west."
    assert grade(AUTO, wrong, gold, prompt=prompt).extracted_answer == "east"


def test_all_of_needs_every_part() -> None:
    gold = GoldAnswer(type=AnswerType.ALL_OF, answer=["second", "third"])
    assert grade(AUTO, "You are second; they are third.", gold).outcome is GradeOutcome.CORRECT
    partial = grade(AUTO, "You are first; they are second.", gold)
    assert (partial.outcome, partial.extracted_answer) == (GradeOutcome.INCORRECT, "second")


def test_exact_and_regex() -> None:
    exact = GoldAnswer(type=AnswerType.EXACT, answer="Paris", variants=["Paris, France"])
    assert grade(AUTO, "Answer: **Paris.**", exact).outcome is GradeOutcome.CORRECT
    assert grade(AUTO, "Answer: Paris, France", exact).outcome is GradeOutcome.CORRECT
    assert grade(AUTO, "Answer: Lyon", exact).outcome is GradeOutcome.INCORRECT
    pattern = GoldAnswer(type=AnswerType.REGEX, answer="an ISO date", pattern=r"\b\d{4}-\d{2}-\d{2}\b")
    hit = grade(AUTO, "It happened on\n\n2023-05-01.", pattern)
    assert (hit.outcome, hit.extracted_answer) == (GradeOutcome.CORRECT, "2023-05-01")
    assert grade(AUTO, "It happened in May.", pattern).outcome is GradeOutcome.INCORRECT


# --- specs, validation, versions ---------------------------------------------------------------------------------


def test_parse_grader() -> None:
    assert parse_grader("grader:auto") == GraderSpec(name="auto", rule=None)
    spec = parse_grader("grader:numeric@flexible")
    assert (spec.name, spec.rule, spec.id) == ("numeric", ExtractionRule.FLEXIBLE, "grader:numeric@flexible")
    assert len(spec.version) == 12 and spec.version == code_version() == parse_grader("grader:auto").version
    assert set(KNOWN_GRADERS) == set(ACCEPTED_TYPES)
    assert set(KNOWN_ANSWER_TYPES) == {t.value for t in AnswerType}


@pytest.mark.parametrize(
    ("spec", "listed"),
    [("grader:magic", "auto, numeric"), ("grader:auto@loose", "strict, flexible"), ("auto", "grader:NAME")],
)
def test_parse_grader_refuses_unknown_names_with_the_known_ones(spec: str, listed: str) -> None:
    with pytest.raises(InputError) as error:
        parse_grader(spec)
    assert listed in str(error.value)


def test_a_grader_refuses_a_gold_type_it_cannot_grade() -> None:
    with pytest.raises(InputError, match="grader:numeric cannot grade a word answer"):
        grade(parse_grader("grader:numeric"), "west", GoldAnswer(type=AnswerType.WORD, answer="west"))


@pytest.mark.parametrize(
    "fields",
    [
        {"type": "number", "answer": "many"},
        {"type": "number", "answer": 0.9722, "accept_fraction": "34/36", "tolerance": 0.001},
        {"type": "number", "answer": 1, "tolerance": -1},
        {"type": "choice", "answer": "e", "choices": ["a", "b"]},
        {"type": "all_of", "answer": []},
        {"type": "regex", "answer": "x", "pattern": "(unclosed"},
        {"type": "word", "answer": "west", "pattern": "w"},
        {"type": "ratio", "answer": 1},
    ],
)
def test_gold_answer_validation(fields: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        GoldAnswer.model_validate(fields)


def test_the_shared_gold_file_validates_with_its_fraction_text() -> None:
    assert GOLD[114].accept_fraction == "35/36" and GOLD[114].number_matches(35 / 36)
    assert len(GOLD) == 17


# --- never a guess -------------------------------------------------------------------------------------------------

_GOLDS = [number(3), number(0.19, accept_percent=True), LETTERS, GOLD[105], GOLD[101], GOLD[106]]


@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=300), which=st.integers(min_value=0, max_value=len(_GOLDS) - 1))
def test_grading_never_raises_and_no_answer_means_nothing_extracted(text: str, which: int) -> None:
    for spec in (AUTO, STRICT, FLEXIBLE):
        result = grade(spec, text, _GOLDS[which], prompt="What is it?")
        assert (result.outcome is GradeOutcome.NO_ANSWER) == (result.extracted_answer is None)
        assert (result.span is None) == (result.extraction_rule is None) == (result.extracted_answer is None)
        if result.span is not None:
            assert 0 <= result.span[0] <= result.span[1] <= len(text)
        assert grade(spec, text, _GOLDS[which], prompt="What is it?") == result


@settings(max_examples=300, deadline=None)
@given(text=st.text(alphabet=st.characters(exclude_categories=["Nd"]), max_size=200))
def test_text_without_digits_or_number_words_is_never_a_number(text: str) -> None:
    result = grade(AUTO, text, number(3))
    if not any(word in text.lower() for word in ("three", "no ")):
        assert result.outcome is not GradeOutcome.CORRECT


@settings(max_examples=200, deadline=None)
@given(value=st.integers(min_value=-10_000, max_value=10_000), filler=st.sampled_from(["", "Hmm. ", "Step 1.\n\n"]))
def test_a_correct_number_is_in_the_extracted_span(value: int, filler: str) -> None:
    text = f"{filler}So the result is {value}."
    result = grade(AUTO, text, number(value))
    assert result.outcome is GradeOutcome.CORRECT and result.span is not None
    assert parse_number_text(text[result.span[0] : result.span[1]]) == value
    assert grade(AUTO, text, number(value + 1)).outcome is GradeOutcome.INCORRECT


def test_empty_and_answerless_responses_are_no_answer() -> None:
    abstentions = ("I am not sure how to approach this.", "This cannot be determined from the passage.")
    for text in ("", "   \n\n ", "Let me know if you have any questions!", *abstentions):
        for gold in _GOLDS:
            assert grade(AUTO, text, gold).outcome is GradeOutcome.NO_ANSWER


def test_long_and_odd_responses_grade_without_error() -> None:
    padded = " " * 20_000 + "Therefore, the answer is 3."
    assert grade(AUTO, padded, number(3)).outcome is GradeOutcome.CORRECT
    for text in ("(" * 5_000 + "3", "**" * 5_000, "1," * 5_000, "one two three " * 1_000, "a) b) c) " * 1_000):
        for gold in _GOLDS:
            result = grade(AUTO, text, gold, prompt="Which way: east, south, west, or north?")
            assert (result.outcome is GradeOutcome.NO_ANSWER) == (result.extracted_answer is None)
