"""Deterministic graders as judges: `judge run --judge grader:auto` plans, grades without any provider call,
stores verdicts like LLM ones, reuses them on a rerun, and every analysis reads them (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select

from judge.analysis.reports import audit_report, grader_agreement_report
from judge.analysis.sources import correctness_grades
from judge.analysis.verdict_export import verdict_export_rows
from judge.core.errors import InputError
from judge.core.types import Correctness
from judge.importers.gold import read_gold
from judge.importers.mtbench import read_mtbench
from judge.llm.client import LiteLLMClient
from judge.runs.request import JudgeSpec, RunConfig
from judge.runs.service import RunProgress, create_run, execute_run, get_run
from judge.store.correctness import write_gold
from judge.store.engine import session_scope
from judge.store.ingest import write_bundle
from judge.store.queries import get_set
from judge.store.tables import Verdict
from judge.testing.fake_provider import Behaviour, FakeProvider
from tests.paths import MT_BENCH
from tests.toy import FAST_RETRIES

HUMAN_VOTED_MODELS = 6
GOLD_QUESTIONS = 17
NUMBER_QUESTIONS = 11


@pytest.fixture
def graded_set(engine: Engine) -> Engine:
    with session_scope(engine) as session:
        write_bundle(session, set_name="mt_bench", bundle=read_mtbench(MT_BENCH), source="human")
        write_gold(
            session, prompt_set=get_set(session, name="mt_bench"), records=read_gold(MT_BENCH / "gold_answers.jsonl")
        )
    return engine


def grader_config(*graders: str, **overrides: object) -> RunConfig:
    return RunConfig(
        set_name="mt_bench", judges=tuple(JudgeSpec(model=g) for g in graders), rubric="pairwise", **overrides
    )


def run(engine: Engine, cfg: RunConfig) -> tuple[int, RunProgress]:
    with session_scope(engine) as session:
        created, _ = create_run(session, config=cfg)
    assert created.id is not None
    return created.id, asyncio.run(execute_run(engine, created.id, LiteLLMClient(FAST_RETRIES)))


def test_a_grader_run_grades_every_gold_response_without_calling_a_provider(
    graded_set: Engine, fake_provider: FakeProvider
) -> None:
    fake_provider.script(default=Behaviour(kind="error", status=500))
    run_id, progress = run(graded_set, grader_config("grader:auto"))
    assert fake_provider.requests() == []
    assert progress.total == GOLD_QUESTIONS * HUMAN_VOTED_MODELS and progress.done == progress.total
    with session_scope(graded_set) as session:
        rows = list(session.exec(select(Verdict)))
        assert get_run(session, run_id=run_id).status == "completed"
    assert len(rows) == 102
    assert {(v.judge_model, v.mode, v.order, v.status, v.rubric_id) for v in rows} == {
        ("grader:auto", "correctness", "single", "ok", "gold")
    }
    assert all(v.cost_usd == 0 and v.prompt_tokens == 0 and v.completion_tokens == 0 for v in rows)
    assert all(v.latency_ms is not None and v.latency_ms >= 0 for v in rows)
    labels = Counter(v.label for v in rows)
    assert set(labels) <= {"correct", "incorrect", "no_answer"} and labels["correct"] > 0 and labels["incorrect"] > 0
    for v in rows:
        if v.label == "no_answer":
            assert v.extracted_answer is None and v.extraction_rule is None and v.answer_span_start is None
        else:
            assert v.extracted_answer and v.extraction_rule and v.answer_span_start is not None
            assert v.extraction_rule.split(":")[0] in ("strict", "flexible")
    # q104 (David's brothers): GPT-4's reference is right; none of the six models answers 0 (the issue's reading)
    with session_scope(graded_set) as session:
        grades = correctness_grades(session, prompt_set=get_set(session, name="mt_bench"), grader="grader:auto")
    assert len(grades) == 102
    assert all(grades[("104", m, 1)].label is not Correctness.CORRECT for m in {k[1] for k in grades})


def test_a_rerun_reuses_every_grader_verdict(graded_set: Engine, fake_provider: FakeProvider) -> None:
    run(graded_set, grader_config("grader:auto"))
    _, again = run(graded_set, grader_config("grader:auto"))
    assert (again.cached, again.done) == (102, 0)
    with session_scope(graded_set) as session:  # another grader id is another verdict; it grades numbers only
        _, plan = create_run(session, config=grader_config("grader:numeric@flexible", models=("gpt-4",)))
    assert len(plan.items) == NUMBER_QUESTIONS
    assert plan.skipped == {
        "grader:numeric@flexible does not grade all_of answers": 1,
        "grader:numeric@flexible does not grade word answers": 3,
        "grader:numeric@flexible does not grade choice answers": 2,
    }
    _, other_rule = run(graded_set, grader_config("grader:numeric@flexible", models=("gpt-4",)))
    assert other_rule.done == NUMBER_QUESTIONS
    with session_scope(graded_set) as session:
        assert len(list(session.exec(select(Verdict)))) == 102 + NUMBER_QUESTIONS


def test_unknown_graders_and_mixed_panels_are_refused(graded_set: Engine, fake_provider: FakeProvider) -> None:
    with pytest.raises(InputError, match="known graders: auto, numeric, choice, word, all_of, exact, regex"):
        run(graded_set, grader_config("grader:magic"))
    mixed = RunConfig(
        set_name="mt_bench",
        judges=(JudgeSpec(model="grader:auto"), JudgeSpec(model="openai/fake", api_base=fake_provider.url)),
        rubric="correctness",
    )
    with pytest.raises(InputError, match="either all graders"):
        run(graded_set, mixed)


def test_export_rows_carry_correctness_and_the_extraction(graded_set: Engine, fake_provider: FakeProvider) -> None:
    run_id, _ = run(graded_set, grader_config("grader:auto", models=("gpt-4", "claude-v1")))
    with session_scope(graded_set) as session:
        rows = verdict_export_rows(session, run=get_run(session, run_id=run_id))
    assert len(rows) == 2 * GOLD_QUESTIONS and all(r["kind"] == "verdict" for r in rows)
    assert all(r["correctness"] == r["label"] for r in rows)
    q112 = next(r for r in rows if r["prompt_id"] == "112" and r["model_a"] == "gpt-4")
    assert q112["correctness"] == "correct" and "12000" in q112["extracted_answer"].replace(",", "")
    assert q112["extraction_rule"]


def test_audit_and_grader_agreement_read_grader_verdicts(graded_set: Engine, fake_provider: FakeProvider) -> None:
    run(graded_set, grader_config("grader:auto"))
    with session_scope(graded_set) as session:
        audit = audit_report(session, set_name="mt_bench", source="human", grader="grader:auto", voters="expert_*")
        same = grader_agreement_report(session, a="grader:auto", b="grader:auto", set_name="mt_bench")
        strict = grader_agreement_report(session, a="grader:auto@strict", b="grader:auto@flexible", set_name="mt_bench")
    pbw = audit["preferred_but_wrong"]
    assert pbw["n"] > 0 and 0 <= pbw["count"] <= pbw["n"]
    assert audit["both_incorrect_preferred"]["n"] > 0
    assert audit["method"]["grader_kind"] == "grader"
    assert set(audit["ties_by_correctness"]) == {
        "both_correct",
        "correct_vs_not_correct",
        "both_not_correct",
        "partial_involved",
    }
    assert same["n_shared"] == 102 and same["all"]["accuracy"]["count"] == 102 and same["n_disagree"] == 0
    assert strict["n_shared"] == 102
    assert strict["n_disagree"] == 102 - strict["all"]["accuracy"]["count"]
