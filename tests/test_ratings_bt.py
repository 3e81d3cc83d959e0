"""Bradley-Terry: agreement with per-battle logistic regression, recovery, CI coverage, degenerate inputs."""

from __future__ import annotations

import json

import numpy as np
import pytest

from judge.core.errors import InputError, StatisticsError
from judge.core.types import PairVote, Winner
from judge.ratings import (
    Anchor,
    Battles,
    BootstrapSpec,
    RatingScale,
    battles_from_votes,
    comparison_components,
    fit_bradley_terry,
    fit_logistic_per_battle,
    leaderboard_from_fit,
    multinomial_counts,
    parse_anchor,
    predicted_win_rates,
    rank_by_intervals,
    simulate_battles,
    win_rates_vs_baseline,
)
from tests.paths import HUMAN_VOTES


def human_votes() -> list[PairVote]:
    path = HUMAN_VOTES
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [
        PairVote(
            prompt_id=str(r["question_id"]),
            model_a=r["model_a"],
            model_b=r["model_b"],
            winner=Winner(r["winner"]),
            voter=r["judge"],
        )
        for r in rows
    ]


def make(models: tuple[str, ...], pairs: list[tuple[int, int, float]]) -> Battles:
    a, b, s = zip(*pairs, strict=True)
    return Battles(models, np.array(a, dtype=np.int64), np.array(b, dtype=np.int64), np.array(s, dtype=float))


def test_real_votes_match_per_battle_logistic_regression() -> None:
    votes = human_votes()
    battles = battles_from_votes(votes)
    assert battles.n_battles == 1689 and len(battles.models) == 6
    assert np.sum(battles.outcome == 0.5) == sum(v.winner.is_tie for v in votes)
    fit = fit_bradley_terry(battles, bootstrap=BootstrapSpec(0))
    reference, _ = fit_logistic_per_battle(battles)
    assert np.max(np.abs(fit.ratings - reference)) < 0.5
    assert fit.ratings.mean() == pytest.approx(1000.0)
    assert fit.models[int(np.argmax(fit.ratings))] == "gpt-4"


def test_synthetic_fit_matches_logistic_regression_with_anchor_and_ties() -> None:
    rng = np.random.default_rng(0)
    battles = simulate_battles(rng.normal(1000, 120, 12), 5000, rng, tie_rate=0.3)
    anchor = Anchor("model-003", 1200.0)
    fit = fit_bradley_terry(battles, anchor=anchor, bootstrap=BootstrapSpec(0))
    reference, _ = fit_logistic_per_battle(battles, anchor=anchor)
    assert np.max(np.abs(fit.ratings - reference)) < 0.5
    assert fit.ratings[3] == 1200.0


def test_ratings_are_recovered_within_their_intervals() -> None:
    rng = np.random.default_rng(1)
    true = np.array([1250.0, 1100.0, 1000.0, 950.0, 900.0, 800.0])
    battles = simulate_battles(true, 20000, rng, tie_rate=0.2)
    fit = fit_bradley_terry(battles, bootstrap=BootstrapSpec(300, seed=4, ci_level=0.99))
    interval = fit.rating_interval()
    assert interval is not None
    centred = true - true.mean() + 1000.0
    assert np.all((interval[0] <= centred) & (centred <= interval[1]))
    assert np.max(np.abs(fit.ratings - centred)) < 15.0


def test_interval_coverage_over_200_seeds_is_near_nominal() -> None:
    true = np.array([1120.0, 1060.0, 1000.0, 960.0, 860.0])
    centred = true - true.mean() + 1000.0
    hits = 0
    for seed in range(200):
        rng = np.random.default_rng(seed)
        battles = simulate_battles(true, 400, rng, tie_rate=0.2)
        fit = fit_bradley_terry(battles, bootstrap=BootstrapSpec(80, seed=seed, ci_level=0.9), workers=1)
        interval = fit.rating_interval()
        assert interval is not None
        model = seed % len(true)  # one model per seed: independent trials
        hits += int(interval[0][model] <= centred[model] <= interval[1][model])
    # Binomial(200, 0.9): sd = 0.021; allow 3 sd either side.
    assert 0.9 - 0.064 <= hits / 200 <= 0.9 + 0.064


