"""Agreement, gold accuracy and audit from the store, with judge verdicts made through the fake provider."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy.engine import Engine

from judge.analysis.reports import agreement_report, audit_report, gold_report
from judge.core.types import Winner
from judge.importers.bundle import ImportBundle
from judge.importers.llmbar import read_llmbar
from judge.importers.records import VoteRecord
from judge.runs.request import JudgeSpec
from judge.store.engine import session_scope
from judge.store.ingest import write_bundle
from judge.testing.fake_provider import FakeProvider
from tests.toy import PREFER_GOOD, PROMPTS, config, run


def test_known_agreement_and_position_consistency(sqlite_store: Engine, fake_provider: FakeProvider) -> None:
    # the humans voted 'good' everywhere; judge 'fair' prefers 'good' in both orders, 'biased' always says A
    fake_provider.script(rules=[{"model": "biased", "behaviour": {"kind": "position_biased"}}], default=PREFER_GOOD)  # type: ignore[arg-type]
    judges = tuple(JudgeSpec(model=f"openai/{name}", api_base=fake_provider.url) for name in ("fair", "biased"))
    run(sqlite_store, config(fake_provider, judges=judges))
    with session_scope(sqlite_store) as session:
        fair = agreement_report(session, a="judge:openai/fair", b="human", set_name="toy", voters=None, by="category")
        biased = agreement_report(session, a="judge:openai/biased", b="human", set_name="toy", voters=None, by=None)
    assert (fair["with_ties"]["agree"], fair["with_ties"]["total"]) == (PROMPTS, PROMPTS)
    assert fair["groups"]["math"]["with_ties"]["total"] == PROMPTS // 2
    assert fair["judge_diagnostics"]["openai/fair"]["position_consistency"]["rate"] == 1.0
    assert fair["judge_diagnostics"]["openai/fair"]["first_position_preference"]["rate"] == 0.5
    assert (biased["with_ties"]["agree"], biased["with_ties"]["total"]) == (0, PROMPTS)  # ties vs decisive votes
    assert biased["confusion"]["counts"][2] == [0, PROMPTS, 0]  # judge tie (row) vs human 'good' = model_b
    assert biased["judge_diagnostics"]["openai/biased"]["position_consistency"]["rate"] == 0.0
    assert biased["judge_diagnostics"]["openai/biased"]["first_position_preference"]["rate"] == 1.0


def test_gold_accuracy_counts_a_pair_only_when_both_orders_pick_the_gold(
    sqlite_store: Engine, fake_provider: FakeProvider, tmp_path: Path
) -> None:
    items = [
        {
            "input": f"task {i}",
            "output_1": f"GOLD {i}" if i % 3 else f"OTHER {i}",
            "output_2": f"OTHER {i}" if i % 3 else f"GOLD {i}",
            "label": 1 if i % 3 else 2,
        }
        for i in range(6)
    ]
    items[5]["label"] = 2  # the judge will miss this one: its GOLD-marked answer is not the gold one
    path = tmp_path / "pairs.json"
    path.write_text(json.dumps(items))
    with session_scope(sqlite_store) as session:
        write_bundle(session, set_name="gold", bundle=read_llmbar(path), source="gold")
    fake_provider.script(default={"kind": "prefer_marker", "marker": "GOLD", "rival": "OTHER"})  # type: ignore[arg-type]
    run(sqlite_store, config(fake_provider, set_name="gold"))
    with session_scope(sqlite_store) as session:
        result = gold_report(session, gold_set="gold", judge="judge:openai/fake-judge")
    assert (result["accuracy"]["count"], result["accuracy"]["n"]) == (5, 6)
    assert result["inconsistent_rate"]["count"] == 0


def test_audit_finds_the_preferred_but_wrong_answers(sqlite_store: Engine, fake_provider: FakeProvider) -> None:
    # a contrarian voter preferred 'bad' on even prompts; the grader calls 'good' correct and 'bad' incorrect
    contrarian = [
        VoteRecord(
            prompt_id=f"p{i}",
            model_a="good",
            model_b="bad",
            voter="contrarian",
            winner=Winner.MODEL_B if i % 2 == 0 else Winner.MODEL_A,
        )
        for i in range(PROMPTS)
    ]
    with session_scope(sqlite_store) as session:
        write_bundle(session, set_name="toy", bundle=ImportBundle(votes=contrarian))
    correct = '{"reason": "matches the reference", "verdict": "correct"}'
    fake_provider.script(
        rules=[{"contains": "MARKER-GOOD", "behaviour": {"kind": "reply", "content": correct}}],
        default={"kind": "reply", "content": '{"reason": "wrong result", "verdict": "incorrect"}'},  # type: ignore[arg-type]
    )
    run(sqlite_store, config(fake_provider, rubric="correctness"))
    with session_scope(sqlite_store) as session:
        audit = audit_report(session, set_name="toy", source="human", grader="openai/fake-judge", voters="contrarian")
    assert (audit["preferred_but_wrong"]["count"], audit["preferred_but_wrong"]["n"]) == (PROMPTS // 2, PROMPTS)
    bad = audit["preferred_but_wrong_by_model"]["bad"]  # bad was the incorrect side 6 times and won 3
    assert (bad["count"], bad["n"]) == (PROMPTS // 2, PROMPTS)
    assert audit["examples"] and audit["examples"][0]["winner_model"] == "bad"
    assert audit["examples"][0]["winner_grade"]["reason"] == "wrong result"
