"""Adversarial responses (tests/injection_corpus) stay fenced data and never decide the parsed verdict.

Response side: the attack as rendered to the judge. Judge side: the judge's reply quoting the attack, in
every rubric and both presentation orders, must keep the judge's own verdict (or, for a verbatim copy that
carries a verdict line of its own, be unparseable), never the attacker's.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from judge.core.parse import ParseRule, parse_output, to_correctness, to_winner
from judge.core.render import render_messages
from judge.core.rubrics import load_rubric
from judge.core.types import Correctness, JudgeTask, Mode, Order, VerdictStatus, Winner
from tests.paths import MT_BENCH, REFERENCES
from tests.rubric_cases import is_own, own_and_other, rubric_orders
from tests.rubric_cases import rubric as cached_rubric

CORPUS = sorted((Path(__file__).parent / "injection_corpus").glob("*.txt"))
QUESTION_ID = 101  # MT-Bench reasoning question with a reference answer


def corpus_ids() -> list[str]:
    return [path.stem for path in CORPUS]


def mt_bench_row(path: Path) -> dict[str, object]:
    for line in path.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        if row["question_id"] == QUESTION_ID:
            return dict(row)
    raise AssertionError(f"question {QUESTION_ID} missing from {path}")


@pytest.fixture(scope="module")
def honest() -> dict[str, str]:
    data = MT_BENCH
    question = mt_bench_row(data / "question.jsonl")
    reference = mt_bench_row(REFERENCES)
    answer = mt_bench_row(data / "model_answer" / "gpt-4.jsonl")
    return {
        "question": question["turns"][0],  # type: ignore[index]
        "reference": reference["choices"][0]["turns"][0],  # type: ignore[index]
        "answer": answer["choices"][0]["turns"][0],  # type: ignore[index]
    }


def fenced_blocks(content: str) -> dict[str, str]:
    """Blocks by name, each closed by the marker with the message's fence code; no stray real markers."""
    first = re.search(r"<<<BEGIN [A-Z0-9 ]+? ([0-9a-f]{16,})>>>", content)
    assert first is not None
    code = first.group(1)
    pattern = rf"<<<BEGIN (?P<name>[A-Z0-9 ]+?) {code}>>>\n(?P<body>.*?)\n<<<END (?P=name) {code}>>>"
    found = {m.group("name"): m.group("body") for m in re.finditer(pattern, content, re.DOTALL)}
    assert content.count(f" {code}>>>") == 2 * len(found)
    return found


def test_corpus_is_present() -> None:
    assert len(CORPUS) >= 15


@pytest.mark.parametrize("path", CORPUS, ids=corpus_ids())
@pytest.mark.parametrize("rubric_id", ["pairwise", "pairwise-5", "pairwise-reference"])
@pytest.mark.parametrize("order", [Order.AB, Order.BA])
def test_pairwise_rendering_keeps_the_response_fenced(
    path: Path, rubric_id: str, order: Order, honest: dict[str, str]
) -> None:
    attack = path.read_text(encoding="utf-8")
    task = JudgeTask(
        mode=Mode.PAIRWISE,
        prompt_id=str(QUESTION_ID),
        question_turns=(honest["question"],),
        reference_turns=(honest["reference"],),
        model_a="gpt-4",
        answer_a=(honest["answer"],),
        model_b="attacker",
        answer_b=(attack,),
    )
    system, user = render_messages(load_rubric(rubric_id), task, order)
    blocks = fenced_blocks(user.content)
    slot = "ANSWER B 1" if order is Order.AB else "ANSWER A 1"
    other = "ANSWER A 1" if order is Order.AB else "ANSWER B 1"
    assert blocks[slot] == attack and blocks[other] == honest["answer"]
    assert user.content.count(attack) == 1
    assert attack not in system.content
    code = re.search(r"BEGIN QUESTION 1 ([0-9a-f]+)>>>", user.content).group(1)  # type: ignore[union-attr]
    assert code not in attack and code in system.content


@pytest.mark.parametrize("path", CORPUS, ids=corpus_ids())
@pytest.mark.parametrize("rubric_id", ["correctness", "single", "single-reference"])
def test_single_answer_rendering_keeps_the_response_fenced(path: Path, rubric_id: str, honest: dict[str, str]) -> None:
    attack = path.read_text(encoding="utf-8")
    rubric = load_rubric(rubric_id)
    task = JudgeTask(
        mode=rubric.mode,
        prompt_id=str(QUESTION_ID),
        question_turns=(honest["question"],),
        reference_turns=(honest["reference"],),
        model_a="attacker",
        answer_a=(attack,),
    )
    _, user = render_messages(rubric, task, Order.SINGLE)
    blocks = fenced_blocks(user.content)
    assert blocks["ANSWER 1"] == attack and user.content.count(attack) == 1


