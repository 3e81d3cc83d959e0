"""Audit of preferences against reference-graded correctness: are winners actually correct?

Inputs: preference votes (human or judge), a correctness grade for each response (prompt_id, model, turn)
from any correctness source (an LLM grader, a deterministic grader, imported labels), and the response texts.
Votes whose two responses are not both graded are left out (``n_ungraded``). *Not correct* below means
``incorrect`` or ``no_answer`` (nothing extractable); ``partially_correct`` is neither.

- preferred but wrong (strict): among decisive votes where one response is ``correct`` and the other not
  correct, the share won by the not-correct one. ``partially_correct`` responses are excluded here.
- by model: for each model, among those strict votes where *its* response was the not-correct one, the share it
  still won. By category and by voter: the strict figure within each category / each voter's votes.
- preferred less correct (ordinal, partial included): with not correct < partially_correct < correct, among
  decisive votes whose two grades differ, the share won by the less correct response.
- both incorrect yet preferred: among all votes (ties included) where both responses are not correct, the share
  that nevertheless picked a winner (``count``: the decisive votes that fell between two wrong answers).
- ties by correctness: for each kind of pair (both correct, correct vs not correct, both not correct, partial
  involved), the share of its votes that were ties.
- style: :func:`judge.metrics.style_effect.style_effect` over every decisive vote with both texts known.
- examples: the most glaring strict preferred-but-wrong cases, one per (unit, wrong winner), ranked by votes
  for the wrong response minus votes for the correct one on that unit, then by votes for the wrong one.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from judge.core.types import Correctness, Frozen, PairVote
from judge.metrics.intervals import Proportion, proportion
from judge.metrics.style import StyleFunction, style_features
from judge.metrics.style_effect import StyleEffect, style_effect
from judge.metrics.units import UNCATEGORIZED, ResponseKey, UnitKey, canonical_winner_model, unit_key

RANK = {Correctness.INCORRECT: 0, Correctness.NO_ANSWER: 0, Correctness.PARTIALLY_CORRECT: 1, Correctness.CORRECT: 2}
NOT_CORRECT = frozenset({Correctness.INCORRECT, Correctness.NO_ANSWER})
PAIR_KINDS = ("both_correct", "correct_vs_not_correct", "both_not_correct", "partial_involved")


class CorrectnessGrade(Frozen):
    """A response's correctness, the grader's reason, and (deterministic graders) the extracted answer and rule."""

    label: Correctness
    reason: str = ""
    extracted_answer: str | None = None
    extraction_rule: str | None = None


def pair_kind(a: Correctness, b: Correctness) -> str:
    """Which of :data:`PAIR_KINDS` a pair of grades is."""
    if Correctness.PARTIALLY_CORRECT in (a, b):
        return "partial_involved"
    correct = (a is Correctness.CORRECT) + (b is Correctness.CORRECT)
    return ("both_not_correct", "correct_vs_not_correct", "both_correct")[correct]


class AuditExample(Frozen):
    """One preferred-but-wrong case with shortened texts and both grades."""

    prompt_id: str
    turn: int
    category: str | None
    prompt: str | None
    winner_model: str
    loser_model: str
    winner_text: str | None
    loser_text: str | None
    winner_grade: CorrectnessGrade
    loser_grade: CorrectnessGrade
    voters_for_wrong: tuple[str, ...]
    voters_for_correct: tuple[str, ...]


class AuditReport(Frozen):
    """Correctness audit of a set of preferences (definitions in the module docstring)."""

    preferred_but_wrong: Proportion
    preferred_but_wrong_by_model: dict[str, Proportion]
    preferred_but_wrong_by_category: dict[str, Proportion]
    preferred_but_wrong_by_voter: dict[str, Proportion]
    preferred_less_correct: Proportion
    both_incorrect_preferred: Proportion
    ties_by_correctness: dict[str, Proportion]
    style: StyleEffect
    examples: tuple[AuditExample, ...]
    n_votes: int
    n_ungraded: int

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


def shorten(text: str, limit: int = 300) -> str:
    """Whitespace-collapsed text of at most ``limit`` characters: head and tail joined by `` … ``."""
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    keep = max(limit - 3, 2)
    head = (keep * 2) // 3
    return f"{flat[:head]} … {flat[len(flat) - (keep - head) :]}"


class _GradedVote(Frozen):
    vote: PairVote
    winner: str | None
    grade_a: CorrectnessGrade
    grade_b: CorrectnessGrade

    def other(self, model: str) -> str:
        return self.vote.model_b if model == self.vote.model_a else self.vote.model_a

    def grade_of(self, model: str) -> CorrectnessGrade:
        return self.grade_a if model == self.vote.model_a else self.grade_b

    @property
    def strict(self) -> bool:
        return self.winner is not None and pair_kind(self.grade_a.label, self.grade_b.label) == "correct_vs_not_correct"

    @property
    def wrong_won(self) -> bool:
        return self.winner is not None and self.grade_of(self.winner).label in NOT_CORRECT


def _graded(votes: Sequence[PairVote], grades: Mapping[ResponseKey, CorrectnessGrade]) -> list[_GradedVote]:
    graded = []
    for vote in votes:
        key_a = (vote.prompt_id, vote.model_a, vote.turn)
        key_b = (vote.prompt_id, vote.model_b, vote.turn)
        if key_a in grades and key_b in grades:
            winner = canonical_winner_model(vote)
            graded.append(_GradedVote(vote=vote, winner=winner, grade_a=grades[key_a], grade_b=grades[key_b]))
    return graded


def _grouped_rates(groups: Mapping[str, list[bool]], confidence: float) -> dict[str, Proportion]:
    return {name: proportion(sum(flags), len(flags), confidence) for name, flags in sorted(groups.items())}


def _examples(
    graded: list[_GradedVote],
    texts: Mapping[ResponseKey, str],
    prompts: Mapping[tuple[str, int], str],
    n_examples: int,
    limit: int,
) -> tuple[AuditExample, ...]:
    votes_by_unit: dict[UnitKey, list[_GradedVote]] = defaultdict(list)
    for item in graded:
        votes_by_unit[unit_key(item.vote)].append(item)
    cases: list[tuple[int, int, str, AuditExample]] = []
    for unit, items in votes_by_unit.items():
        wrong_winners = {i.winner for i in items if i.strict and i.wrong_won and i.winner is not None}
        for wrong in sorted(wrong_winners):
            for_wrong = tuple(i.vote.voter for i in items if i.winner == wrong)
            first = next(i for i in items if i.winner == wrong)
            right = first.other(wrong)
            for_right = tuple(i.vote.voter for i in items if i.winner == right)
            turn = first.vote.turn
            wrong_text = texts.get((unit.prompt_id, wrong, turn))
            right_text = texts.get((unit.prompt_id, right, turn))
            prompt = prompts.get((unit.prompt_id, turn))
            example = AuditExample(
                prompt_id=unit.prompt_id,
                turn=turn,
                category=first.vote.category,
                prompt=None if prompt is None else shorten(prompt, limit),
                winner_model=wrong,
                loser_model=right,
                winner_text=None if wrong_text is None else shorten(wrong_text, limit),
                loser_text=None if right_text is None else shorten(right_text, limit),
                winner_grade=first.grade_of(wrong),
                loser_grade=first.grade_of(right),
                voters_for_wrong=for_wrong,
                voters_for_correct=for_right,
            )
            cases.append((len(for_wrong) - len(for_right), len(for_wrong), unit.label, example))
    cases.sort(key=lambda case: (-case[0], -case[1], case[2]))
    return tuple(case[3] for case in cases[:n_examples])


def audit_preferences(
    votes: Sequence[PairVote],
    grades: Mapping[ResponseKey, CorrectnessGrade],
    texts: Mapping[ResponseKey, str],
    prompts: Mapping[tuple[str, int], str] | None = None,
    *,
    n_examples: int = 5,
    shorten_to: int = 300,
    featurize: StyleFunction = style_features,
    confidence: float = 0.95,
) -> AuditReport:
    """Audit ``votes`` against ``grades`` (module docstring); ``prompts`` maps (prompt_id, turn) to text."""
    graded = _graded(votes, grades)
    strict = [g for g in graded if g.strict]
    by_model: dict[str, list[bool]] = defaultdict(list)
    by_category: dict[str, list[bool]] = defaultdict(list)
    by_voter: dict[str, list[bool]] = defaultdict(list)
    for item in strict:
        wrong_model = item.vote.model_a if item.grade_a.label in NOT_CORRECT else item.vote.model_b
        by_model[wrong_model].append(item.wrong_won)
        by_category[item.vote.category or UNCATEGORIZED].append(item.wrong_won)
        by_voter[item.vote.voter].append(item.wrong_won)
    ties: dict[str, list[bool]] = {kind: [] for kind in PAIR_KINDS}
    for item in graded:
        ties[pair_kind(item.grade_a.label, item.grade_b.label)].append(item.winner is None)
    ordinal = [g for g in graded if g.winner is not None and RANK[g.grade_a.label] != RANK[g.grade_b.label]]
    less_correct_won = sum(
        g.winner is not None and RANK[g.grade_of(g.winner).label] < RANK[g.grade_of(g.other(g.winner)).label]
        for g in ordinal
    )
    both_wrong = [g for g in graded if g.grade_a.label in NOT_CORRECT and g.grade_b.label in NOT_CORRECT]
    return AuditReport(
        preferred_but_wrong=proportion(sum(g.wrong_won for g in strict), len(strict), confidence),
        preferred_but_wrong_by_model=_grouped_rates(by_model, confidence),
        preferred_but_wrong_by_category=_grouped_rates(by_category, confidence),
        preferred_but_wrong_by_voter=_grouped_rates(by_voter, confidence),
        preferred_less_correct=proportion(less_correct_won, len(ordinal), confidence),
        both_incorrect_preferred=proportion(sum(g.winner is not None for g in both_wrong), len(both_wrong), confidence),
        ties_by_correctness={kind: proportion(sum(flags), len(flags), confidence) for kind, flags in ties.items()},
        style=style_effect(votes, texts, featurize=featurize, confidence=confidence),
        examples=_examples(graded, texts, prompts or {}, n_examples, shorten_to),
        n_votes=len(votes),
        n_ungraded=len(votes) - len(graded),
    )
