"""Agreement of two correctness sources on the same responses: how a grader is validated.

Both sources grade response turns (prompt_id, model, turn); only the turns both graded are compared. Source a is
the reference (e.g. the deterministic grader where gold exists), source b the one being validated.

- accuracy: share of shared turns where b gives a's label (four labels: correct, partially_correct, incorrect,
  no_answer), with its Wilson CI; Cohen's kappa over the four labels (asymptotic CI); the confusion matrix.
- binary: the same on correct vs not correct (partially_correct counts as not correct), the figure a
  correctness-aware leaderboard depends on.
- by category: accuracy and kappa within each category.
- per model: each model's accuracy (share of its turns graded correct) under a and under b, and the move
  b - a in points: how much a model's score depends on the grader (or on the extraction rule).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from judge.core.types import Correctness, Frozen
from judge.metrics.audit import CorrectnessGrade
from judge.metrics.intervals import NO_DATA, Proportion, proportion, z_for
from judge.metrics.kappa import Kappa, confusion_json, kappa_standard_error, kappa_value
from judge.metrics.units import UNCATEGORIZED, ResponseKey

LABELS: tuple[Correctness, ...] = (
    Correctness.CORRECT,
    Correctness.PARTIALLY_CORRECT,
    Correctness.INCORRECT,
    Correctness.NO_ANSWER,
)


class LabelConfusion(Frozen):
    """Counts of (a's label, b's label) over LABELS; rows = source a."""

    labels: tuple[str, ...] = tuple(label.value for label in LABELS)
    counts: tuple[tuple[int, ...], ...]

    def to_json(self) -> dict[str, Any]:
        return confusion_json(self.labels, self.counts)


class AgreementBlock(Frozen):
    """Accuracy (b matches a) and Cohen's kappa over some shared turns."""

    accuracy: Proportion
    kappa: Kappa


class ModelShift(Frozen):
    """A model's accuracy under each source and how much it moves from a to b (in points, None without data)."""

    a: Proportion
    b: Proportion
    shift_points: float | None


class Disagreement(Frozen):
    """One turn the two sources grade differently."""

    prompt_id: str
    model: str
    turn: int
    category: str | None
    label_a: Correctness
    label_b: Correctness
    extracted_a: str | None
    extracted_b: str | None
    rule_a: str | None
    rule_b: str | None


class GraderAgreement(Frozen):
    """Agreement of two correctness sources (module docstring)."""

    n_a: int
    n_b: int
    n_shared: int
    all: AgreementBlock
    binary: AgreementBlock
    confusion: LabelConfusion
    by_category: dict[str, AgreementBlock]
    by_model: dict[str, ModelShift]
    n_disagree: int
    disagreements: tuple[Disagreement, ...]

    def to_json(self) -> dict[str, Any]:
        out = self.model_dump(mode="json")
        out["confusion"] = self.confusion.to_json()
        return out


def _kappa(pairs: Sequence[tuple[int, int]], size: int, confidence: float) -> Kappa:
    counts = np.zeros((size, size), dtype=np.float64)
    for i, j in pairs:
        counts[i, j] += 1
    n = len(pairs)
    value = kappa_value(counts)
    if n == 0:
        return Kappa(value=None, n=0, ci_low=None, ci_high=None, confidence=confidence, note=NO_DATA)
    if value is None:
        note = "kappa undefined: both sources always give the same single label"
        return Kappa(value=None, n=n, ci_low=None, ci_high=None, confidence=confidence, note=note)
    half = z_for(confidence) * kappa_standard_error(counts)
    return Kappa(
        value=value, n=n, ci_low=max(-1.0, value - half), ci_high=min(1.0, value + half), confidence=confidence
    )


def _block(pairs: Sequence[tuple[Correctness, Correctness]], confidence: float, binary: bool) -> AgreementBlock:
    if binary:
        index = [(int(a is not Correctness.CORRECT), int(b is not Correctness.CORRECT)) for a, b in pairs]
        size = 2
    else:
        position = {label: i for i, label in enumerate(LABELS)}
        index = [(position[a], position[b]) for a, b in pairs]
        size = len(LABELS)
    agree = sum(i == j for i, j in index)
    return AgreementBlock(accuracy=proportion(agree, len(index), confidence), kappa=_kappa(index, size, confidence))


def _points(a: Proportion, b: Proportion) -> float | None:
    if a.rate is None or b.rate is None:
        return None
    return round((b.rate - a.rate) * 100.0, 6)


def grader_agreement(
    grades_a: Mapping[ResponseKey, CorrectnessGrade],
    grades_b: Mapping[ResponseKey, CorrectnessGrade],
    categories: Mapping[str, str | None],
    *,
    n_examples: int = 10,
    confidence: float = 0.95,
) -> GraderAgreement:
    """Compare two sources' grades on the turns both graded; ``categories`` maps prompt_id to its category."""
    shared = sorted(set(grades_a) & set(grades_b))
    pairs = [(grades_a[k].label, grades_b[k].label) for k in shared]
    position = {label: i for i, label in enumerate(LABELS)}
    matrix = [[0] * len(LABELS) for _ in LABELS]
    for a, b in pairs:
        matrix[position[a]][position[b]] += 1
    by_category: dict[str, list[tuple[Correctness, Correctness]]] = defaultdict(list)
    correct_a: dict[str, list[bool]] = defaultdict(list)
    correct_b: dict[str, list[bool]] = defaultdict(list)
    disagreements: list[Disagreement] = []
    for key, (a, b) in zip(shared, pairs, strict=True):
        prompt_id, model, turn = key
        category = categories.get(prompt_id)
        by_category[category or UNCATEGORIZED].append((a, b))
        correct_a[model].append(a is Correctness.CORRECT)
        correct_b[model].append(b is Correctness.CORRECT)
        if a is not b:
            disagreements.append(
                Disagreement(
                    prompt_id=prompt_id,
                    model=model,
                    turn=turn,
                    category=category,
                    label_a=a,
                    label_b=b,
                    extracted_a=grades_a[key].extracted_answer,
                    extracted_b=grades_b[key].extracted_answer,
                    rule_a=grades_a[key].extraction_rule,
                    rule_b=grades_b[key].extraction_rule,
                )
            )
    by_model = {}
    for model in sorted(correct_a):
        pa = proportion(sum(correct_a[model]), len(correct_a[model]), confidence)
        pb = proportion(sum(correct_b[model]), len(correct_b[model]), confidence)
        by_model[model] = ModelShift(a=pa, b=pb, shift_points=_points(pa, pb))
    return GraderAgreement(
        n_a=len(grades_a),
        n_b=len(grades_b),
        n_shared=len(shared),
        all=_block(pairs, confidence, binary=False),
        binary=_block(pairs, confidence, binary=True),
        confusion=LabelConfusion(counts=tuple(tuple(row) for row in matrix)),
        by_category={name: _block(group, confidence, binary=False) for name, group in sorted(by_category.items())},
        by_model=by_model,
        n_disagree=len(disagreements),
        disagreements=tuple(disagreements[:n_examples]),
    )