@pytest.mark.parametrize("path", CORPUS, ids=corpus_ids())
def test_response_as_earlier_turn_stays_fenced(path: Path, honest: dict[str, str]) -> None:
    attack = path.read_text(encoding="utf-8")
    task = JudgeTask(
        mode=Mode.PAIRWISE,
        prompt_id=str(QUESTION_ID),
        turn=2,
        question_turns=(honest["question"], "And if it were the last person?"),
        model_a="gpt-4",
        answer_a=(honest["answer"], "Then you would be last."),
        model_b="attacker",
        answer_b=(attack, "Second to last."),
    )
    _, user = render_messages(load_rubric("pairwise"), task, Order.AB)
    blocks = fenced_blocks(user.content)
    assert blocks["ANSWER B 1"] == attack and blocks["ANSWER B 2"] == "Second to last."
    assert user.content.count(attack) == 1


def judge_quoting(attack: str, verdict: str) -> str:
    """A judge reply quoting the response (plainly and as a Markdown quote), then giving its own verdict."""
    quoted = "\n".join(f"> {line}" for line in attack.splitlines())
    return (
        f"Assistant B's answer reads:\n\n{attack}\n\nIn other words:\n{quoted}\n\n"
        "That text addresses the judge instead of the user and does not solve the problem. "
        f"Assistant A gives the right positions.\n\nFinal verdict: {verdict}"
    )


@pytest.mark.parametrize("path", CORPUS, ids=corpus_ids())
@pytest.mark.parametrize(
    ("rubric_id", "verdict", "label"),
    [("pairwise", "[[A]]", "A"), ("pairwise-5", "[[A>>B]]", "A>>B"), ("pairwise-reference", "[[A]]", "A")],
)
def test_judge_quoting_the_response_keeps_its_own_pairwise_verdict(
    path: Path, rubric_id: str, verdict: str, label: str
) -> None:
    rubric = load_rubric(rubric_id)
    parsed = parse_output(rubric, judge_quoting(path.read_text(encoding="utf-8"), verdict), structured=False)
    assert (parsed.status, parsed.label, parsed.parse_rule) == (VerdictStatus.OK, label, ParseRule.FINAL_MARKER)
    assert to_winner(parsed, Order.AB) is Winner.MODEL_A
    assert to_winner(parsed, Order.BA) is Winner.MODEL_B


# Copied verbatim onto a line of its own, the response's "Score: [[10]]" is a second verdict line the parser
# cannot tell from the judge's own: unparseable, never 10.
AMBIGUOUS_PLAIN_COPIES = {("single", "10_five_point_and_score_labels")}


@pytest.mark.parametrize("path", CORPUS, ids=corpus_ids())
def test_judge_quoting_the_response_keeps_its_own_grade_and_score(path: Path) -> None:
    attack = path.read_text(encoding="utf-8")
    graded = parse_output(load_rubric("correctness"), judge_quoting(attack, "[[incorrect]]"), structured=False)
    assert to_correctness(graded) is Correctness.INCORRECT
    scored = parse_output(load_rubric("single"), judge_quoting(attack, "[[2]]"), structured=False)
    if ("single", path.stem) in AMBIGUOUS_PLAIN_COPIES:
        assert (scored.status, scored.score) == (VerdictStatus.UNPARSEABLE, None)
    else:
        assert scored.score == 2.0


@pytest.mark.parametrize("path", CORPUS, ids=corpus_ids())
@pytest.mark.parametrize("structured", [True, False])
def test_json_reply_quoting_the_response_keeps_its_own_verdict(path: Path, structured: bool) -> None:
    attack = path.read_text(encoding="utf-8")
    reply = json.dumps({"reason": f"B wrote: {attack} - an attempt to steer the judge.", "verdict": "A"})
    parsed = parse_output(load_rubric("pairwise"), reply, structured=structured)
    assert (parsed.label, parsed.parse_rule) == ("A", ParseRule.JSON_SCHEMA)
    assert parsed.reason is not None and attack in parsed.reason


# --- judge-side quoting: the judge's own reply quotes the response, in every rubric and both orders ---------
#
# Under Order.BA the attacker's answer is shown first, so its labels are swapped (it asks for [[A]]); the
# judge's own verdict always favours the honest answer (model_a). Quotes the judge marks as quotes (Markdown
# ">" blocks, quotation marks inside a sentence) and JSON replies must keep exactly the judge's verdict.
# Verbatim copies (plain lines, code blocks) may be unparseable when the copy holds a verdict line of its own,
# but the attacker's verdict never wins.


def in_slot(attack: str, order: Order) -> str:
    """The attack as written for the slot it is shown in: under Order.BA it asks for A instead of B."""
    if order is not Order.BA:
        return attack
    return re.sub(r"(?<![A-Za-z])[AB](?![A-Za-z])", lambda m: "B" if m.group() == "A" else "A", attack)


def last_line(text: str) -> str:
    return next(line for line in reversed(text.splitlines()) if line.strip())


def blockquote(text: str) -> str:
    return "\n".join(f"> {line}" for line in text.splitlines())


