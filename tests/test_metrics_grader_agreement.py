"""Agreement of two correctness sources on a hand-built set with known accuracy, kappa and per-model shifts."""

from __future__ import annotations

import pytest

from judge.core.types import Correctness
from judge.metrics.audit import CorrectnessGrade
from judge.metrics.grader_agreement import grader_agreement

OK, PART, WRONG, NONE = (
    Correctness.CORRECT,
    Correctness.PARTIALLY_CORRECT,
    Correctness.INCORRECT,
    Correctness.NO_ANSWER,
)


def grades(labels: dict[tuple[str, str], Correctness]) -> dict[tuple[str, str, int], CorrectnessGrade]:
    return {(p, m, 1): CorrectnessGrade(label=label, extracted_answer=f"{p}{m}") for (p, m), label in labels.items()}


# a (reference) vs b on 8 shared turns: 6 agree; b misses m1/p3 (a: correct, b: no_answer) and calls m2/p4
# correct where a says incorrect. p9 is graded by a only.
A = grades(
    {
        ("p1", "m1"): OK,
        ("p2", "m1"): OK,
        ("p3", "m1"): OK,
        ("p4", "m1"): WRONG,
        ("p1", "m2"): OK,
        ("p2", "m2"): WRONG,
        ("p3", "m2"): WRONG,
        ("p4", "m2"): WRONG,
        ("p9", "m2"): OK,
    }
)
B = grades(
    {
        ("p1", "m1"): OK,
        ("p2", "m1"): OK,
        ("p3", "m1"): NONE,
        ("p4", "m1"): WRONG,
        ("p1", "m2"): OK,
        ("p2", "m2"): WRONG,
        ("p3", "m2"): WRONG,
        ("p4", "m2"): OK,
    }
)
CATEGORIES = {"p1": "math", "p2": "math", "p3": "reasoning", "p4": "reasoning", "p9": "math"}


def test_accuracy_kappa_confusion_and_shifts_by_hand() -> None:
    report = grader_agreement(A, B, CATEGORIES)
    assert (report.n_a, report.n_b, report.n_shared) == (9, 8, 8)
    assert (report.all.accuracy.count, report.all.accuracy.n) == (6, 8)
    # four labels: rows a = (correct 4, incorrect 4); cols b = (correct 4, incorrect 3, no_answer 1)
    # p_o = 6/8; p_e = (4*4 + 4*3) / 64 = 28/64; kappa = (48/64 - 28/64) / (36/64) = 20/36
    assert report.all.kappa.value == pytest.approx(20 / 36)
    assert report.confusion.counts == ((3, 0, 0, 1), (0, 0, 0, 0), (1, 0, 3, 0), (0, 0, 0, 0))
    # binary (correct vs not): same agreements here; p_e = (4*4 + 4*4)/64 = 0.5, kappa = (0.75 - 0.5) / 0.5
    assert (report.binary.accuracy.count, report.binary.accuracy.n) == (6, 8)
    assert report.binary.kappa.value == pytest.approx(0.5)
    assert {c: (b.accuracy.count, b.accuracy.n) for c, b in report.by_category.items()} == {
        "math": (4, 4),
        "reasoning": (2, 4),
    }
    shifts = {m: (s.a.count, s.b.count, s.a.n, s.shift_points) for m, s in report.by_model.items()}
    assert shifts == {"m1": (3, 2, 4, -25.0), "m2": (1, 2, 4, 25.0)}
    assert report.n_disagree == 2
    first = report.disagreements[0]
    assert (first.prompt_id, first.model, first.label_a, first.label_b) == ("p3", "m1", OK, NONE)
    low, high = report.all.accuracy.ci_low, report.all.accuracy.ci_high
    assert low is not None and high is not None and low < 0.75 < high


def test_identical_sources_agree_fully_and_partial_labels_count_as_not_correct_in_binary() -> None:
    same = grader_agreement(A, A, CATEGORIES)
    assert (same.all.accuracy.count, same.all.accuracy.n, same.n_disagree) == (9, 9, 0)
    assert same.all.kappa.value == pytest.approx(1.0)
    partial = grades({("p1", "m1"): PART, ("p2", "m1"): OK})
    wrong = grades({("p1", "m1"): WRONG, ("p2", "m1"): OK})
    report = grader_agreement(partial, wrong, CATEGORIES)
    assert (report.all.accuracy.count, report.binary.accuracy.count) == (1, 2)


def test_no_shared_turns_is_no_data_not_an_error() -> None:
    report = grader_agreement(A, grades({("p7", "m9"): OK}), CATEGORIES)
    assert report.n_shared == 0 and report.all.accuracy.rate is None and report.all.kappa.value is None
    assert report.by_model == {}
