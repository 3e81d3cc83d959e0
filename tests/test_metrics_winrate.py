"""Win rate vs a baseline: hand-computed figures and the published AlpacaEval 1.0 leaderboard."""

from __future__ import annotations

import csv
import math

import pytest

from judge.core.errors import InputError
from judge.core.types import PairVote, Winner
from judge.metrics.winrate import win_rate_of, win_rates_by_category, win_rates_vs_baseline
from tests.paths import REPO

LEADERBOARD = REPO / "tests" / "fixtures" / "formats" / "alpacaeval" / "alpaca_eval_gpt4_leaderboard.csv"


def vote(a: str, b: str, winner: Winner, pid: str = "p") -> PairVote:
    return PairVote(prompt_id=pid, model_a=a, model_b=b, winner=winner, voter="gpt4")


def test_draws_count_half_and_standard_error_is_the_sample_sd_over_root_n() -> None:
    votes = [
        vote("base", "m", Winner.MODEL_B, "1"),
        vote("m", "base", Winner.MODEL_A, "2"),
        vote("base", "m", Winner.TIE, "3"),
        vote("base", "m", Winner.MODEL_A, "4"),
        vote("other", "x", Winner.MODEL_A, "5"),
    ]
    [row] = win_rates_vs_baseline(votes, "base")
    # scores 1, 1, 0.5, 0: mean 0.625; squared deviations 0.140625*2 + 0.015625 + 0.390625 = 0.6875
    # sample variance 0.6875/3, SE sqrt(0.229166/4) = 0.239357
    assert (row.model, row.n, row.wins, row.draws, row.losses) == ("m", 4, 2, 1, 1)
    assert row.win_rate == pytest.approx(62.5)
    assert row.standard_error == pytest.approx(23.9357, abs=1e-4)
    assert row.ci_low == pytest.approx(62.5 - 1.959964 * 23.9357, abs=1e-3)
    assert row.ci_high == pytest.approx(100.0)


def test_a_single_item_has_zero_standard_error_and_no_votes_is_an_error() -> None:
    assert win_rate_of("m", "b", [1.0]).standard_error == 0.0
    with pytest.raises(InputError, match="baseline 'nobody'"):
        win_rates_vs_baseline([vote("a", "b", Winner.TIE)], "nobody")


def test_reproduces_every_published_alpacaeval_1_win_rate_and_standard_error() -> None:
    """Each model's items rebuilt from its published counts give its published win_rate and standard_error."""
    with LEADERBOARD.open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) > 90
    for row in rows:
        wins, losses, draws = int(row["n_wins"]), int(row["n_wins_base"]), int(row["n_draws"])
        assert wins + losses + draws == int(row["n_total"])
        ours = win_rate_of(row[""], "text_davinci_003", [1.0] * wins + [0.0] * losses + [0.5] * draws)
        assert math.isclose(ours.win_rate, float(row["win_rate"]), abs_tol=0.01), row[""]
        assert math.isclose(ours.standard_error, float(row["standard_error"]), abs_tol=0.01), row[""]


def test_micro_and_macro_over_categories() -> None:
    votes = [
        PairVote(prompt_id="1", model_a="m", model_b="base", winner=Winner.MODEL_A, voter="v", category="a"),
        PairVote(prompt_id="2", model_a="m", model_b="base", winner=Winner.MODEL_A, voter="v", category="a"),
        PairVote(prompt_id="3", model_a="base", model_b="m", winner=Winner.MODEL_A, voter="v", category="b,c"),
    ]
    result = win_rates_by_category(votes, "base", ["a", "b", "c", "d"])
    assert set(result.categories) == {"a", "b", "c"}  # d has no votes
    assert result.micro["m"] == pytest.approx(200 / 3)  # pooled: 2 of 3 items
    assert result.macro["m"] == pytest.approx((100 + 0 + 0) / 3)  # categories a, b, c
