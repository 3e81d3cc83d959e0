"""The command line end to end on the vendored sample (SQLite), with the fake provider as the judge."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from judge.cli import app
from judge.testing.fake_provider import FakeProvider
from tests.paths import SAMPLE_DATA

runner = CliRunner()
HUMAN_VOTES = str(SAMPLE_DATA / "mt_bench" / "human_judgments_turn1.jsonl")


def judge(*args: str) -> str:
    result = runner.invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture
def cli_db(judge_env: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    db = tmp_path / "cli.db"
    judge_env.setenv("JUDGE_DATABASE_URL", f"sqlite:///{db}")
    judge_env.setenv("COLUMNS", "200")
    judge("init")
    judge("import", "mtbench", str(SAMPLE_DATA / "mt_bench"))
    return db


def test_import_is_idempotent_and_export_round_trips(cli_db: Path, tmp_path: Path) -> None:
    again = judge("import", "mtbench", str(SAMPLE_DATA / "mt_bench"))
    assert "+0 prompts, +0 references, +0 responses, +0 votes" in again
    out = tmp_path / "experts.jsonl"
    judge("export", "votes", "--set", "mt_bench", "--voters", "expert_*", "--out", str(out))
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 1343 and all(r["voter"].startswith("expert_") for r in rows)
    assert "+1343 votes" in judge("import", "votes", str(out), "--set", "mt_bench", "--source", "reimport")
    assert "+0 votes" in judge("import", "votes", str(out), "--set", "mt_bench", "--source", "reimport")


def test_bad_file_fails_with_location_and_exit_code_2(cli_db: Path, tmp_path: Path) -> None:
    bad = tmp_path / "votes.jsonl"
    bad.write_text('{"prompt_id": "81", "model_a": "gpt-4", "model_b": "llama-13b", "winner": "draw"}\n')
    result = runner.invoke(app, ["import", "votes", str(bad), "--set", "mt_bench"])
    assert result.exit_code == 2
    assert "votes.jsonl:1: winner: expected one of 'model_a', 'model_b', 'tie', 'tie (bothbad)'" in result.output


def test_agreement_reproduces_the_published_mtbench_figure(cli_db: Path) -> None:
    table = judge("agreement", "--a", HUMAN_VOTES, "--b", HUMAN_VOTES, "--voters", "expert_*")
    assert "454/721" in table and "388/479" in table
    data = json.loads(
        judge("agreement", "--a", HUMAN_VOTES, "--b", HUMAN_VOTES, "--voters", "expert_*", "--format", "json")
    )
    assert (data["with_ties"]["agree"], data["with_ties"]["total"]) == (454, 721)
    assert (data["without_ties"]["agree"], data["without_ties"]["total"]) == (388, 479)
    assert {"kappa", "confusion", "n_units", "method"} <= set(data)
    csv_rows = list(
        csv.DictReader(
            io.StringIO(
                judge("agreement", "--a", HUMAN_VOTES, "--b", HUMAN_VOTES, "--voters", "expert_*", "--format", "csv")
            )
        )
    )
    with_ties = next(r for r in csv_rows if r["metric"] == "with_ties")
    assert (with_ties["count"], with_ties["total"], with_ties["group"]) == ("454", "721", "all")
    by_category = json.loads(
        judge(
            "agreement",
            "--set",
            "mt_bench",
            "--a",
            "human",
            "--b",
            "human",
            "--voters",
            "expert_*",
            "--by",
            "category",
            "--format",
            "json",
        )
    )
    assert sum(g["with_ties"]["total"] for g in by_category["groups"].values()) == 721


def test_leaderboard_json_rows(cli_db: Path) -> None:
    data = json.loads(
        judge("leaderboard", "--set", "mt_bench", "--voters", "expert_*", "--bootstrap", "50", "--format", "json")
    )
    rows = data  # a list of rows, each with its method card
    assert {r["model"] for r in rows} == {
        "gpt-4",
        "gpt-3.5-turbo",
        "claude-v1",
        "vicuna-13b-v1.2",
        "alpaca-13b",
        "llama-13b",
    }
    assert rows[0]["model"] == "gpt-4" and rows[-1]["model"] == "llama-13b"
    assert all({"model", "rating", "ci_low", "ci_high", "rank", "n_battles"} <= set(r) for r in rows)
    assert all(r["method"]["raw"]["bootstrap_rounds"] == 50 for r in rows)


def test_run_export_agreement_and_audit_with_a_judge(cli_db: Path, fake_provider: FakeProvider) -> None:
    fake_provider.script(
        rules=[
            {
                "contains": "reference",
                "behaviour": {"kind": "reply", "content": '{"reason": "matches", "verdict": "correct"}'},
            }
        ],
        default={"kind": "position_biased"},  # type: ignore[arg-type]
    )
    base = ["--set", "mt_bench", "--judge", "openai/fake", "--api-base", fake_provider.url, "--voters", "expert_*"]
    summary = judge("run", *base, "--limit", "6")
    assert "6 units, 12 verdicts planned" in summary and "position consistency" in summary
    exported = [json.loads(line) for line in judge("export", "verdicts", "--run", "1").splitlines()]
    assert [r["kind"] for r in exported].count("verdict") == 12
    combined = [r for r in exported if r["kind"] == "combined"]
    assert len(combined) == 6 and all(r["inconsistent"] and r["winner"] == "tie" for r in combined)
    again = judge("run", *base, "--limit", "6")
    assert re.search(r"judge calls this time / reused\s*│\s*0 / 12", again)

    data = json.loads(
        judge(
            "agreement",
            "--set",
            "mt_bench",
            "--a",
            "judge:openai/fake",
            "--b",
            "human",
            "--voters",
            "expert_*",
            "--format",
            "json",
        )
    )
    assert data["judge_diagnostics"]["openai/fake"]["position_consistency"]["rate"] == 0.0
    assert data["with_ties"]["total"] >= 6

    judge("run", *base, "--rubric", "correctness", "--limit", "4")
    audit = json.loads(
        judge("audit", "--set", "mt_bench", "--grader", "openai/fake", "--voters", "expert_*", "--format", "json")
    )
    assert audit["preferred_but_wrong"]["n"] == 0  # every graded answer is 'correct': nothing wrong to prefer
    assert audit["n_votes"] == 1343 and audit["method"]["grader"] == "openai/fake"
