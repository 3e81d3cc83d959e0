"""Style counts, style covariates and style-controlled Bradley-Terry."""

from __future__ import annotations

import json

import numpy as np
import pytest

from judge.core.errors import InputError
from judge.ratings import (
    STYLE_FEATURES,
    Battles,
    BootstrapSpec,
    count_style,
    fit_bradley_terry,
    fit_logistic_per_battle,
    fit_style_controlled,
    leaderboard_from_fit,
    simulate_battles,
    style_battles_from_votes,
    style_covariates,
)
from tests.paths import MT_BENCH
from tests.test_ratings_bt import human_votes

SAMPLE = """# Title
Some **bold** text, and __more bold__.

## Steps
- first item
  * nested item
1. numbered
10. another
---
#not a header
"""


def test_count_style_follows_the_documented_rules() -> None:
    counts = count_style(SAMPLE)
    assert (counts.headers, counts.list_items, counts.bold) == (2, 4, 2)
    assert count_style("Hello, world!").tokens == 4  # Hello , world !
    assert count_style("").as_tuple() == (0, 0, 0, 0)


def test_style_covariates_are_antisymmetric_and_unit_scaled() -> None:
    rng = np.random.default_rng(0)
    a, b = rng.integers(0, 50, (200, 4)), rng.integers(0, 50, (200, 4))
    a[:, 1] = b[:, 1] = 0  # a column without any signal stays zero
    x = style_covariates(a, b)
    assert np.allclose(style_covariates(b, a), -x)
    assert np.allclose(np.sqrt(np.mean(x[:, [0, 2, 3]] ** 2, axis=0)), 1.0)
    assert np.all(x[:, 1] == 0.0)
    raw = (a[0, 0] - b[0, 0]) / (a[0, 0] + b[0, 0] + 1)
    assert x[0, 0] == pytest.approx(raw / np.sqrt(np.mean(((a[:, 0] - b[:, 0]) / (a[:, 0] + b[:, 0] + 1)) ** 2)))


def test_known_style_coefficients_are_recovered_and_match_logistic_regression() -> None:
    rng = np.random.default_rng(1)
    true = rng.normal(1000, 100, 10)
    x = rng.standard_normal((20000, 2))
    battles = simulate_battles(true, 20000, rng, features=x, coefficients=np.array([60.0, -25.0]), tie_rate=0.1)
    fit = fit_style_controlled(battles, bootstrap=BootstrapSpec(100, seed=2))
    interval = fit.coefficient_interval()
    assert interval is not None
    assert np.all((interval[0] <= [60.0, -25.0]) & (np.array([60.0, -25.0]) <= interval[1]))
    ratings, coefficients = fit_logistic_per_battle(battles)
    assert np.max(np.abs(fit.ratings - ratings)) < 0.5
    assert np.max(np.abs(fit.coefficients - coefficients)) < 0.5
    board = leaderboard_from_fit(fit)
    assert board.method == "style_controlled" and [c.name for c in board.coefficients] == ["x0", "x1"]


def test_style_control_removes_a_pure_length_advantage() -> None:
    # All models are equally good, but model 0 writes longer answers and judges reward length.
    rng = np.random.default_rng(2)
    n = 8000
    a = rng.integers(0, 4, n)
    b = (a + rng.integers(1, 4, n)) % 4
    verbose = np.array([1.0, 0.0, 0.0, 0.0])
    length = 0.8 * (verbose[a] - verbose[b]) + rng.standard_normal(n)
    p = 1.0 / (1.0 + 10 ** (-(80.0 * length) / 400.0))
    outcome = (rng.random(n) < p).astype(float)
    battles = Battles(("verbose", "m1", "m2", "m3"), a, b, outcome).with_features(length[:, None], ("length",))
    raw = fit_bradley_terry(battles.with_outcome(outcome), bootstrap=BootstrapSpec(0))
    controlled = fit_style_controlled(battles, bootstrap=BootstrapSpec(0))
    assert raw.ratings[0] > raw.ratings[1:].max() + 40
    assert np.max(np.abs(controlled.ratings - 1000.0)) < 20.0
    assert controlled.coefficients[0] == pytest.approx(80.0, abs=10.0)


def test_style_battles_from_real_votes_and_answers() -> None:
    votes = human_votes()[:300]
    responses = {}
    for model in {m for v in votes for m in (v.model_a, v.model_b)}:
        for line in (MT_BENCH / "model_answer" / f"{model}.jsonl").read_text().splitlines():
            row = json.loads(line)
            responses[(str(row["question_id"]), model, 1)] = row["choices"][0]["turns"][0]
    battles = style_battles_from_votes(votes, responses)
    assert battles.feature_names == STYLE_FEATURES and battles.features is not None
    assert battles.features.shape == (300, 4)
    fit = fit_style_controlled(battles, bootstrap=BootstrapSpec(50, seed=1))
    assert len(fit.coefficients) == 4 and np.all(np.isfinite(fit.ratings))
    missing = dict(responses)
    del missing[(votes[0].prompt_id, votes[0].model_a, 1)]
    with pytest.raises(InputError, match="no response for prompt"):
        style_battles_from_votes(votes, missing)
    with pytest.raises(InputError, match="style covariates"):
        fit_style_controlled(battles.with_outcome(battles.outcome))
