"""Wilson intervals and the Proportion block."""

from __future__ import annotations

import pytest

from judge.core.errors import StatisticsError
from judge.metrics.intervals import NO_DATA, proportion, wilson_interval, z_for


@pytest.mark.parametrize(
    ("count", "n", "low", "high"),
    [
        # Newcombe (1998), "Two-sided confidence intervals for the single proportion", Table I, method 3.
        (81, 263, 0.2553, 0.3662),
        (15, 148, 0.0624, 0.1605),
        (0, 20, 0.0, 0.1611),
        (1, 29, 0.0061, 0.1718),
    ],
)
def test_wilson_matches_published_values(count: int, n: int, low: float, high: float) -> None:
    got_low, got_high = wilson_interval(count, n)
    assert got_low == pytest.approx(low, abs=5e-5)
    assert got_high == pytest.approx(high, abs=5e-5)


def test_wilson_is_symmetric_and_within_unit_interval() -> None:
    low, high = wilson_interval(3, 10)
    mirror_low, mirror_high = wilson_interval(7, 10)
    assert low == pytest.approx(1 - mirror_high)
    assert high == pytest.approx(1 - mirror_low)
    assert wilson_interval(10, 10)[1] == 1.0
    assert wilson_interval(0, 10)[0] == 0.0


def test_wider_confidence_gives_wider_interval() -> None:
    low95, high95 = wilson_interval(30, 100, 0.95)
    low99, high99 = wilson_interval(30, 100, 0.99)
    assert low99 < low95 < 0.3 < high95 < high99
    assert z_for(0.95) == pytest.approx(1.959964, abs=1e-6)


def test_proportion_block() -> None:
    block = proportion(454, 721)
    assert block.rate == pytest.approx(454 / 721)
    assert block.ci_low is not None and block.ci_high is not None
    assert block.ci_low < block.rate < block.ci_high
    assert block.to_json().keys() == {"count", "n", "rate", "ci_low", "ci_high"}


def test_empty_proportion_has_none_and_a_note() -> None:
    block = proportion(0, 0)
    assert (block.rate, block.ci_low, block.ci_high) == (None, None, None)
    assert block.note == NO_DATA
    assert block.to_json()["note"] == NO_DATA
    assert proportion(0, 0).n == 0


@pytest.mark.parametrize(("count", "n"), [(5, 4), (-1, 4), (1, -1)])
def test_invalid_counts_raise(count: int, n: int) -> None:
    with pytest.raises(StatisticsError):
        proportion(count, n)


def test_bad_confidence_raises() -> None:
    with pytest.raises(StatisticsError):
        z_for(1.0)
