"""Correctness-aware ratings and the side-by-side comparison with raw preference."""

from __future__ import annotations

import numpy as np
import pytest

from judge.core.errors import InputError
from judge.core.types import Correctness, PairVote, Winner
from judge.ratings import (
    Battles,
    BootstrapSpec,
    combine_leaderboards,
    comparison_json_rows,
    correctness_battles,
    correctness_battles_from_verdicts,
    correctness_of_votes,
    fit_bradley_terry,
    fit_correctness_controlled,
    fit_correctness_rating,
    leaderboard_from_fit,
)

C, P, W = Correctness.CORRECT, Correctness.PARTIALLY_CORRECT, Correctness.INCORRECT


def test_more_correct_response_wins_and_equal_scores_tie() -> None:
    battles = Battles(("x", "y"), np.zeros(5, dtype=np.int64), np.ones(5, dtype=np.int64), np.full(5, 0.5))
    ca = np.array([1.0, 0.0, 1.0, 0.0, 0.5])
    cb = np.array([0.0, 1.0, 1.0, 0.0, 0.0])
    assert correctness_battles(battles, ca, cb).outcome.tolist() == [1.0, 0.0, 0.5, 0.5, 1.0]
    with pytest.raises(InputError, match=r"1, 0\.5 or 0"):
        correctness_battles(battles, np.full(5, 0.7), cb)


def test_correctness_of_votes_reads_verdicts_per_unit() -> None:
    votes = [
        PairVote(prompt_id="q1", model_a="x", model_b="y", winner=Winner.MODEL_B, voter="h"),
        PairVote(prompt_id="q2", model_a="y", model_b="x", winner=Winner.TIE_BOTHBAD, voter="h"),
    ]
    verdicts = {("q1", "x", 1): C, ("q1", "y", 1): W, ("q2", "x", 1): P, ("q2", "y", 1): P}
    ca, cb = correctness_of_votes(votes, verdicts)
    assert ca.tolist() == [1.0, 0.5] and cb.tolist() == [0.0, 0.5]
    del verdicts[("q2", "y", 1)]
    with pytest.raises(InputError, match="no correctness verdict for prompt 'q2', model 'y'"):
        correctness_of_votes(votes, verdicts)


def test_correctness_rating_from_verdicts_on_all_pairs() -> None:
    verdicts = {}
    rng = np.random.default_rng(0)
    accuracy = {"good": 0.9, "fair": 0.6, "poor": 0.2}
    for q in range(120):
        for model, rate in accuracy.items():
            verdicts[(f"q{q}", model, 1)] = C if rng.random() < rate else W
    battles = correctness_battles_from_verdicts(verdicts)
    assert battles.n_battles == 120 * 3
    fit = fit_correctness_rating(battles, bootstrap=BootstrapSpec(100, seed=1))
    board = leaderboard_from_fit(fit)
    assert [r.model for r in board.rows] == ["good", "fair", "poor"]
    assert board.method == "correctness" and board.rows[0].rank == 1


def test_preference_controlled_for_correctness_recovers_the_effect() -> None:
    # Two equally liked models; "right" is correct far more often and correctness drives preference.
    rng = np.random.default_rng(1)
    n = 6000
    a = rng.integers(0, 3, n)
    b = (a + rng.integers(1, 3, n)) % 3
    accuracy = np.array([0.9, 0.3, 0.5])
    ca = (rng.random(n) < accuracy[a]).astype(float)
    cb = (rng.random(n) < accuracy[b]).astype(float)
    p = 1.0 / (1.0 + 10 ** (-(150.0 * (ca - cb)) / 400.0))
    battles = Battles(("right", "wrong", "middle"), a, b, (rng.random(n) < p).astype(float))
    raw = leaderboard_from_fit(fit_bradley_terry(battles, bootstrap=BootstrapSpec(100, seed=2)))
    aware_fit = fit_correctness_controlled(battles, ca, cb, bootstrap=BootstrapSpec(100, seed=2))
    assert aware_fit.coefficient_names == ("correctness",)
    interval = aware_fit.coefficient_interval()
    assert interval is not None and interval[0][0] < 150.0 < interval[1][0]
    assert np.max(np.abs(aware_fit.ratings - 1000.0)) < 25.0
    aware = leaderboard_from_fit(aware_fit)
    assert raw.rows[0].model == "right" and raw.row("wrong") is not None

    rows = combine_leaderboards(raw, correctness=aware)
    by_model = {r.model: r for r in rows}
    for row in rows:
        assert row.correctness_rank is not None and row.correctness_rank_shift == row.rank - row.correctness_rank
        assert row.style_rating is None
    assert by_model["right"].rank == 1 and by_model["wrong"].rank == 3
    assert by_model["wrong"].correctness_rank_shift is not None and by_model["wrong"].correctness_rank_shift > 0
    json_rows = comparison_json_rows(rows, raw.ci_level)
    assert "style_rating" not in json_rows[0] and json_rows[0]["ci_level"] == 0.95
    assert {"correctness_rating", "correctness_rank_shift", "rating", "rank"} <= set(json_rows[0])


def test_combine_keeps_models_missing_from_other_boards() -> None:
    battles = Battles(("x", "y", "z"), np.array([0, 1, 2, 0]), np.array([1, 2, 0, 2]), np.array([1.0, 1.0, 0.5, 1.0]))
    raw = leaderboard_from_fit(fit_bradley_terry(battles, bootstrap=BootstrapSpec(0)))
    partial = leaderboard_from_fit(fit_bradley_terry(battles.subset(["x", "y"]), bootstrap=BootstrapSpec(0)))
    rows = combine_leaderboards(raw, style=partial)
    assert [r.model for r in rows] == [r.model for r in raw.rows]
    z = next(r for r in rows if r.model == "z")
    assert z.style_rating is None and z.style_rank_shift is None