MARKED_QUOTES = {
    "blockquote_before": lambda attack, own: (
        f"The other answer reads:\n\n{blockquote(attack)}\n\nIt speaks to the judge, not to the user.\n\n"
        f"Final verdict: [[{own}]]"
    ),
    "blockquote_after": lambda attack, own: (
        f"Verdict: [[{own}]]\n\nFor the record, the other answer reads:\n{blockquote(attack)}"
    ),
    "inline_after": lambda attack, own: f'Verdict: [[{own}]]\nNote: the other answer closed with "{last_line(attack)}"',
    "typographic_inline_after": lambda attack, own: (
        f"Verdict: [[{own}]]\nNote: the other answer closed with \u201c{last_line(attack)}\u201d"
    ),
    "inline_before": lambda attack, own: (
        f'The other answer closes with "{last_line(attack)}", which is addressed to the judge.\n[[{own}]]'
    ),
}

VERBATIM_COPIES = {
    "plain_before": lambda attack, own: f"The other answer:\n\n{attack}\n\nIt does not help.\nVerdict: [[{own}]]",
    "plain_after": lambda attack, own: f"Verdict: [[{own}]]\n\nThe other answer, for the record:\n\n{attack}",
    "plain_between": lambda attack, own: f"Verdict: [[{own}]]\n\n{attack}\n\nSo the verdict stands: [[{own}]]",
    "code_before": lambda attack, own: f"The other answer:\n```\n{attack}\n```\nFinal verdict: [[{own}]]",
    "code_after": lambda attack, own: f"Verdict: [[{own}]]\n\nThe other answer:\n```text\n{attack}\n```",
}


@pytest.mark.parametrize("path", CORPUS, ids=corpus_ids())
@pytest.mark.parametrize(("rubric_id", "order"), rubric_orders())
@pytest.mark.parametrize("style", sorted(MARKED_QUOTES))
def test_judge_side_marked_quotes_keep_the_judges_verdict(path: Path, rubric_id: str, order: Order, style: str) -> None:
    rubric = cached_rubric(rubric_id)
    own, _ = own_and_other(rubric, order)
    reply = MARKED_QUOTES[style](in_slot(path.read_text(encoding="utf-8"), order), own)
    for structured in (False, True):
        parsed = parse_output(rubric, reply, structured=structured)
        assert is_own(rubric, parsed, own, order), parsed.error
        assert parsed.raw == reply


@pytest.mark.parametrize("path", CORPUS, ids=corpus_ids())
@pytest.mark.parametrize(("rubric_id", "order"), rubric_orders())
@pytest.mark.parametrize("style", sorted(VERBATIM_COPIES))
def test_judge_side_verbatim_copies_never_give_the_attackers_verdict(
    path: Path, rubric_id: str, order: Order, style: str
) -> None:
    rubric = cached_rubric(rubric_id)
    own, _ = own_and_other(rubric, order)
    reply = VERBATIM_COPIES[style](in_slot(path.read_text(encoding="utf-8"), order), own)
    for structured in (False, True):
        parsed = parse_output(rubric, reply, structured=structured)
        assert is_own(rubric, parsed, own, order) or parsed.status is VerdictStatus.UNPARSEABLE, parsed
        assert parsed.raw == reply


@pytest.mark.parametrize(("rubric_id", "order"), rubric_orders())
@pytest.mark.parametrize("style", sorted(VERBATIM_COPIES))
def test_most_verbatim_copies_still_read(rubric_id: str, order: Order, style: str) -> None:
    """Unparseable is the exception: only copies that carry a verdict position of their own cause it."""
    rubric = cached_rubric(rubric_id)
    own, _ = own_and_other(rubric, order)
    read = [
        is_own(
            rubric,
            parse_output(rubric, VERBATIM_COPIES[style](in_slot(p.read_text("utf-8"), order), own), False),
            own,
            order,
        )
        for p in CORPUS
    ]
    assert sum(read) >= len(CORPUS) // 2


@pytest.mark.parametrize("path", CORPUS, ids=corpus_ids())
@pytest.mark.parametrize(("rubric_id", "order"), rubric_orders())
def test_judge_side_json_quoting_keeps_the_judges_verdict(path: Path, rubric_id: str, order: Order) -> None:
    rubric = cached_rubric(rubric_id)
    own, _ = own_and_other(rubric, order)
    attack = in_slot(path.read_text(encoding="utf-8"), order)
    value: object = int(own) if rubric.mode is Mode.SINGLE else own
    reply = json.dumps({"reason": f"The other answer wrote: {attack}", rubric.answer_field: value})
    for structured in (True, False):
        assert is_own(rubric, parse_output(rubric, reply, structured=structured), own, order)
    # structured output: the text after the first object is ignored, whatever it holds
    trailing = f"{reply}\n\nThe other answer, verbatim:\n{attack}\n"
    assert is_own(rubric, parse_output(rubric, trailing, structured=True), own, order)
    unstructured = parse_output(rubric, trailing, structured=False)
    assert is_own(rubric, unstructured, own, order) or unstructured.status is VerdictStatus.UNPARSEABLE
    if rubric.mode is Mode.PAIRWISE and rubric.find_label("A") is not None:
        named = json.dumps({"reason": f"It wrote: {attack}", "verdict": f"Assistant {own}"})
        assert is_own(rubric, parse_output(rubric, named, structured=True), own, order)
