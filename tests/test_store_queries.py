"""Set summaries on SQLite and PostgreSQL: conflicting voter-units counted in SQL, as the pure count does."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from judge.analysis.reports import agreement_report
from judge.cli import app
from judge.core.types import Winner
from judge.importers.bundle import ImportBundle
from judge.importers.records import PromptRecord, ResponseRecord, VoteRecord
from judge.metrics.units import voter_conflicts
from judge.store.engine import get_engine, session_scope
from judge.store.ingest import write_bundle
from judge.store.queries import get_set, load_pair_votes, summarize_set

MODELS = ("x", "y", "z")


def conflict_bundle() -> ImportBundle:
    def v(voter: str, a: str, b: str, winner: Winner, prompt: str = "p1", turn: int = 1) -> VoteRecord:
        return VoteRecord(prompt_id=prompt, model_a=a, model_b=b, winner=winner, voter=voter, turn=turn)

    return ImportBundle(
        prompts=[PromptRecord(prompt_id=p, turns=["q1", "q2"]) for p in ("p1", "p2")],
        responses=[ResponseRecord(prompt_id=p, model=m, turns=["r1", "r2"]) for p in ("p1", "p2") for m in MODELS],
        votes=[
            v("ann", "x", "y", Winner.MODEL_A),
            v("ann", "y", "x", Winner.MODEL_A),  # opposite, listed the other way round
            v("ann", "x", "z", Winner.MODEL_A),
            v("ann", "z", "x", Winner.MODEL_B),  # the same preference listed the other way round: no conflict
            v("bob", "x", "y", Winner.TIE),
            v("bob", "x", "y", Winner.MODEL_B),  # a tie and a win: conflict
            v("bob", "x", "y", Winner.MODEL_A, turn=2),
            v("bob", "x", "y", Winner.MODEL_B, prompt="p2"),
            v("cat", "x", "y", Winner.TIE, prompt="p2"),
            v("cat", "y", "x", Winner.TIE_BOTHBAD, prompt="p2"),  # two ties: no conflict
            v("anonymous", "x", "y", Winner.MODEL_A, prompt="p2"),
            v("anonymous", "x", "y", Winner.MODEL_B, prompt="p2"),  # nobody named: not counted
        ],
    )


def test_conflicting_votes_are_kept_and_counted(engine: Engine) -> None:
    with session_scope(engine) as session:
        counts = write_bundle(session, set_name="s", bundle=conflict_bundle())
    assert counts.votes_added == 12  # every vote kept
    with session_scope(engine) as session:
        prompt_set = get_set(session, name="s")
        summary = summarize_set(session, prompt_set=prompt_set)
        pure = voter_conflicts(load_pair_votes(session, prompt_set=prompt_set))
        report = agreement_report(session, a="human", b="human", set_name="s", voters=None, by=None)
    assert (summary.votes, summary.conflicts) == (12, 2)
    assert pure.conflicting == summary.conflicts
    assert report["conflicts"]["a"]["conflicting"] == 2 and report["conflicts"]["treatment"].startswith("kept")


def test_judge_sets_and_agreement_show_conflicts(judge_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'sets.db'}"
    judge_env.setenv("JUDGE_DATABASE_URL", url)
    judge_env.setenv("COLUMNS", "200")
    runner = CliRunner()
    assert runner.invoke(app, ["init"]).exit_code == 0
    with session_scope(get_engine(url)) as session:
        write_bundle(session, set_name="s", bundle=conflict_bundle())
    shown = runner.invoke(app, ["sets"])
    assert shown.exit_code == 0, shown.output
    lines = [line.replace("┃", "│").strip().strip("│") for line in shown.output.splitlines()]
    columns = [c.strip() for c in next(line for line in lines if "conflicts" in line).split("│")]
    cells = [c.strip() for c in next(line for line in lines if line.strip().startswith("s ")).split("│")]
    assert cells[columns.index("conflicts")] == "2"

    table = runner.invoke(app, ["agreement", "--set", "s", "--a", "human", "--b", "human"])
    assert table.exit_code == 0 and "conflicting voter-units" in table.output and "a 2 of" in table.output
    data = json.loads(
        runner.invoke(app, ["agreement", "--set", "s", "--a", "human", "--b", "human", "--format", "json"]).output
    )
    assert data["conflicts"]["a"]["conflicting"] == 2
    rows = runner.invoke(app, ["agreement", "--set", "s", "--a", "human", "--b", "human", "--format", "csv"]).output
    assert "conflicts,a,conflicting_voter_units,2," in rows
