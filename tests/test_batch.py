"""``judge run --batch``: plan -> render -> LiteLLM's batch API -> the fake provider's /v1/files and /v1/batches
over HTTP -> parse -> store, with resume, partial failure, budget at the batch price, show, and the Celery round."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from judge.cli import app
from judge.core.errors import ConflictError, RetryableProviderError
from judge.core.types import RunStatus
from judge.llm.batch import BatchLine, BatchState, BatchTarget, LineResult, LiteLLMBatchApi, batch_price
from judge.llm.client import LiteLLMClient
from judge.llm.lite import litellm
from judge.runs.backends.batch_follow import follow_batch_run, submit_batch_run
from judge.runs.backends.unit import batch_step_sync
from judge.runs.batching import BatchDriver
from judge.runs.execution import Interrupt
from judge.runs.request import JudgeSpec
from judge.runs.service import (
    RunContext,
    RunProgress,
    cancel_run,
    create_run,
    execute_run,
    get_run,
    prepare_resume,
    set_budget,
)
from judge.settings import get_settings
from judge.store.engine import get_engine, session_scope
from judge.store.tables import Run
from judge.testing.fake_provider import FakeProvider
from judge.testing.local_cluster import RedisServer
from tests.test_api_celery import celery_api, wait_until_finished
from tests.test_api_fixtures import PROMPTS as API_PROMPTS
from tests.test_api_fixtures import Api, api, run_body, upload_set
from tests.toy import FAST_RETRIES, PREFER_GOOD, PROMPTS, config, summary, verdicts

__all__ = ["api", "celery_api"]

KEYS = 2 * PROMPTS


@pytest.fixture(autouse=True)
def fast_polls(judge_env: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """Batches polled every 20 ms (the fake moves one step per poll)."""
    judge_env.setenv("JUDGE_BATCH_POLL_S", "0.02")
    return judge_env


def new_batch_run(engine: Engine, provider: FakeProvider, **overrides: Any) -> int:
    with session_scope(engine) as session:
        created, _ = create_run(session, config=config(provider, batch=True, **overrides))
    assert created.id is not None
    return created.id


def execute(
    engine: Engine, run_id: int, api: Any = None, interrupt: Interrupt | None = None, on_progress: Any = None
) -> RunProgress:
    return asyncio.run(
        execute_run(
            engine,
            run_id,
            batch_api=api or LiteLLMBatchApi(FAST_RETRIES),
            interrupt=interrupt,
            on_progress=on_progress,
        )
    )


def run_status(engine: Engine, run_id: int) -> tuple[str, str | None]:
    with session_scope(engine) as session:
        run = session.get(Run, run_id)
        assert run is not None
        return run.status, run.note


def run_keys(engine: Engine, run_id: int) -> list[str]:
    with session_scope(engine) as session:
        return sorted(RunContext(session, get_run(session, run_id=run_id)).by_key)


def set_budget_of(session: Any, run_id: int, budget: float) -> None:
    set_budget(session, run_id=run_id, max_cost_usd=budget)


def keys_of_prompt(engine: Engine, run_id: int, external_id: str) -> list[str]:
    with session_scope(engine) as session:
        context = RunContext(session, get_run(session, run_id=run_id))
    return sorted(
        k for k, item in context.by_key.items() if context.catalog.prompts[item.prompt_id].external_id == external_id
    )


def test_a_batch_run_judges_every_key_in_one_batch_like_live_calls(store: Engine, fake_provider: FakeProvider) -> None:
    fake_provider.script(default=PREFER_GOOD)  # type: ignore[arg-type]
    run_id = new_batch_run(store, fake_provider)
    progress = execute(store, run_id)
    assert (progress.done, progress.ok, progress.stopped) == (KEYS, KEYS, None)
    assert run_status(store, run_id) == ("completed", None)

    batches = fake_provider.batches()
    assert len(batches) == 1 and batches[0]["status"] == "completed"
    assert sorted(batches[0]["custom_ids"]) == run_keys(store, run_id)  # custom_id = verdict key
    assert batches[0]["metadata"]["judge_run"] == str(run_id)
    assert fake_provider.counts()["received"] == 0  # no live call
    for v in verdicts(store):  # the same parse and provenance as a live call; latency: none per line
        assert (v.model_a if v.winner == "model_a" else v.model_b) == "good"
        assert v.status == "ok" and v.structured_output and v.parse_rule == "json_schema"
        assert v.raw_output is not None and v.raw_output[v.parse_span_start : v.parse_span_end] == v.label
        assert v.prompt_tokens and v.completion_tokens and v.attempts == 1
        assert v.latency_ms is None and v.cost_usd is None  # a made-up model has no price: null, not 0

    result = summary(store, run_id)
    assert result.combined == {"model_b": PROMPTS}
    assert result.batches is not None and len(result.batches) == 1
    shown = result.batches[0]
    assert (shown.status, shown.state, shown.lines, shown.completed, shown.failed) == (
        "completed",
        "collected",
        KEYS,
        KEYS,
        0,
    )
    assert shown.wall_s is not None and shown.wall_s >= 0
    assert "unknown" in result.method["batch"]["price"]["openai/fake-judge"]

    # the verdict keys are a live run's: judging the same live reuses every verdict, calls nothing
    with session_scope(store) as session:
        live, _ = create_run(session, config=config(fake_provider))
    assert live.id is not None
    again = asyncio.run(execute_run(store, live.id, batch_api=LiteLLMBatchApi(FAST_RETRIES)))
    assert (again.done, again.cached) == (0, KEYS)
    assert fake_provider.counts()["received"] == 0 and len(fake_provider.batches()) == 1


def test_an_interrupted_run_resumes_its_submitted_batch_instead_of_submitting_again(
    sqlite_store: Engine, fake_provider: FakeProvider
) -> None:
    fake_provider.script(default=PREFER_GOOD, batch={"hold": True})  # type: ignore[arg-type]
    run_id = new_batch_run(sqlite_store, fake_provider)
    interrupt = Interrupt()

    def stop_once_in_progress(progress: RunProgress) -> None:
        if progress.batch and "in_progress" in progress.batch and not interrupt.level:
            interrupt.request()

    progress = execute(sqlite_store, run_id, interrupt=interrupt, on_progress=stop_once_in_progress)
    assert progress.stopped is not None and "resume" in progress.stopped
    assert run_status(sqlite_store, run_id)[0] == "stopped"
    assert verdicts(sqlite_store) == []
    [held] = fake_provider.batches()
    assert held["status"] == "in_progress"
    shown = summary(sqlite_store, run_id).batches
    assert shown is not None and shown[0].batch_id == held["id"] and shown[0].status == "in_progress"

    fake_provider.script(default=PREFER_GOOD)  # type: ignore[arg-type]  # the provider finishes the batch
    with session_scope(sqlite_store) as session:
        prepare_resume(session, run_id=run_id, max_cost_usd=None)
    resumed = execute(sqlite_store, run_id)
    assert (resumed.done, resumed.ok) == (KEYS, KEYS)
    assert len(fake_provider.batches()) == 1  # picked up, never submitted again
    assert run_status(sqlite_store, run_id) == ("completed", None)
    assert len(verdicts(sqlite_store)) == KEYS


class LostCreateResponse:
    """LiteLLM's batch API, except that the first submission's answer is lost after the provider created it."""

    def __init__(self) -> None:
        self.api = LiteLLMBatchApi(FAST_RETRIES)
        self.lost = 0

    async def submit(self, target: BatchTarget, lines: Sequence[BatchLine], metadata: Mapping[str, str]) -> BatchState:
        state = await self.api.submit(target, lines, metadata)
        if not self.lost:
            self.lost += 1
            raise RetryableProviderError("connection reset after the batch was created")
        return state

    async def retrieve(self, target: BatchTarget, batch_id: str) -> BatchState:
        return await self.api.retrieve(target, batch_id)

    async def find(self, target: BatchTarget, metadata: Mapping[str, str]) -> BatchState | None:
        return await self.api.find(target, metadata)

    async def results(self, target: BatchTarget, state: BatchState) -> list[LineResult]:
        return await self.api.results(target, state)

    async def cancel(self, target: BatchTarget, batch_id: str) -> BatchState:
        return await self.api.cancel(target, batch_id)


def test_a_batch_whose_creation_answer_was_lost_is_found_by_its_metadata_not_resubmitted(
    sqlite_store: Engine, fake_provider: FakeProvider
) -> None:
    fake_provider.script(default=PREFER_GOOD)  # type: ignore[arg-type]
    run_id = new_batch_run(sqlite_store, fake_provider)
    api = LostCreateResponse()
    progress = execute(sqlite_store, run_id, api=api)
    assert api.lost == 1 and (progress.ok, progress.error) == (KEYS, 0)
    assert len(fake_provider.batches()) == 1


def test_lines_failed_with_a_retryable_status_are_retried_once_in_a_batch_of_only_them(
    sqlite_store: Engine, fake_provider: FakeProvider
) -> None:
    fake_provider.script(
        rules=[{"contains": "Question 1?", "times": 2, "behaviour": {"kind": "error", "status": 503}}],
        default=PREFER_GOOD,  # type: ignore[arg-type]
    )
    run_id = new_batch_run(sqlite_store, fake_provider)
    progress = execute(sqlite_store, run_id)
    first, retry = fake_provider.batches()
    assert (first["counts"]["failed"], retry["counts"]) == (2, {"total": 2, "completed": 2, "failed": 0})
    assert sorted(retry["custom_ids"]) == keys_of_prompt(sqlite_store, run_id, "p1")  # both orders of prompt p1
    assert progress.ok == KEYS and run_status(sqlite_store, run_id) == ("completed", None)
    assert all(v.status == "ok" for v in verdicts(sqlite_store))


@pytest.mark.parametrize("errors_in_output", [False, True])
def test_lines_that_failed_for_good_are_errors_and_resume_submits_only_those(
    sqlite_store: Engine, fake_provider: FakeProvider, errors_in_output: bool
) -> None:
    fake_provider.script(
        rules=[{"contains": "Question 1?", "behaviour": {"kind": "error", "status": 401, "message": "bad key"}}],
        default=PREFER_GOOD,  # type: ignore[arg-type]
        batch={"errors_in_output": errors_in_output},  # type: ignore[arg-type]
    )
    run_id = new_batch_run(sqlite_store, fake_provider)
    progress = execute(sqlite_store, run_id)
    assert (progress.ok, progress.error) == (KEYS - 2, 2)
    assert len(fake_provider.batches()) == 1  # a 401 is not retried within the run
    errors = [v for v in verdicts(sqlite_store) if v.status == "error"]
    assert len(errors) == 2 and all(e.error == "auth failed" and e.raw_output is None for e in errors)
    assert summary(sqlite_store, run_id).status == "completed"

    fake_provider.script(default=PREFER_GOOD)  # type: ignore[arg-type]
    with session_scope(sqlite_store) as session:
        prepare_resume(session, run_id=run_id, max_cost_usd=None)
    resumed = execute(sqlite_store, run_id)
    assert (resumed.done, resumed.ok) == (2, 2)
    _, again = fake_provider.batches()
    assert (
        sorted(again["custom_ids"])
        == sorted(e.verdict_key for e in errors)
        == keys_of_prompt(sqlite_store, run_id, "p1")
    )
    assert all(v.status == "ok" for v in verdicts(sqlite_store))


def test_the_budget_is_checked_and_charged_at_the_batch_price(
    sqlite_store: Engine, fake_provider: FakeProvider
) -> None:
    fake_provider.script(default=PREFER_GOOD)  # type: ignore[arg-type]
    priced = (JudgeSpec(model="openai/gpt-4o-mini", api_base=fake_provider.url),)
    price = batch_price("openai/gpt-4o-mini")  # LiteLLM's cost map has its batch price: half the live one
    live = litellm().get_model_info("openai/gpt-4o-mini")
    assert price.source == "batch" and price.input_per_token is not None and price.output_per_token is not None
    assert price.input_per_token * 2 == pytest.approx(live["input_cost_per_token"])
    assert price.output_per_token * 2 == pytest.approx(live["output_cost_per_token"])

    def priced_run(budget: float | None, seed: int | None = None) -> int:  # max_tokens: the answer's estimate
        sampling = {"max_tokens": 16} if seed is None else {"max_tokens": 16, "seed": seed}
        return new_batch_run(sqlite_store, fake_provider, judges=priced, max_cost_usd=budget, sampling=sampling)

    def estimates(run_id: int) -> list[float]:  # each line's budgeted cost, in the order lines are submitted
        with session_scope(sqlite_store) as session:
            context = RunContext(session, get_run(session, run_id=run_id))
        driver = BatchDriver(sqlite_store, context, LiteLLMBatchApi(FAST_RETRIES), RunProgress(total=KEYS))
        return [driver.estimate(k) for k in sorted(context.by_key)]

    at_batch_price = sum(estimates(priced_run(None)))  # at the live price: twice that
    assert at_batch_price > 0

    # a budget that the whole run fits in at the batch price, not at the live one: every key is submitted
    run_id = priced_run(1.5 * at_batch_price)
    progress = execute(sqlite_store, run_id)
    assert progress.ok == KEYS and run_status(sqlite_store, run_id) == ("completed", None)
    total = 0.0
    for v in verdicts(sqlite_store):
        assert v.prompt_tokens is not None and v.completion_tokens is not None and v.cost_usd is not None
        assert v.cost_usd == pytest.approx(
            v.prompt_tokens * price.input_per_token + v.completion_tokens * price.output_per_token
        )
        total += v.cost_usd
    result = summary(sqlite_store, run_id)
    assert result.cost_usd == pytest.approx(total) and result.batches is not None
    assert result.batches[0].cost_usd == pytest.approx(total)
    assert result.method["batch"]["price"]["openai/gpt-4o-mini"] == "the model's batch price in LiteLLM's cost map"

    # a budget for three lines: the first batch has three; later ones only what the spending leaves room for
    fake_provider.reset()
    fake_provider.script(default=PREFER_GOOD)  # type: ignore[arg-type]
    small = priced_run(None, seed=1)
    budget = sum(estimates(small)[:3]) * 1.01
    with session_scope(sqlite_store) as session:
        set_budget_of(session, small, budget)
    execute(sqlite_store, small)
    assert len(fake_provider.batches()[0]["custom_ids"]) == 3
    assert summary(sqlite_store, small).cost_usd <= budget
    status, note = run_status(sqlite_store, small)
    assert status == "stopped" and note is not None and "budget" in note

    # a budget below one line's estimate: nothing is submitted, the run stops at its budget
    fake_provider.reset()
    none = priced_run(None, seed=2)
    with session_scope(sqlite_store) as session:
        set_budget_of(session, none, min(estimates(none)) / 2)
    stopped = execute(sqlite_store, none)
    assert fake_provider.batches() == [] and stopped.done == 0
    status, note = run_status(sqlite_store, none)
    assert status == "stopped" and note is not None and "budget" in note


def test_cancelling_a_batch_run_cancels_its_provider_batch(sqlite_store: Engine, fake_provider: FakeProvider) -> None:
    fake_provider.script(default=PREFER_GOOD, batch={"hold": True})  # type: ignore[arg-type]
    run_id = new_batch_run(sqlite_store, fake_provider)

    def cancel_once_submitted(progress: RunProgress) -> None:
        if progress.batch and "in_progress" in progress.batch:
            with session_scope(sqlite_store) as session:
                if get_run(session, run_id=run_id).status == RunStatus.RUNNING:
                    cancel_run(session, run_id=run_id)

    progress = execute(sqlite_store, run_id, on_progress=cancel_once_submitted)
    assert progress.stopped == "cancelled" and run_status(sqlite_store, run_id)[0] == "cancelled"
    [batch] = fake_provider.batches()
    assert batch["status"] in ("cancelling", "cancelled")
    assert verdicts(sqlite_store) == []


def test_show_prints_the_batches(
    sqlite_store: Engine, fake_provider: FakeProvider, judge_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    fake_provider.script(default=PREFER_GOOD)  # type: ignore[arg-type]
    run_id = new_batch_run(sqlite_store, fake_provider)
    execute(sqlite_store, run_id)
    judge_env.setenv("JUDGE_DATABASE_URL", sqlite_store.url.render_as_string(hide_password=False))
    judge_env.setenv("COLUMNS", "220")
    get_settings.cache_clear()
    get_engine.cache_clear()
    runner = CliRunner()
    shown = runner.invoke(app, ["runs", "show", str(run_id)], catch_exceptions=False)
    assert shown.exit_code == 0, shown.output
    [batch] = fake_provider.batches()
    assert "provider batches" in shown.output and batch["id"] in shown.output and "completed" in shown.output
    as_json = runner.invoke(app, ["runs", "show", str(run_id), "--json"], catch_exceptions=False)
    data = json.loads(as_json.output)
    assert data["batches"][0]["batch_id"] == batch["id"] and data["batches"][0]["completed"] == KEYS


class RecordingBroker:
    def __init__(self) -> None:
        self.steps: list[tuple[int, str]] = []

    def enqueue_batch_step(self, run_id: int, since: str) -> None:
        self.steps.append((run_id, since))


def test_the_celery_rounds_submit_follow_retry_once_and_finish_a_batch_run(
    sqlite_store: Engine, fake_provider: FakeProvider
) -> None:
    fake_provider.script(
        rules=[
            {"contains": "Question 1?", "behaviour": {"kind": "error", "status": 401}},  # never retried in the run
            {"contains": "Question 2?", "times": 2, "behaviour": {"kind": "rate_limit"}},  # retried once
        ],
        default=PREFER_GOOD,  # type: ignore[arg-type]
    )
    run_id = new_batch_run(sqlite_store, fake_provider)
    broker = RecordingBroker()
    submission = submit_batch_run(sqlite_store, run_id, broker)
    [(step_run, since)] = broker.steps
    assert step_run == run_id and len(submission.keys) == KEYS
    assert run_status(sqlite_store, run_id)[0] == "running"
    url = sqlite_store.url.render_as_string(hide_password=False)
    rounds = []
    while not rounds or rounds[-1].again:  # what the worker task does: a round, then again while batches run
        rounds.append(batch_step_sync(run_id, since, database_url=url))
        assert len(rounds) < 20
    _first, retry = fake_provider.batches()  # each round is a new driver: the run's batches tell what was sent
    assert sorted(retry["custom_ids"]) == keys_of_prompt(sqlite_store, run_id, "p2")
    assert sum(r.done for r in rounds) == KEYS + 2  # two rate-limited lines were stored as errors, then ok
    assert run_status(sqlite_store, run_id) == ("completed", None)
    assert sorted(v.verdict_key for v in verdicts(sqlite_store) if v.status == "error") == keys_of_prompt(
        sqlite_store, run_id, "p1"
    )
    followed = follow_batch_run(sqlite_store, submission, sleep=lambda _s: None)
    assert (followed.ok, followed.error, followed.stopped) == (KEYS - 2, 2, None)


def test_an_api_batch_run_reaches_only_an_allowed_api_base(api: Api, fake_provider: FakeProvider) -> None:
    fake_provider.script(default=PREFER_GOOD)  # type: ignore[arg-type]
    set_id = upload_set(api)
    started = api.post("/v1/runs", json=run_body(set_id, fake_provider, batch=True))
    assert started.status_code == 202, started.text
    run = api.wait_for_run(started.json()["id"])
    assert (run["status"], run["ok"], run["request"]["batch"]) == ("completed", 2 * API_PROMPTS, True)
    [shown] = run["batches"]
    assert (shown["status"], shown["completed"], shown["failed"]) == ("completed", 2 * API_PROMPTS, 0)
    assert fake_provider.counts()["received"] == 0 and [b["id"] for b in fake_provider.batches()] == [shown["batch_id"]]

    elsewhere = [{"model": "openai/fake-judge", "api_base": "http://127.0.0.1:9/v1"}]
    refused = api.post("/v1/runs", json=run_body(set_id, fake_provider, batch=True, judges=elsewhere))
    assert refused.status_code == 422 and "api_base" in refused.text
    assert len(fake_provider.batches()) == 1


@pytest.mark.slow
@pytest.mark.redis
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # one database: a worker process costs seconds
def test_a_celery_worker_runs_the_rounds_of_an_api_batch_run(
    celery_api: tuple[Api, RedisServer], fake_provider: FakeProvider
) -> None:
    api, _redis = celery_api
    fake_provider.script(default=PREFER_GOOD)  # type: ignore[arg-type]
    set_id = upload_set(api)
    started = api.post("/v1/runs", json=run_body(set_id, fake_provider, batch=True))
    assert started.status_code == 202, started.text
    run = wait_until_finished(api, started.json()["id"])
    assert (run["status"], run["ok"]) == ("completed", 2 * API_PROMPTS), run
    [shown] = run["batches"]
    assert shown["status"] == "completed" and shown["completed"] == 2 * API_PROMPTS
    assert fake_provider.counts()["received"] == 0 and len(fake_provider.batches()) == 1


def test_an_api_cancel_cancels_the_runs_batch_at_the_provider(api: Api, fake_provider: FakeProvider) -> None:
    fake_provider.script(default=PREFER_GOOD, batch={"hold": True})  # type: ignore[arg-type]
    set_id = upload_set(api)
    started = api.post("/v1/runs", json=run_body(set_id, fake_provider, batch=True)).json()
    deadline = time.monotonic() + 30
    while not [b for b in fake_provider.batches() if b["status"] == "in_progress"] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert api.post(f"/v1/runs/{started['id']}/cancel").json()["status"] == "cancelled"
    run = api.wait_for_run(started["id"])
    assert run["status"] == "cancelled" and run["ok"] == 0
    [batch] = fake_provider.batches()
    assert batch["status"] in ("cancelling", "cancelled")


def test_racing_executions_of_one_run_submit_one_batch_and_pay_for_it_once(
    sqlite_store: Engine, fake_provider: FakeProvider
) -> None:
    fake_provider.script(default=PREFER_GOOD, batch={"in_progress_polls": 3})  # type: ignore[arg-type]
    priced = (JudgeSpec(model="openai/gpt-4o-mini", api_base=fake_provider.url),)
    run_id = new_batch_run(sqlite_store, fake_provider, judges=priced)

    async def race() -> list[RunProgress]:
        runs = [execute_run(sqlite_store, run_id, batch_api=LiteLLMBatchApi(FAST_RETRIES)) for _ in range(2)]
        return list(await asyncio.gather(*runs))

    one, other = asyncio.run(race())
    assert sorted([one.done, other.done]) == [0, KEYS]  # one collected the batch; the other found it stored
    assert len(fake_provider.batches()) == 1
    stored = verdicts(sqlite_store)
    assert len(stored) == KEYS and all(v.status == "ok" for v in stored)
    paid = sum(v.cost_usd or 0.0 for v in stored)
    assert paid > 0 and summary(sqlite_store, run_id).cost_usd == pytest.approx(paid)  # charged once
    assert run_status(sqlite_store, run_id) == ("completed", None)


def test_resume_live_judges_a_batch_runs_failed_keys_with_live_calls(
    sqlite_store: Engine, fake_provider: FakeProvider
) -> None:
    fake_provider.script(
        rules=[{"contains": "Question 1?", "behaviour": {"kind": "error", "status": 401}}],
        default=PREFER_GOOD,  # type: ignore[arg-type]
        batch={"hold": True},
    )
    run_id = new_batch_run(sqlite_store, fake_provider)
    interrupt = Interrupt()
    execute(sqlite_store, run_id, interrupt=interrupt, on_progress=lambda p: p.batch and interrupt.request())
    with session_scope(sqlite_store) as session, pytest.raises(ConflictError, match="still at the provider"):
        prepare_resume(session, run_id=run_id, max_cost_usd=None, live=True)

    fake_provider.script(
        rules=[{"contains": "Question 1?", "behaviour": {"kind": "error", "status": 401}}],
        default=PREFER_GOOD,  # type: ignore[arg-type]
    )
    with session_scope(sqlite_store) as session:
        prepare_resume(session, run_id=run_id, max_cost_usd=None)
    assert execute(sqlite_store, run_id).error == 2  # the batch collected: two lines failed for good

    fake_provider.script(default=PREFER_GOOD)  # type: ignore[arg-type]
    with session_scope(sqlite_store) as session:
        prepare_resume(session, run_id=run_id, max_cost_usd=None, live=True)
    live = asyncio.run(execute_run(sqlite_store, run_id, LiteLLMClient(FAST_RETRIES)))
    assert (live.done, live.ok) == (2, 2) and fake_provider.counts()["received"] == 2
    assert len(fake_provider.batches()) == 1 and run_status(sqlite_store, run_id) == ("completed", None)
