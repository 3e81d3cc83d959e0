"""Significance tests with hand-computed expectations."""

from __future__ import annotations

import numpy as np
import pytest

from judge.core.errors import StatisticsError
from judge.metrics.significance import cluster_bootstrap, holm, mcnemar, paired_bootstrap, significance_matrix


def test_holm_is_step_down_and_monotone() -> None:
    # sorted 0.01*3 = 0.03, 0.03*2 = 0.06, 0.04*1 = 0.04 -> raised to 0.06
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])


def test_mcnemar_exact_on_discordant_items() -> None:
    result = mcnemar([True, True, True, True, False, True], [False, False, False, True, False, True])
    assert (result.only_a, result.only_b, result.both_correct, result.neither) == (3, 0, 2, 1)
    assert result.p_value == pytest.approx(0.25)  # 2 * 0.5^3
    assert mcnemar([True, False], [True, False]).p_value == 1.0


def test_paired_bootstrap_extremes() -> None:
    better = paired_bootstrap([1.0, 1.0, 0.5], [0.0, 0.0, -0.5], rounds=200)
    assert (better.estimate, better.ci_low, better.ci_high, better.p_a_better, better.p_value) == (1, 1, 1, 1, 0)
    same = paired_bootstrap([1.0, 0.0], [1.0, 0.0], rounds=50)
    assert (same.estimate, same.p_a_better, same.p_value) == (0.0, 0.5, 1.0)
    with pytest.raises(StatisticsError):
        paired_bootstrap([], [])


def test_cluster_bootstrap_resamples_clusters() -> None:
    values = np.array([3.0, 1.0, 2.0])
    result = cluster_bootstrap(lambda idx: float(values[idx].mean()), 3, rounds=300, seed=2)
    assert result.estimate == pytest.approx(2.0)
    assert 1.0 <= result.ci_low <= 2.0 <= result.ci_high <= 3.0 and result.p_a_better == 1.0


def test_significance_matrix_and_rank_bands() -> None:
    samples = np.array([[10.0, 0.0, 1.0], [10.0, 0.0, -1.0], [10.0, 0.0, 1.0], [10.0, 0.0, -1.0]])
    matrix = significance_matrix(["x", "y", "z"], samples)
    assert matrix.p_above[0][1] == 1.0 and matrix.p_above[1][2] == 0.5
    assert matrix.p_adjusted[0][1] == 0.0 and matrix.p_adjusted[1][2] == 1.0
    assert matrix.better_than("x") == ["y", "z"] and matrix.better_than("y") == []
    assert (matrix.rank_low, matrix.rank_high) == ((1, 2, 2), (1, 3, 3))
