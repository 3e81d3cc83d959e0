"""Verifiable correctness on the command line (SQLite, vendored sample): import gold and labels, grade with
`judge run --judge grader:auto`, audit in table/JSON/CSV, grader agreement, correctness-aware leaderboard, export."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from judge.cli import app
from tests.paths import MT_BENCH

runner = CliRunner()
GOLD = str(MT_BENCH / "gold_answers.jsonl")
AUDIT = ("audit", "--set", "mt_bench", "--source", "human", "--voters", "expert_*")


def judge(*args: str) -> str:
    result = runner.invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def fails(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 2, result.output
    return result.output


@pytest.fixture
def graded(judge_env: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    db = tmp_path / "cli.db"
    judge_env.setenv("JUDGE_DATABASE_URL", f"sqlite:///{db}")
    judge_env.setenv("COLUMNS", "200")
    judge("init")
    judge("import", "mtbench", str(MT_BENCH))
    assert "+17 gold answers" in judge("import", "gold", GOLD, "--set", "mt_bench")
    assert "+0 gold answers, 0 replaced, 17 unchanged" in judge("import", "gold", GOLD, "--set", "mt_bench")
    out = judge("run", "--set", "mt_bench", "--judge", "grader:auto")
    assert "102 verdicts planned" in out and "102 / 0 / 0 / 0" in out
    return db


def test_rerun_reuses_every_grader_verdict_and_export_carries_the_extraction(graded: Path, tmp_path: Path) -> None:
    again = judge("run", "--set", "mt_bench", "--judge", "grader:auto")
    assert "0 / 102" in again  # judge calls this time / reused
    out = tmp_path / "verdicts.jsonl"
    judge("export", "verdicts", "--run", "1", "--out", str(out))
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 102
    assert {r["correctness"] for r in rows} <= {"correct", "incorrect", "no_answer"}
    assert all(("extracted_answer" in r and "extraction_rule" in r) for r in rows)
    assert all((r["extracted_answer"] is None) == (r["correctness"] == "no_answer") for r in rows)


def test_bad_gold_and_unknown_graders_exit_2_with_what_and_where(graded: Path, tmp_path: Path) -> None:
    bad = tmp_path / "gold.jsonl"
    bad.write_text('{"question_id": 111, "type": "number", "answer": 3}\n{"question_id": 112, "type": "date"}\n')
    out = fails("import", "gold", str(bad), "--set", "mt_bench")
    assert "gold.jsonl:2: type: unknown answer type 'date'; known types: number, choice, word" in out
    out = fails("run", "--set", "mt_bench", "--judge", "grader:psychic")
    assert "unknown grader 'psychic'; known graders: auto, numeric" in out
    out = fails(*AUDIT, "--grader", "grader:auto@lenient")
    assert "unknown extraction rule 'lenient'" in out


def test_audit_in_table_json_and_csv(graded: Path) -> None:
    table = judge(*AUDIT, "--grader", "grader:auto")
    assert "preferred but wrong (not-correct beat correct):" in table
    assert "by voter" in table and "by category" in table and "ties by the pair's correctness" in table
    data = json.loads(judge(*AUDIT, "--grader", "grader:auto", "--format", "json"))
    pbw, both = data["preferred_but_wrong"], data["both_incorrect_preferred"]
    assert pbw["n"] > 0 and both["n"] > 0 and 0 <= pbw["count"] <= pbw["n"] and 0 <= both["count"] <= both["n"]
    assert data["n_votes"] == 1343
    by_model = data["preferred_but_wrong_by_model"]
    assert sum(b["n"] for b in by_model.values()) == pbw["n"]
    assert sum(b["count"] for b in data["preferred_but_wrong_by_voter"].values()) == pbw["count"]
    rows = list(csv.DictReader(io.StringIO(judge(*AUDIT, "--grader", "grader:auto", "--format", "csv"))))
    first = rows[0]
    assert (first["group_by"], first["metric"], int(first["count"]), int(first["n"])) == (
        "all",
        "preferred_but_wrong",
        pbw["count"],
        pbw["n"],
    )
    assert {r["group_by"] for r in rows} == {"all", "by_model", "by_category", "by_voter", "pair_correctness"}
    assert all(r["ci_low"] != "" for r in rows if int(r["n"]) > 0)


def test_labels_are_a_correctness_source_wherever_a_grader_is(graded: Path, tmp_path: Path) -> None:
    labels = tmp_path / "labels.csv"
    labels.write_text(
        "prompt_id,model,label,note\n"
        "111,gpt-4,incorrect,says 0\n"
        "111,claude-v1,incorrect,\n"
        "111,llama-13b,correct,\n"
        "112,gpt-4,correct,\n"
    )
    assert "+4 labels" in judge("import", "labels", str(labels), "--set", "mt_bench", "--source", "people")
    bad = tmp_path / "bad.csv"
    bad.write_text("prompt_id,model,label\n111,gpt-4,sort of\n")
    assert "bad.csv:2: label: expected one of correct" in fails(
        "import", "labels", str(bad), "--set", "mt_bench", "--source", "people"
    )
    data = json.loads(
        judge(
            "agreement",
            "--grader-a",
            "grader:auto",
            "--grader-b",
            "labels:people",
            "--set",
            "mt_bench",
            "--format",
            "json",
        )
    )
    assert data["n_shared"] == 4 and data["n_b"] == 4 and data["sources"]["kind_b"] == "labels"
    audit = json.loads(judge(*AUDIT, "--grader", "labels:people", "--format", "json"))
    assert audit["method"]["grader_kind"] == "labels"
    assert "no labels from source 'nobody'" in fails(*AUDIT, "--grader", "labels:nobody")


def test_strict_versus_flexible_extraction_on_the_same_responses(graded: Path) -> None:
    args = ("agreement", "--grader-a", "grader:auto@strict", "--grader-b", "grader:auto@flexible", "--set", "mt_bench")
    data = json.loads(judge(*args, "--format", "json"))
    assert data["n_shared"] == 102
    assert data["n_disagree"] == 102 - data["all"]["accuracy"]["count"]
    assert set(data["by_model"]) == {
        "alpaca-13b",
        "claude-v1",
        "gpt-3.5-turbo",
        "gpt-4",
        "llama-13b",
        "vicuna-13b-v1.2",
    }
    table = judge(*args)
    assert "per-model accuracy" in table and "shift (points)" in table
    rows = list(csv.DictReader(io.StringIO(judge(*args, "--format", "csv"))))
    assert {r["metric"] for r in rows} >= {"accuracy", "kappa", "accuracy_a", "accuracy_b"}


def test_correctness_aware_leaderboard_takes_a_grader(graded: Path) -> None:
    rows = json.loads(
        judge(
            "leaderboard",
            "--set",
            "mt_bench",
            "--voters",
            "expert_*",
            "--correctness",
            "--grader",
            "grader:auto",
            "--bootstrap",
            "20",
            "--format",
            "json",
        )
    )
    assert len(rows) == 6 and all(r.get("correctness_rating") is not None for r in rows)