def test_bootstrap_is_reproducible_and_independent_of_worker_count() -> None:
    rng = np.random.default_rng(2)
    battles = simulate_battles(rng.normal(1000, 100, 8), 3000, rng)
    one = fit_bradley_terry(battles, bootstrap=BootstrapSpec(40, seed=9), workers=1)
    two = fit_bradley_terry(battles, bootstrap=BootstrapSpec(40, seed=9), workers=2)
    assert one.samples is not None and two.samples is not None
    assert np.allclose(one.samples, two.samples, atol=1e-9)
    other = fit_bradley_terry(battles, bootstrap=BootstrapSpec(40, seed=10), workers=1)
    assert other.samples is not None and not np.allclose(one.samples, other.samples)


def test_bootstrap_refits_are_converged_maxima() -> None:
    rng = np.random.default_rng(3)
    battles = simulate_battles(rng.normal(1000, 100, 5), 800, rng, tie_rate=0.2)
    fit = fit_bradley_terry(battles, bootstrap=BootstrapSpec(5, seed=1), workers=1)
    seeds = np.random.SeedSequence(1).spawn(5)
    from judge.ratings.bradley_terry import aggregate_battles

    data = aggregate_battles(battles)
    assert fit.samples is not None
    for k in range(5):
        counts = data.resample(np.random.default_rng(seeds[k]))
        per_category = np.repeat(np.arange(len(counts)), counts.astype(np.int64))
        resampled = np.concatenate([np.flatnonzero(data.battle_category == c)[:1] for c in per_category])
        reference, _ = fit_logistic_per_battle(
            Battles(battles.models, battles.a[resampled], battles.b[resampled], battles.outcome[resampled])
        )
        assert np.max(np.abs(fit.samples[k] - reference)) < 0.05


def test_multinomial_counts_keep_the_total_and_the_moments() -> None:
    rng = np.random.default_rng(4)
    counts = np.array([5.0, 100.0, 0.0, 895.0])
    draws = np.stack([multinomial_counts(counts, rng) for _ in range(4000)])
    assert np.all(draws.sum(axis=1) == 1000.0) and np.all(draws[:, 2] == 0)
    p = counts / 1000.0
    assert np.allclose(draws.mean(axis=0), counts, atol=0.05 * np.sqrt(counts) + 1e-9)
    assert np.allclose(draws.var(axis=0), 1000.0 * p * (1 - p), rtol=0.1)


def test_never_losing_model_is_finite_and_flagged() -> None:
    battles = make(("champ", "mid", "low"), [(0, 1, 1.0), (0, 2, 1.0), (1, 2, 1.0), (2, 1, 1.0), (1, 2, 0.5)])
    fit = fit_bradley_terry(battles, bootstrap=BootstrapSpec(30))
    assert np.all(np.isfinite(fit.ratings)) and fit.samples is not None and np.all(np.isfinite(fit.samples))
    assert fit.ratings[0] > fit.ratings[1] + 1000
    assert any("never lost a battle: champ" in note for note in fit.notes)
    board = leaderboard_from_fit(fit)
    assert board.rows[0].model == "champ" and board.notes == fit.notes


def test_never_winning_model_is_flagged() -> None:
    battles = make(("a", "b", "loser"), [(0, 1, 1.0), (1, 0, 1.0), (2, 0, 0.0), (1, 2, 1.0)])
    fit = fit_bradley_terry(battles, bootstrap=BootstrapSpec(0))
    assert any("never won or tied a battle: loser" in note for note in fit.notes)
    assert fit.models[int(np.argmin(fit.ratings))] == "loser"


def test_single_battle_and_all_ties_are_well_defined() -> None:
    single = fit_bradley_terry(make(("x", "y"), [(0, 1, 1.0)]), bootstrap=BootstrapSpec(10))
    assert np.all(np.isfinite(single.ratings)) and single.ratings[0] > single.ratings[1] and single.notes
    ties = fit_bradley_terry(make(("x", "y", "z"), [(0, 1, 0.5), (1, 2, 0.5)]), bootstrap=BootstrapSpec(20))
    assert np.allclose(ties.ratings, 1000.0) and ties.notes == ()
    assert ties.samples is not None and np.allclose(ties.samples, 1000.0)


