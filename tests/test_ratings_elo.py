"""Online Elo: hand-checked updates, order handling, bootstrap intervals, degenerate inputs."""

from __future__ import annotations

import numpy as np
import pytest

from judge.core.errors import InputError, StatisticsError
from judge.ratings import Battles, BootstrapSpec, EloParams, RatingScale, fit_elo, run_elo, simulate_battles


def make(models: tuple[str, ...], pairs: list[tuple[int, int, float]]) -> Battles:
    a, b, s = zip(*pairs, strict=True) if pairs else ((), (), ())
    return Battles(models, np.array(a, dtype=np.int64), np.array(b, dtype=np.int64), np.array(s, dtype=float))


def test_first_battle_between_equals_moves_k_over_two() -> None:
    # Equal ratings: expected score 0.5, so the winner gains K * 0.5 = 2 and the loser drops 2.
    ratings = run_elo(make(("x", "y"), [(0, 1, 1.0)]))
    assert ratings.tolist() == [1002.0, 998.0]


def test_second_battle_uses_the_updated_ratings() -> None:
    # After x beats y: 1002 vs 998. y then beats x: y's expected score is 1 / (1 + 10^(4/400)).
    expected_y = 1.0 / (1.0 + 10 ** (4.0 / 400.0))
    gain = 4.0 * (1.0 - expected_y)
    ratings = run_elo(make(("x", "y"), [(0, 1, 1.0), (1, 0, 1.0)]))
    assert ratings[1] == pytest.approx(998.0 + gain, abs=1e-12)
    assert ratings[0] == pytest.approx(1002.0 - gain, abs=1e-12)
    assert gain == pytest.approx(2.0230, abs=1e-4)  # by hand: 10^0.01 = 1.02329, 4 * 1.02329 / 2.02329


def test_tie_between_equals_changes_nothing_and_a_tie_pulls_ratings_together() -> None:
    assert run_elo(make(("x", "y"), [(0, 1, 0.5)])).tolist() == [1000.0, 1000.0]
    ratings = run_elo(make(("x", "y"), [(0, 1, 1.0), (0, 1, 0.5)]))
    assert 1000.0 < ratings[0] < 1002.0 and 998.0 < ratings[1] < 1000.0


def test_parameters_are_configurable() -> None:
    battles = make(("x", "y"), [(0, 1, 1.0)])
    assert run_elo(battles, EloParams(k=32, initial=1500)).tolist() == [1516.0, 1484.0]
    # Second battle with scale 200 and base e: expected score of y = 1 / (1 + e^(32/200)).
    two = make(("x", "y"), [(0, 1, 1.0), (1, 0, 1.0)])
    ratings = run_elo(two, EloParams(k=32), RatingScale(scale=200.0, base=np.e))
    assert ratings[1] == pytest.approx(984.0 + 32.0 * (1.0 - 1.0 / (1.0 + np.exp(32.0 / 200.0))))


def test_order_matters_and_shuffled_orders_are_averaged_reproducibly() -> None:
    battles = make(("x", "y", "z"), [(0, 1, 1.0)] * 5 + [(1, 2, 1.0)] * 5 + [(2, 0, 1.0)] * 5)
    given = fit_elo(battles, bootstrap=BootstrapSpec(0))
    first = fit_elo(battles, bootstrap=BootstrapSpec(0), shuffle_seed=7, n_orders=20)
    again = fit_elo(battles, bootstrap=BootstrapSpec(0), shuffle_seed=7, n_orders=20)
    assert np.array_equal(first.ratings, again.ratings)
    assert not np.allclose(first.ratings, given.ratings)
    assert abs(first.ratings - 1000.0).max() < abs(given.ratings - 1000.0).max()  # a cycle averages out
    assert first.params["n_orders"] == 20 and first.params["shuffle_seed"] == 7


def test_mean_rating_is_preserved_and_all_ties_leave_everyone_at_initial() -> None:
    rng = np.random.default_rng(3)
    battles = simulate_battles(np.array([1100.0, 1000.0, 900.0, 950.0]), 400, rng)
    fit = fit_elo(battles, bootstrap=BootstrapSpec(50, seed=1))
    assert fit.ratings.mean() == pytest.approx(1000.0)
    ties = make(("x", "y", "z"), [(0, 1, 0.5), (1, 2, 0.5), (2, 0, 0.5)])
    assert fit_elo(ties, bootstrap=BootstrapSpec(20)).ratings.tolist() == [1000.0] * 3


def test_bootstrap_interval_brackets_the_strongest_model_and_is_seeded() -> None:
    rng = np.random.default_rng(5)
    battles = simulate_battles(np.array([1200.0, 1000.0, 1000.0, 800.0]), 2000, rng)
    fit = fit_elo(battles, bootstrap=BootstrapSpec(200, seed=11, ci_level=0.9))
    interval = fit.rating_interval()
    assert interval is not None and fit.samples is not None and fit.samples.shape == (200, 4)
    low, high = interval
    assert np.all(low < high)
    assert low[0] > high[3]  # 400 points apart: clearly separated
    same = fit_elo(battles, bootstrap=BootstrapSpec(200, seed=11, ci_level=0.9))
    assert same.samples is not None and np.array_equal(fit.samples, same.samples)


def test_vectorised_rounds_match_the_scalar_loop() -> None:
    from judge.ratings.elo import run_elo_orders

    rng = np.random.default_rng(2)
    battles = simulate_battles(np.array([1050.0, 1000.0, 950.0]), 300, rng, tie_rate=0.3)
    orders = np.stack([rng.permutation(300), rng.integers(0, 300, 300)])
    together = run_elo_orders(battles, orders)
    for row, order in zip(together, orders, strict=True):
        one = Battles(battles.models, battles.a[order], battles.b[order], battles.outcome[order])
        assert np.allclose(row, run_elo(one), atol=1e-9)


def test_degenerate_inputs_are_reported() -> None:
    with pytest.raises(StatisticsError, match="no battles"):
        fit_elo(make(("x", "y"), []))
    with pytest.raises(InputError, match="K factor"):
        EloParams(k=0)
    with pytest.raises(InputError, match="two different models"):
        make(("x", "y"), [(0, 0, 1.0)])
    single = fit_elo(make(("x", "y"), [(0, 1, 1.0)]), bootstrap=BootstrapSpec(10))
    assert single.ratings.tolist() == [1002.0, 998.0]
    assert np.all(np.isfinite(single.samples if single.samples is not None else np.nan))
