"""Prompt tagging: rubric rules (hard = 6 of 7), strict parsing, a tagging run through the fake provider with
provenance and caching, and leaderboards / win rates by tag."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from sqlmodel import col, select
from typer.testing import CliRunner

from judge.cli import app
from judge.core.tagging import load_tag_rubric, parse_criteria, tags_of
from judge.core.types import Winner
from judge.importers.bundle import ImportBundle
from judge.importers.records import PromptRecord, ResponseRecord, VoteRecord
from judge.llm.client import LiteLLMClient
from judge.llm.retry import RetryPolicy
from judge.runs.request import JudgeSpec
from judge.runs.tagging import tag_prompts
from judge.store.engine import session_scope
from judge.store.ingest import write_bundle
from judge.store.tables import Verdict
from judge.testing.fake_provider import FakeProvider

HARD = load_tag_rubric("arena-hard")
SIX = {c: c != "creativity" for c in HARD.criteria}
FIVE = {c: c not in ("creativity", "real_world") for c in HARD.criteria}


def test_hard_needs_six_of_seven_and_domains_tag_each_met_criterion() -> None:
    assert tags_of(HARD, SIX) == ["hard"] and tags_of(HARD, FIVE) == []
    domains = load_tag_rubric("domains")
    assert tags_of(domains, {"math": True, "coding": True, "creative_writing": False}) == ["math", "coding"]


def test_parsing_is_strict() -> None:
    assert parse_criteria(HARD, "Here: " + json.dumps(SIX)) == SIX
    assert parse_criteria(HARD, json.dumps({**SIX, "complexity": "yes"})) is None
    assert parse_criteria(HARD, json.dumps({k: v for k, v in SIX.items() if k != "real_world"})) is None
    assert parse_criteria(HARD, "hard") is None


def bundle() -> ImportBundle:
    """Four prompts (two of them 'HARD' ones), three models; 'x' wins the hard prompts, 'y' the easy ones."""
    prompts = [
        PromptRecord(prompt_id=f"p{i}", turns=[("HARD task " if i < 2 else "easy task ") + str(i)]) for i in range(4)
    ]
    responses = [ResponseRecord(prompt_id=f"p{i}", model=m, turns=[f"{m}{i}"]) for i in range(4) for m in "xyz"]
    votes = [
        VoteRecord(prompt_id=f"p{i}", model_a=a, model_b=b, winner=w, voter="h")
        for i in range(4)
        for a, b, w in (
            ("x", "y", Winner.MODEL_A if i < 2 else Winner.MODEL_B),
            ("y", "z", Winner.MODEL_A),
            ("x", "z", Winner.MODEL_A if i != 3 else Winner.MODEL_B),
        )
    ]
    return ImportBundle(prompts=prompts, responses=responses, votes=votes)


@pytest.fixture
def tagged(sqlite_url: str, fake_provider: FakeProvider) -> str:
    from judge.store.engine import make_engine, upgrade_database

    upgrade_database(sqlite_url)
    engine = make_engine(sqlite_url)
    with session_scope(engine) as session:
        write_bundle(session, set_name="t", bundle=bundle())
    fake_provider.script(  # type: ignore[arg-type]
        rules=[{"contains": "HARD task", "behaviour": {"kind": "reply", "content": json.dumps(SIX)}}],
        default={"kind": "reply", "content": json.dumps(FIVE)},
    )
    judge = JudgeSpec(model="openai/tagger", api_base=fake_provider.url)
    client = LiteLLMClient(RetryPolicy(max_attempts=2, base_s=0.01, cap_s=0.05))
    first = asyncio.run(tag_prompts(engine, set_name="t", judge=judge, rubric=HARD, client=client))
    again = asyncio.run(tag_prompts(engine, set_name="t", judge=judge, rubric=HARD, client=client))
    assert (first.ok, first.cached, first.tags) == (4, 0, {"hard": 2})
    assert (again.ok, again.cached) == (0, 4)  # nothing is judged twice
    with session_scope(engine) as session:
        rows = list(session.exec(select(Verdict).where(col(Verdict.mode) == "tag")))
    assert len(rows) == 4 and {r.rubric_id for r in rows} == {"tags/arena-hard"}
    assert sorted(r.label or "" for r in rows) == ["", "", "hard", "hard"]
    assert all(r.judge_model == "openai/tagger" and r.raw_output for r in rows)
    engine.dispose()
    return sqlite_url


def test_leaderboard_and_winrate_by_tag(tagged: str, judge_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    judge_env.setenv("JUDGE_DATABASE_URL", tagged)
    runner = CliRunner()

    def run(*args: str) -> str:
        result = runner.invoke(app, list(args), catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.output

    out = run(
        "tag", "--set", "t", "--judge", "openai/tagger", "--api-base", "http://127.0.0.1:9", "--rubric", "arena-hard"
    )
    assert "4 prompts, 4 already tagged, 0 tagged" in out and "tags found: none" in out
    data = json.loads(run("leaderboard", "--set", "t", "--by", "tag:hard", "--bootstrap", "20", "--format", "json"))
    assert set(data["categories"]) == {"tag:hard", "tag:!hard"}
    assert data["categories"]["tag:hard"][0]["n_votes"] == 6 and data["categories"]["tag:hard"][0]["model"] == "x"
    assert data["categories"]["tag:!hard"][0]["model"] == "y"
    rates = json.loads(run("winrate", "--set", "t", "--baseline", "y", "--category", "tag:hard", "--format", "json"))
    assert {r["model"]: r["win_rate"] for r in rates} == {"x": 100.0, "z": 0.0}