def test_disconnected_graph_and_idle_models_raise_clear_errors() -> None:
    battles = make(("a", "b", "c", "d"), [(0, 1, 1.0), (1, 0, 1.0), (2, 3, 0.5)])
    assert comparison_components(battles) == [("a", "b"), ("c", "d")]
    with pytest.raises(StatisticsError, match=r"disconnected \(2 groups: \{a, b\}; \{c, d\}\)"):
        fit_bradley_terry(battles)
    assert np.all(np.isfinite(fit_bradley_terry(battles.subset(["a", "b"]), bootstrap=BootstrapSpec(0)).ratings))
    with pytest.raises(StatisticsError, match="without any battle cannot be rated: c"):
        fit_bradley_terry(make(("a", "b", "c"), [(0, 1, 1.0)]))
    with pytest.raises(InputError, match="anchor model 'zz'"):
        fit_bradley_terry(make(("a", "b"), [(0, 1, 0.5)]), anchor=Anchor("zz", 1000.0))


def test_parse_anchor() -> None:
    assert parse_anchor("gpt-4=1200") == Anchor("gpt-4", 1200.0)
    assert parse_anchor("a=b=900.5") == Anchor("a=b", 900.5)
    assert parse_anchor(None) == Anchor()
    for bad in ("gpt-4", "=1000", "gpt-4=x", "gpt-4=nan"):
        with pytest.raises(InputError, match="MODEL=RATING"):
            parse_anchor(bad)


def test_rank_counts_models_whose_lower_bound_beats_the_upper_bound() -> None:
    low = np.array([1100.0, 1050.0, 900.0, 880.0])
    high = np.array([1200.0, 1150.0, 1000.0, 1060.0])
    assert rank_by_intervals(low, high) == [1, 1, 3, 2]


def test_leaderboard_json_rows_and_card() -> None:
    rng = np.random.default_rng(6)
    battles = simulate_battles(np.array([1100.0, 1000.0, 900.0]), 1500, rng)
    fit = fit_bradley_terry(battles, bootstrap=BootstrapSpec(100, seed=3, ci_level=0.8))
    board = leaderboard_from_fit(fit)
    rows = board.to_json_rows()
    assert [r["model"] for r in rows] == ["model-000", "model-001", "model-002"]
    assert set(rows[0]) == {"model", "rating", "ci_low", "ci_high", "rank", "n_battles", "ci_level"}
    assert all(r["ci_level"] == 0.8 and r["ci_low"] < r["rating"] < r["ci_high"] for r in rows)
    assert [r["rank"] for r in rows] == [1, 2, 3]
    assert sum(r["n_battles"] for r in rows) == 2 * 1500
    card = board.card()
    assert card["bootstrap_rounds"] == 100 and card["seed"] == 3 and card["anchor"] == "mean=1000"
    assert card["method"] == "bradley_terry" and card["n_battles"] == 1500
    unbootstrapped = leaderboard_from_fit(fit_bradley_terry(battles, bootstrap=BootstrapSpec(0)))
    assert unbootstrapped.rows[0].ci_low is None and [r.rank for r in unbootstrapped.rows] == [1, 2, 3]


def test_predicted_win_rates_and_baseline() -> None:
    rng = np.random.default_rng(7)
    battles = simulate_battles(np.array([1200.0, 1000.0, 1000.0]), 3000, rng, scale=RatingScale())
    fit = fit_bradley_terry(battles, bootstrap=BootstrapSpec(100, seed=1))
    matrix = np.array(predicted_win_rates(fit).probability)
    assert np.allclose(matrix + matrix.T, 1.0) and np.allclose(np.diag(matrix), 0.5)
    assert matrix[0, 1] == pytest.approx(1.0 / (1.0 + 10 ** ((fit.ratings[1] - fit.ratings[0]) / 400.0)))
    rows = win_rates_vs_baseline(fit, battles, "model-001")
    assert [r.model for r in rows] == ["model-000", "model-002"]
    best = rows[0]
    assert best.ci_low is not None and best.ci_high is not None
    assert best.ci_low < best.win_rate < best.ci_high and best.ci_level == 0.95
    assert best.n_direct > 0 and best.observed is not None and abs(best.observed - best.win_rate) < 0.06
    with pytest.raises(InputError, match="baseline"):
        win_rates_vs_baseline(fit, battles, "nobody")
