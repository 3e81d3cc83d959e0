"""The evaluation-format commands end to end on SQLite: imports of real excerpts, win rates, order rules."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from judge.cli import app
from tests.paths import REPO

runner = CliRunner()
FORMATS = REPO / "tests" / "fixtures" / "formats"
ALPACA_EXCERPT = FORMATS / "alpacaeval" / "annotations_alpaca-7b_excerpt.json"
ALPACA_LEADERBOARD = FORMATS / "alpacaeval" / "alpaca_eval_gpt4_leaderboard.csv"


def judge(*args: str) -> str:
    result = runner.invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture
def empty_db(judge_env: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    db = tmp_path / "eval.db"
    judge_env.setenv("JUDGE_DATABASE_URL", f"sqlite:///{db}")
    judge_env.setenv("COLUMNS", "200")
    judge("init")
    return db


def test_alpacaeval_import_is_idempotent_and_winrate_matches_hand_figures(empty_db: Path) -> None:
    first = judge("import", "alpacaeval", str(ALPACA_EXCERPT), "--set", "ae")
    assert "+4 prompts" in first and "+8 responses" in first and "+4 votes" in first
    assert "+0 prompts, +0 references, +0 responses, +0 votes" in judge(
        "import", "alpacaeval", str(ALPACA_EXCERPT), "--set", "ae"
    )
    rows = json.loads(judge("winrate", "--set", "ae", "--baseline", "text_davinci_003", "--format", "json"))
    [row] = rows
    # alpaca-7b won 1 of 4 items: 25 %; scores 0,0,0,1 have sample SD 0.5, so SE = 0.5 / 2 = 25 %
    assert (row["model"], row["n"], row["wins"], row["draws"], row["losses"]) == ("alpaca-7b", 4, 1, 0, 3)
    assert row["win_rate"] == pytest.approx(25.0) and row["standard_error"] == pytest.approx(25.0)
    assert row["method"]["order_rule"] == "agree" and row["method"]["baseline"] == "text_davinci_003"
    table = judge("winrate", "--set", "ae", "--baseline", "text_davinci_003", "--voters", "alpaca_eval_*")
    assert "25.00" in table and "alpaca-7b" in table
    parsed = list(
        csv.DictReader(io.StringIO(judge("winrate", "--set", "ae", "--baseline", "alpaca-7b", "--format", "csv")))
    )
    assert parsed[0]["model"] == "text_davinci_003" and float(parsed[0]["win_rate"]) == pytest.approx(75.0)
    missing = runner.invoke(app, ["winrate", "--set", "ae", "--baseline", "text_davinci_003", "--voters", "human*"])
    assert missing.exit_code == 2 and "no votes involve the baseline" in missing.output


@pytest.mark.parametrize(
    ("model", "votes", "win_rate", "standard_error"),
    [
        # 740 wins, 62 losses, 1 draw (preference 0.0), 2 null preferences dropped: (740 + 0.5) / 803 = 92.2167 %;
        # the sample SD of 740 ones, one 0.5 and 62 zeros is 0.26750, and 0.26750 / sqrt(803) = 0.9440 %.
        ("LMCocktail-10.7B-v1", 803, 92.22, 0.94),
        # 205 wins, 584 losses, 16 draws (preference 0): (205 + 8) / 805 = 26.4596 %; SD 0.43574 / sqrt(805) = 1.5357 %.
        ("alpaca-7b", 805, 26.46, 1.54),
    ],
)
def test_a_real_annotation_file_reproduces_the_published_alpacaeval_1_row(
    empty_db: Path, model: str, votes: int, win_rate: float, standard_error: float
) -> None:
    """All 805 real GPT-4 annotations of a model vs text_davinci_003 (texts shortened, preferences as published)."""
    out = judge(
        "import", "alpacaeval", str(FORMATS / "alpacaeval" / f"annotations_{model}_shortened.json"), "--set", "ae"
    )
    assert "+805 prompts" in out and f"+{votes} votes" in out
    published = next(row for row in csv.DictReader(ALPACA_LEADERBOARD.open()) if row[""] == model)
    rows = json.loads(judge("winrate", "--set", "ae", "--baseline", "text_davinci_003", "--format", "json"))
    [row] = rows
    assert (row["model"], row["n"], row["wins"], row["draws"], row["losses"]) == (
        model,
        int(published["n_total"]),
        int(published["n_wins"]),
        int(published["n_draws"]),
        int(published["n_wins_base"]),
    )
    assert round(row["win_rate"], 2) == round(float(published["win_rate"]), 2) == win_rate
    assert round(row["standard_error"], 2) == round(float(published["standard_error"]), 2) == standard_error


def test_alpacaeval_bad_file_writes_nothing(empty_db: Path, tmp_path: Path) -> None:
    items = json.loads(ALPACA_EXCERPT.read_text())
    items[2]["preference"] = "2"
    bad = tmp_path / "annotations.json"
    bad.write_text(json.dumps(items, indent=2))
    result = runner.invoke(app, ["import", "alpacaeval", str(bad), "--set", "alpaca-bad"])
    assert result.exit_code == 2 and "annotations.json:26: preference: expected a number or null" in result.output
    assert "alpaca-bad" not in judge("sets")


def test_arenahard_import_and_score(empty_db: Path) -> None:
    bench = str(FORMATS / "arenahard" / "bench")
    assert "+3 prompts" in judge("import", "arenahard", bench, "--baseline", "base", "--set", "ah")
    assert "+0 votes" in judge("import", "arenahard", bench, "--baseline", "base", "--set", "ah")
    rows = {r["model"]: r for r in json.loads(judge("arenahard", bench, "--baseline", "base", "--format", "json"))}
    assert rows["m1"]["score"] == pytest.approx(75.0) and rows["m2"]["score"] == pytest.approx(37.5)
    assert rows["m1"]["method"]["order_rule"] == "separate"
    # the imported games as plain votes (no 3x weight): m1 won q1 g1, q1 g2, q3 g2, tied q2 g1, lost q2 g2
    plain = {
        r["model"]: r for r in json.loads(judge("winrate", "--set", "ah", "--baseline", "base", "--format", "json"))
    }
    assert (plain["m1"]["n"], plain["m1"]["wins"], plain["m1"]["draws"]) == (5, 3, 1)
    assert plain["m1"]["win_rate"] == pytest.approx(70.0)
    game2 = json.loads(judge("winrate", "--set", "ah", "--baseline", "base", "--voters", "*/game2", "--format", "json"))
    assert {r["model"]: r["n"] for r in game2} == {"m1": 3, "m2": 3}


def test_arena_battles_import_is_idempotent_and_categories_filter(empty_db: Path) -> None:
    battles = str(FORMATS / "arena" / "clean_battle_sample.json")
    first = judge("import", "arena", battles, "--set", "arena")
    assert "+4 prompts" in first and "+6 responses" in first and "+4 votes" in first
    assert "+0 prompts, +0 references, +0 responses, +0 votes" in judge("import", "arena", battles, "--set", "arena")
    hard = json.loads(
        judge("winrate", "--set", "arena", "--baseline", "beta", "--category", "hard", "--format", "json")
    )
    # hard battles: b1 alpha beat beta; b2 beta-gamma tie (bothbad) -> alpha 100 %, gamma 50 %
    assert {r["model"]: r["win_rate"] for r in hard} == {"alpha": 100.0, "gamma": 50.0}
    assert hard[0]["method"]["category"] == "hard"


def test_real_arena_battles_import_once_and_give_hand_win_rates(empty_db: Path) -> None:
    battles = str(FORMATS / "arena" / "clean_battle_real_excerpt.json")
    first = judge("import", "arena", battles, "--set", "tw")
    # 2 battles, each with both sides' multi-turn answers stored as responses
    assert "+2 prompts" in first and "+4 responses" in first and "+2 votes" in first
    assert "+0 prompts, +0 references, +0 responses, +0 votes" in judge("import", "arena", battles, "--set", "tw")
    # claude-2.1 beat gemini-pro; gpt-3.5-turbo vs Llama-3-Taiwan-70B-Instruct was a tie (bothbad), scored 0.5
    lost = json.loads(judge("winrate", "--set", "tw", "--baseline", "claude-2.1", "--format", "json"))
    tied = json.loads(judge("winrate", "--set", "tw", "--baseline", "Llama-3-Taiwan-70B-Instruct", "--format", "json"))
    assert [(r["model"], r["win_rate"]) for r in lost] == [("gemini-pro", 0.0)]
    assert [(r["model"], r["win_rate"]) for r in tied] == [("gpt-3.5-turbo", 50.0)]


def test_judgebench_import_is_idempotent_and_refuses_a_bad_file_whole(empty_db: Path, tmp_path: Path) -> None:
    pairs = FORMATS / "judgebench" / "judgebench_internlm2-7b-reward_excerpt.jsonl"
    first = judge("import", "judgebench", str(pairs), "--set", "jb")
    assert "+2 prompts" in first and "+4 responses" in first and "+2 votes" in first
    assert "+0 prompts, +0 references, +0 responses, +0 votes" in judge(
        "import", "judgebench", str(pairs), "--set", "jb"
    )
    lines = pairs.read_text().splitlines()
    bad = tmp_path / "pairs.jsonl"
    bad.write_text(lines[0] + "\n" + lines[1].replace('"label": "A>B"', '"label": "A=B"') + "\n")
    result = runner.invoke(app, ["import", "judgebench", str(bad), "--set", "jb-bad"])
    assert result.exit_code == 2 and "pairs.jsonl:2: label: expected 'A>B' or 'B>A'" in result.output
    assert "jb-bad" not in judge("sets")


def test_winrate_length_controlled_column(empty_db: Path) -> None:
    judge("import", "alpacaeval", str(ALPACA_EXCERPT), "--set", "ae")
    args = ["winrate", "--set", "ae", "--baseline", "text_davinci_003", "--length-controlled"]
    [row] = json.loads(judge(*args, "--format", "json"))
    assert 0.0 < row["length_controlled_win_rate"] < 100.0
    assert "sigmoid(theta)" in row["method"]["length_controlled"]
    assert "length-controlled" in judge(*args)
