"""judge compare: rating gap, head-to-head and baseline win rates with bootstrap over prompts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from judge.analysis.compare import compare_votes
from judge.cli import app
from judge.core.errors import InputError
from judge.core.types import PairVote, Winner
from tests.paths import HUMAN_VOTES, SAMPLE_DATA

A, B, TIE = Winner.MODEL_A, Winner.MODEL_B, Winner.TIE


def vote(pid: str, a: str, b: str, winner: Winner) -> PairVote:
    return PairVote(prompt_id=pid, model_a=a, model_b=b, winner=winner, voter="v")


VOTES = [
    vote("p1", "x", "y", A),
    vote("p2", "y", "x", B),
    vote("p3", "x", "y", TIE),
    vote("p1", "x", "base", A),
    vote("p2", "x", "base", A),
    vote("p1", "y", "base", A),
    vote("p2", "base", "y", A),
    vote("p3", "y", "base", B),
]


def test_compare_votes_hand_figures() -> None:
    data = compare_votes(VOTES, "x", "y", baseline="base", rounds=100, seed=3)
    head = data["head_to_head"]
    assert (head["n_votes"], head["win_rate_a"]) == (3, pytest.approx(2.5 / 3))  # x won p1, p2 and tied p3
    assert head["a_minus_half"]["estimate"] == pytest.approx(2.5 / 3 - 0.5)
    vs = data["win_rate_vs_baseline"]  # shared prompts p1, p2: x 100, 100; y 100, 0
    assert (vs["win_rate_a"], vs["win_rate_b"], vs["difference"]["estimate"]) == (100.0, 50.0, 50.0)
    assert data["rating_difference"]["estimate"] > 0 and data["n_prompts"] == 3
    with pytest.raises(InputError, match="no votes involve 'z'"):
        compare_votes(VOTES, "x", "z")


def test_compare_cli_on_the_mtbench_expert_votes(judge_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    judge_env.setenv("JUDGE_DATABASE_URL", f"sqlite:///{tmp_path / 'c.db'}")
    runner = CliRunner()
    for args in (["init"], ["import", "mtbench", str(SAMPLE_DATA / "mt_bench")]):
        assert runner.invoke(app, args, catch_exceptions=False).exit_code == 0
    args = ["compare", "--set", "mt_bench", "--a", "gpt-4", "--b", "claude-v1", "--voters", "expert_*"]
    result = runner.invoke(app, [*args, "--format", "json", "--rounds", "50"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    # the head-to-head share, counted straight from the vendored votes file
    direct = [
        r
        for r in map(json.loads, HUMAN_VOTES.read_text().splitlines())
        if r["judge"].startswith("expert_") and {r["model_a"], r["model_b"]} == {"gpt-4", "claude-v1"}
    ]
    points = sum(0.5 if r["winner"].startswith("tie") else float(r[r["winner"]] == "gpt-4") for r in direct)
    assert data["head_to_head"]["n_votes"] == len(direct)
    assert data["head_to_head"]["win_rate_a"] == pytest.approx(points / len(direct))
    assert data["rating_difference"]["rounds"] == 50 and data["method"]["order_rule"] == "agree"
    table = runner.invoke(app, [*args, "--rounds", "20"], catch_exceptions=False).output
    assert "rating A - B" in table and "P(A better)" in table
