"""Leaderboards per category (own fit each, rank shifts), significance matrix and rank bands, on real votes."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from typer.testing import CliRunner

from judge.cli import app
from tests.paths import HUMAN_VOTES, SAMPLE_DATA

runner = CliRunner()


def judge(*args: str) -> str:
    result = runner.invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture
def mtbench_db(judge_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    judge_env.setenv("JUDGE_DATABASE_URL", f"sqlite:///{tmp_path / 'boards.db'}")
    judge_env.setenv("COLUMNS", "200")
    judge("init")
    judge("import", "mtbench", str(SAMPLE_DATA / "mt_bench"))


def test_each_category_gets_its_own_board_with_rank_shifts(mtbench_db: None) -> None:
    questions = {
        q["question_id"]: q["category"]
        for q in map(json.loads, (SAMPLE_DATA / "mt_bench" / "question.jsonl").read_text().splitlines())
    }
    expected = Counter(questions[v["question_id"]] for v in map(json.loads, HUMAN_VOTES.read_text().splitlines()))
    data = json.loads(
        judge("leaderboard", "--set", "mt_bench", "--by", "category", "--bootstrap", "20", "--format", "json")
    )
    assert set(data["categories"]) == set(expected)
    overall = {row["model"]: k for k, row in enumerate(data["overall"], start=1)}
    for name, rows in data["categories"].items():
        assert rows[0]["n_votes"] == expected[name] and rows[0]["method"]["votes"]["category"] == name
        for position, row in enumerate(rows, start=1):
            assert row["position"] == position and row["rank_shift"] == overall[row["model"]] - position
    table = judge("leaderboard", "--set", "mt_bench", "--by", "category", "--bootstrap", "20")
    assert "category writing" in table and "shift" in table


def test_one_category_and_the_significance_matrix(mtbench_db: None) -> None:
    rows = json.loads(
        judge("leaderboard", "--set", "mt_bench", "--category", "math", "--bootstrap", "100", "--format", "json")
    )
    assert rows[0]["method"]["votes"] == {
        "order_rule": "agree",
        "order_rule_means": rows[0]["method"]["votes"]["order_rule_means"],
        "category": "math",
    }
    by_model = {r["model"]: r for r in rows}
    for row in rows:
        low, high = row["rank_band"]
        assert 1 <= low <= high <= len(rows)
        for other in row["significantly_better_than"]:
            # a model is only ever significantly better than a model it is rated above
            assert by_model[other]["rating"] < row["rating"]
    assert any(r["significantly_better_than"] for r in rows)  # gpt-4 vs llama-13b is not a close call
    table = judge("leaderboard", "--set", "mt_bench", "--bootstrap", "100")
    assert "significance (Holm-corrected" in table and "rank band" in table
