"""Closed-form (sandwich) Bradley-Terry intervals against the bootstrap, and ``--ci sandwich`` in the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from judge.cli import app
from judge.core.errors import InputError
from judge.ratings import Anchor, BootstrapSpec, fit_bradley_terry, leaderboard_from_fit
from judge.ratings.battles import Battles

runner = CliRunner()


def arena_like(seed: int, n_models: int = 25, n_battles: int = 60_000) -> Battles:
    """Skewed pair frequencies (popular models fight more), ratings N(1000, 100), ~30% ties (Arena's share)."""
    rng = np.random.default_rng(seed)
    ratings = rng.normal(1000.0, 100.0, n_models)
    popularity = rng.pareto(1.2, n_models) + 0.2
    p = popularity / popularity.sum()
    a = rng.choice(n_models, n_battles, p=p)
    b = (a + 1 + rng.choice(n_models - 1, n_battles)) % n_models
    win = 1.0 / (1.0 + 10.0 ** (-(ratings[a] - ratings[b]) / 400.0))
    tie = rng.random(n_battles) < 0.6 * np.minimum(win, 1.0 - win)
    outcome = np.where(tie, 0.5, (rng.random(n_battles) < win).astype(np.float64))
    return Battles(tuple(f"m{k:02d}" for k in range(n_models)), a.astype(np.int64), b.astype(np.int64), outcome)


@pytest.mark.parametrize("anchor", [Anchor(), Anchor("m03", 1200.0)])
def test_sandwich_intervals_match_a_thousand_round_bootstrap(anchor: Anchor) -> None:
    battles = arena_like(11)
    boot = fit_bradley_terry(battles, anchor=anchor, bootstrap=BootstrapSpec(rounds=1000, seed=3))
    closed = fit_bradley_terry(battles, anchor=anchor, bootstrap=BootstrapSpec(rounds=1000, seed=3), ci="sandwich")
    assert np.allclose(closed.ratings, boot.ratings)
    interval_boot, interval_closed = boot.rating_interval(), closed.rating_interval()
    assert interval_boot is not None and interval_closed is not None
    width_boot = interval_boot[1] - interval_boot[0]
    width_closed = interval_closed[1] - interval_closed[0]
    assert np.median(width_boot) > 10  # the intervals are not trivially narrow
    assert abs(np.median(width_closed) - np.median(width_boot)) < 1.0
    assert np.max(np.abs(interval_closed[0] - interval_boot[0])) < 3.0
    assert np.max(np.abs(interval_closed[1] - interval_boot[1])) < 3.0
    if anchor.model is not None:  # the anchored model has no uncertainty of its own
        k = battles.models.index(anchor.model)
        assert interval_closed[0][k] == pytest.approx(1200.0) and interval_closed[1][k] == pytest.approx(1200.0)
    board = leaderboard_from_fit(closed)
    assert board.card()["ci_method"] == "sandwich" and board.bootstrap_rounds == 0
    assert leaderboard_from_fit(boot).card()["ci_method"] == "bootstrap"


def test_sandwich_is_wider_than_the_binomial_interval_without_ties_counted() -> None:
    """With no ties the meat equals the bread in expectation; with ties it is smaller (y = 0.5 is closer to p):
    the sandwich narrows accordingly, where the inverse information alone would not."""
    battles = arena_like(5)
    no_ties = Battles(battles.models, battles.a, battles.b, np.where(battles.outcome == 0.5, 1.0, battles.outcome))
    with_ties = fit_bradley_terry(battles, bootstrap=BootstrapSpec(0), ci="sandwich").rating_interval()
    without = fit_bradley_terry(no_ties, bootstrap=BootstrapSpec(0), ci="sandwich").rating_interval()
    assert with_ties is not None and without is not None
    assert np.median(with_ties[1] - with_ties[0]) < np.median(without[1] - without[0])


def test_sandwich_refuses_covariates() -> None:
    battles = arena_like(1, n_battles=2000)
    styled = battles.with_features(np.random.default_rng(0).normal(size=battles.n_battles), ["length"])
    with pytest.raises(InputError, match="plain Bradley-Terry"):
        fit_bradley_terry(styled, ci="sandwich")


def test_cli_ci_sandwich_on_a_votes_file(judge_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    judge_env.setenv("JUDGE_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    battles = arena_like(2, n_models=6, n_battles=3000)
    spelled = {1.0: "model_a", 0.0: "model_b", 0.5: "tie"}
    path = tmp_path / "votes.jsonl"
    path.write_text(
        "".join(
            json.dumps(
                {
                    "prompt_id": f"q{k}",
                    "model_a": battles.models[a],
                    "model_b": battles.models[b],
                    "winner": spelled[float(o)],
                }
            )
            + "\n"
            for k, (a, b, o) in enumerate(zip(battles.a, battles.b, battles.outcome, strict=True))
        )
    )
    args = ["leaderboard", "--votes", str(path), "--format", "json"]
    closed = runner.invoke(app, [*args, "--ci", "sandwich", "--ci-level", "0.9"], catch_exceptions=False)
    assert closed.exit_code == 0, closed.output
    rows = json.loads(closed.output)
    assert all(r["method"]["raw"]["ci_method"] == "sandwich" and r["ci_level"] == 0.9 for r in rows)
    boot = json.loads(runner.invoke(app, [*args, "--ci", "0.9", "--bootstrap", "200"]).output)
    assert [r["model"] for r in rows] == [r["model"] for r in boot]
    assert all(abs(r["ci_low"] - s["ci_low"]) < 10 for r, s in zip(rows, boot, strict=True))
    assert boot[0]["method"]["raw"]["ci_method"] == "bootstrap"
    # the significance card names where its samples came from
    assert "over draws from the sandwich fit's normal approximation" in rows[0]["method"]["significance"]["method"]
    assert "over bootstrap rounds" in boot[0]["method"]["significance"]["method"]
    wrong = runner.invoke(app, [*args, "--ci", "jackknife"])
    assert wrong.exit_code == 2 and "expected bootstrap, sandwich or a CI level" in wrong.output
    elo = runner.invoke(app, [*args, "--ci", "sandwich", "--method", "elo"])
    assert elo.exit_code == 2 and "sandwich intervals are for Bradley-Terry" in elo.output
