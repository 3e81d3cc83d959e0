"""The judging engine end to end: plan → render → LiteLLM → fake provider over HTTP → parse → store."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from judge.llm.client import LiteLLMClient
from judge.runs.request import JudgeSpec
from judge.runs.service import execute_run, set_budget
from judge.store.engine import session_scope
from judge.testing.fake_provider import FakeProvider
from tests.toy import FAST_RETRIES, PREFER_GOOD, PROMPTS, config, run, summary, verdicts


def test_both_orders_agree_for_a_consistent_judge_and_rerun_is_free(store: Engine, fake_provider: FakeProvider) -> None:
    fake_provider.script(default=PREFER_GOOD)  # type: ignore[arg-type]
    run_id, progress = run(store, config(fake_provider))
    assert (progress.done, progress.ok, progress.cached) == (2 * PROMPTS, 2 * PROMPTS, 0)
    stored = verdicts(store)
    assert len(stored) == 2 * PROMPTS and {v.order for v in stored} == {"ab", "ba"}
    for v in stored:  # the winner is always 'good', in the pair's own orientation, whatever the order shown
        assert (v.model_a if v.winner == "model_a" else v.model_b) == "good"
        assert v.status == "ok" and v.structured_output and v.parse_rule == "json_schema"
        assert v.raw_output is not None and v.raw_output[v.parse_span_start : v.parse_span_end] == v.label
        assert v.prompt_tokens and v.completion_tokens and v.latency_ms is not None
        assert v.cost_usd is None  # a made-up model has no known price: null, not 0
    result = summary(store, run_id)
    assert result.combined == {"model_b": PROMPTS} and result.inconsistent == 0  # pairs are stored sorted: bad, good
    assert result.diagnostics["openai/fake-judge"]["position_consistency"]["rate"] == 1.0

    requests_before = len(fake_provider.requests())
    rerun_id, again = run(store, config(fake_provider))
    assert (again.done, again.cached, again.cost_usd) == (0, 2 * PROMPTS, 0.0)
    assert len(fake_provider.requests()) == requests_before
    assert len(verdicts(store)) == 2 * PROMPTS
    assert summary(store, rerun_id).combined == result.combined


def test_position_biased_judge_is_inconsistent_and_combined_to_ties(
    sqlite_store: Engine, fake_provider: FakeProvider
) -> None:
    fake_provider.script(default={"kind": "position_biased"})  # type: ignore[arg-type]
    run_id, _ = run(sqlite_store, config(fake_provider))
    result = summary(sqlite_store, run_id)
    assert result.combined == {"tie": PROMPTS} and result.inconsistent == PROMPTS
    diagnostics = result.diagnostics["openai/fake-judge"]
    assert diagnostics["position_consistency"]["rate"] == 0.0
    assert diagnostics["first_position_preference"]["rate"] == 1.0


def test_changing_rubric_or_params_makes_new_verdicts(sqlite_store: Engine, fake_provider: FakeProvider) -> None:
    fake_provider.script(default=PREFER_GOOD)  # type: ignore[arg-type]
    run(sqlite_store, config(fake_provider))
    _, other_rubric = run(sqlite_store, config(fake_provider, rubric="pairwise-5"))
    _, hotter = run(sqlite_store, config(fake_provider, sampling={"temperature": 0.7}))
    assert other_rubric.done == hotter.done == 2 * PROMPTS
    assert len(verdicts(sqlite_store)) == 6 * PROMPTS


def test_unparseable_output_is_kept_raw_and_never_a_verdict(sqlite_store: Engine, fake_provider: FakeProvider) -> None:
    fake_provider.script(default={"kind": "reply", "content": "Both are fine, I think. [[C]]"})  # type: ignore[arg-type]
    run_id, progress = run(sqlite_store, config(fake_provider))
    assert progress.unparseable == 2 * PROMPTS
    for v in verdicts(sqlite_store):
        assert (v.status, v.winner, v.label) == ("unparseable", None, None)
        assert (v.parse_rule, v.parse_span_start, v.parse_span_end) == (None, None, None)
        assert v.raw_output == "Both are fine, I think. [[C]]" and v.error
    assert summary(sqlite_store, run_id).combined == {"incomplete": PROMPTS}


def test_reask_recovers_once(sqlite_store: Engine, fake_provider: FakeProvider) -> None:
    fake_provider.script(
        rules=[{"contains": "Question", "times": 2 * PROMPTS, "behaviour": {"kind": "reply", "content": "no idea"}}],
        default=PREFER_GOOD,  # type: ignore[arg-type]
    )
    _, progress = run(sqlite_store, config(fake_provider, reask=True, concurrency=1))
    assert progress.ok == 2 * PROMPTS
    assert all("--- re-ask ---" in (v.raw_output or "") for v in verdicts(sqlite_store))
    for v in verdicts(sqlite_store):  # the span points into the stored text, past the first (unreadable) reply
        assert v.raw_output is not None and v.parse_span_start is not None
        assert v.parse_span_start > v.raw_output.index("--- re-ask ---")
        assert v.raw_output[v.parse_span_start : v.parse_span_end] == v.label


def test_failed_calls_are_stored_as_errors_and_resume_retries_only_them(
    sqlite_store: Engine, fake_provider: FakeProvider
) -> None:
    fake_provider.script(
        rules=[{"contains": "Question 1?", "behaviour": {"kind": "error", "status": 401, "message": "bad key"}}],
        default=PREFER_GOOD,  # type: ignore[arg-type]
    )
    run_id, progress = run(sqlite_store, config(fake_provider))
    assert (progress.ok, progress.error) == (2 * PROMPTS - 2, 2)
    errors = [v for v in verdicts(sqlite_store) if v.status == "error"]
    assert len(errors) == 2 and all(e.error == "auth failed" for e in errors)  # the classified reason only
    assert summary(sqlite_store, run_id).status == "completed"

    fake_provider.script(default=PREFER_GOOD)  # type: ignore[arg-type]
    before = len(fake_provider.requests())
    resumed = asyncio.run(execute_run(sqlite_store, run_id, LiteLLMClient(FAST_RETRIES)))
    assert (resumed.done, resumed.cached) == (2, 2 * PROMPTS - 2)
    assert len(fake_provider.requests()) == before + 2
    assert all(v.status == "ok" for v in verdicts(sqlite_store))


def test_max_cost_stops_scheduling(sqlite_store: Engine, fake_provider: FakeProvider) -> None:
    fake_provider.script(default=PREFER_GOOD)  # type: ignore[arg-type]
    priced = JudgeSpec(model="openai/gpt-4o-mini", api_base=fake_provider.url)
    run_id, progress = run(sqlite_store, config(fake_provider, judges=(priced,), concurrency=1, max_cost_usd=1e-9))
    assert progress.done == 1 and progress.cost_usd > 0
    assert progress.stopped is not None and "budget" in progress.stopped
    assert summary(sqlite_store, run_id).status == "stopped"
    assert len(verdicts(sqlite_store)) == 1

    # the budget is the run's: resuming does not spend it again; raising it judges exactly what is missing
    again = asyncio.run(execute_run(sqlite_store, run_id, LiteLLMClient(FAST_RETRIES)))
    assert again.done == 0 and again.stopped is not None
    with session_scope(sqlite_store) as session:
        set_budget(session, run_id=run_id, max_cost_usd=None)
    before = len(fake_provider.requests())
    rest = asyncio.run(execute_run(sqlite_store, run_id, LiteLLMClient(FAST_RETRIES)))
    assert (rest.done, rest.cached, rest.stopped) == (2 * PROMPTS - 1, 1, None)
    assert len(fake_provider.requests()) == before + 2 * PROMPTS - 1
    assert summary(sqlite_store, run_id).status == "completed"


def test_random_order_judges_one_seeded_order_per_unit(sqlite_store: Engine, fake_provider: FakeProvider) -> None:
    fake_provider.script(default=PREFER_GOOD)  # type: ignore[arg-type]
    run(sqlite_store, config(fake_provider, order="random", seed=7))
    first = sorted((v.prompt_id, v.order) for v in verdicts(sqlite_store))
    assert len(first) == PROMPTS
    with session_scope(sqlite_store) as session:
        session.exec(text("DELETE FROM verdict"))  # type: ignore[call-overload]
    run(sqlite_store, config(fake_provider, order="random", seed=7))
    assert sorted((v.prompt_id, v.order) for v in verdicts(sqlite_store)) == first


def test_panel_majority(sqlite_store: Engine, fake_provider: FakeProvider) -> None:
    judges = tuple(JudgeSpec(model=f"openai/judge-{i}", api_base=fake_provider.url) for i in range(3))
    fake_provider.script(
        rules=[{"model": "judge-2", "behaviour": {"kind": "position_biased"}}],
        default=PREFER_GOOD,  # type: ignore[arg-type]
    )
    run_id, _ = run(sqlite_store, config(fake_provider, judges=judges))
    result = summary(sqlite_store, run_id)
    assert result.combined == {"model_b": PROMPTS}  # good (model_b) wins by 2 of 3 judges everywhere
    assert len(result.diagnostics) == 3


def test_api_keys_never_reach_the_database(
    store: Engine, fake_provider: FakeProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "sk-test-DO-NOT-STORE-4242"
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    fake_provider.script(default=PREFER_GOOD)  # type: ignore[arg-type]
    run(store, config(fake_provider))
    with store.connect() as conn:
        for table in ("prompt_set", "prompt", "response", "vote", "run", "run_item", "verdict"):
            for row in conn.execute(text(f"SELECT * FROM {table}")):
                assert secret not in str(tuple(row)), table
