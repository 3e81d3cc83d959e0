"""Inputs the store cannot hold (2^63, NaN, NUL bytes) are 422 / a file:line: field error, never a 500 or a
traceback; failed authentication is throttled per address; one request plans a bounded number of verdicts."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from judge.api import ApiSettings, create_app
from judge.api.throttle import AuthThrottle
from judge.cli import app as cli_app
from judge.llm.client import LiteLLMClient
from judge.testing.fake_provider import FakeProvider
from tests.test_api_fixtures import FAST_RETRIES, Api, api, make_keys, run_body, upload_set

__all__ = ["api"]
SQLITE_ONLY = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
VOTE = {"prompt_id": "p0", "model_a": "good", "model_b": "bad", "winner": "model_a"}


def _raw(body: dict[str, Any], **tokens: str) -> str:
    """``body`` as JSON with ``"@name@"`` placeholders replaced by raw JSON tokens (NaN, Infinity)."""
    text = json.dumps(body)
    for name, token in tokens.items():
        text = text.replace(f'"@{name}@"', token)
    return text


def test_unstorable_values_are_422_with_their_field(api: Api, fake_provider: FakeProvider) -> None:
    set_id = upload_set(api)
    before = api.get(f"/v1/prompt-sets/{set_id}").json()
    prompt = {"prompt_id": "q0", "turns": ["hi"]}
    nan_vote = _raw({"votes": [VOTE | {"tstamp": "@x@"}]}, x="NaN")
    json_cases: list[tuple[str, str, list[Any]]] = [
        ("/v1/prompt-sets", json.dumps({"name": "a\u0000b", "prompts": [prompt]}), ["body", "name"]),
        (
            "/v1/prompt-sets",
            json.dumps({"name": "n1", "prompts": [{"prompt_id": "q\u0000", "turns": ["hi"]}]}),
            ["body", "prompts", 0, "prompt_id"],
        ),
        (
            "/v1/prompt-sets",
            json.dumps({"name": "n2", "prompts": [{"prompt_id": "q", "turns": ["h\u0000"]}]}),
            ["body", "prompts", 0, "turns"],
        ),
        (
            f"/v1/prompt-sets/{set_id}/responses",
            json.dumps({"responses": [{"prompt_id": "p0", "model": "m\u0000", "turns": ["x"]}]}),
            ["body", "responses", 0, "model"],
        ),
        (
            f"/v1/prompt-sets/{set_id}/votes",
            json.dumps({"votes": [VOTE | {"turn": 2**63}]}),
            ["body", "votes", 0, "turn"],
        ),
        (
            f"/v1/prompt-sets/{set_id}/votes",
            json.dumps({"votes": [VOTE | {"turn": 2**31}]}),
            ["body", "votes", 0, "turn"],
        ),
        (f"/v1/prompt-sets/{set_id}/votes", nan_vote, ["body", "votes", 0, "tstamp"]),
        (
            f"/v1/prompt-sets/{set_id}/votes",
            _raw({"votes": [VOTE | {"tstamp": "@x@"}]}, x="-Infinity"),
            ["body", "votes", 0, "tstamp"],
        ),
        (
            f"/v1/prompt-sets/{set_id}/votes",
            json.dumps({"votes": [VOTE | {"voter": "x\u0000"}]}),
            ["body", "votes", 0, "voter"],
        ),
        (f"/v1/prompt-sets/{set_id}/votes", json.dumps({"source": "s\u0000", "votes": [VOTE]}), ["body", "source"]),
        (
            f"/v1/prompt-sets/{set_id}/gold",
            json.dumps({"gold": [{"prompt_id": "p0", "type": "word", "answer": "a", "explanation": "x\u0000"}]}),
            ["body", "gold", 0, "gold"],
        ),
    ]
    for url, body, loc in json_cases:
        answer = api.post(url, content=body, headers={"Content-Type": "application/json"})
        assert answer.status_code == 422, (url, body, answer.text)
        assert answer.json()["detail"][0]["loc"] == loc, (body, answer.json())
    run = run_body(set_id, fake_provider)
    run_cases = [
        _raw(run | {"sampling": {"temperature": "@x@"}}, x="NaN"),
        _raw(run | {"sampling": {"top_p": "@x@"}}, x="Infinity"),
        _raw(run | {"max_cost_usd": "@x@"}, x="Infinity"),
        json.dumps(run | {"judges": [{"model": "openai/x\u0000", "api_base": fake_provider.url}]}),
        json.dumps(run | {"voters": "a\u0000"}),
    ]
    for body in run_cases:
        answer = api.post("/v1/runs", content=body, headers={"Content-Type": "application/json"})
        assert answer.status_code == 422, (body, answer.text)
    nul_query = api.get("/v1/runs/1/verdicts?judge_model=a%00b")
    assert nul_query.status_code == 422 and nul_query.json()["detail"][0]["loc"] == ["query"]
    assert api.get(f"/v1/prompt-sets/{set_id}").json() == before
    assert [s["name"] for s in api.get("/v1/prompt-sets").json()] == ["team-set"]
    assert api.get("/v1/runs").json() == []


def _judge(*args: str) -> Any:
    return CliRunner().invoke(cli_app, list(args))


def test_cli_imports_name_file_line_and_field(judge_env: pytest.MonkeyPatch, db_url: str, tmp_path: Path) -> None:
    judge_env.setenv("JUDGE_DATABASE_URL", db_url)
    assert _judge("init").exit_code == 0
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text(json.dumps({"prompt_id": "p0", "turns": ["hi"]}) + "\n")
    assert _judge("import", "prompts", str(prompts), "--set", "s").exit_code == 0
    responses = tmp_path / "responses.jsonl"
    responses.write_text("".join(json.dumps({"prompt_id": "p0", "model": m, "response": "x"}) + "\n" for m in "ab"))
    assert _judge("import", "responses", str(responses), "--set", "s").exit_code == 0
    vote = {"prompt_id": "p0", "model_a": "a", "model_b": "b", "winner": "tie"}
    cases = {
        json.dumps(vote | {"turn": 2**63}): "votes.jsonl:2: turn: expected an integer of at most 2,147,483,647",
        _raw(vote | {"tstamp": "@x@"}, x="NaN"): "votes.jsonl:2: tstamp: expected a finite number, got nan",
        json.dumps(vote | {"voter": "v\u0000"}): "votes.jsonl:2: voter: text may not contain a NUL byte",
        json.dumps(vote | {"model_b": "b\u0000"}): "votes.jsonl:2: model_b: text may not contain a NUL byte",
    }
    votes = tmp_path / "votes.jsonl"
    for line, message in cases.items():
        votes.write_text(json.dumps(vote) + "\n" + line + "\n")
        result = _judge("import", "votes", str(votes), "--set", "s")
        assert result.exit_code == 2, result.output
        assert message in " ".join(result.output.split()), result.output
        assert "Traceback" not in result.output
    names = tmp_path / "names.jsonl"
    names.write_text(json.dumps({"prompt_id": "p\u00001", "turns": ["hi"]}) + "\n")
    result = _judge("import", "prompts", str(names), "--set", "s")
    assert result.exit_code == 2 and "names.jsonl:1: prompt_id: text may not contain a NUL byte" in result.output
    for option, value in (("--temperature", "nan"), ("--max-cost", "inf"), ("--timeout", "nan")):
        result = _judge("run", "--set", "s", "--judge", "openai/x", "--pairs", "all", option, value)
        assert result.exit_code == 2 and f"error: {option}: Input should be a finite number" in result.output


@pytest.fixture
def strict_api(engine: Engine, fake_provider: FakeProvider) -> Iterator[Api]:
    """An app throttling after 3 failed authentications a minute and planning at most 6 verdicts a request."""
    settings = ApiSettings(allowed_api_bases=[fake_provider.url], auth_failures_per_minute=3, max_planned_verdicts=6)
    app = create_app(engine, api_settings=settings, client_factory=lambda: LiteLLMClient(FAST_RETRIES))
    keys = make_keys(engine)
    with TestClient(app) as client:
        yield Api(client, keys)


def test_a_request_planning_more_than_the_cap_is_422(strict_api: Api, fake_provider: FakeProvider) -> None:
    set_id = upload_set(strict_api)  # 4 voted units, both orders: 8 verdicts
    answer = strict_api.post("/v1/runs", json=run_body(set_id, fake_provider))
    assert answer.status_code == 422, answer.text
    [error] = answer.json()["detail"]
    assert error["loc"] == ["body", "limit"]
    assert "would plan 8 verdicts, more than the 6 one request may plan" in error["msg"]
    assert strict_api.get("/v1/runs").json() == []
    capped = strict_api.post("/v1/runs", json=run_body(set_id, fake_provider, limit=3))
    assert capped.status_code == 202 and capped.json()["planned"] == 6
    assert strict_api.wait_for_run(capped.json()["id"])["status"] == "completed"


@SQLITE_ONLY
def test_failed_authentication_is_throttled_per_address(strict_api: Api) -> None:
    client = strict_api.client
    for _ in range(3):
        assert client.get("/v1/prompt-sets", headers={"X-API-Key": "jk_guess"}).status_code == 401
    throttled = client.get("/v1/prompt-sets", headers={"X-API-Key": "jk_guess"})
    assert throttled.status_code == 429
    assert 1 <= int(throttled.headers["Retry-After"]) <= 60
    assert "too many failed authentications" in throttled.json()["detail"]
    assert strict_api.get("/v1/prompt-sets").status_code == 429  # even a good key, from this address, waits
    assert client.get("/healthz").status_code == 200


def test_throttle_window_slides_and_counts_each_address_alone() -> None:
    now = [1000.0]
    throttle = AuthThrottle(clock=lambda: now[0], max_addresses=2)
    for _ in range(3):
        throttle.failed("10.0.0.1")
        now[0] += 10
    assert throttle.retry_after("10.0.0.1", 3) == 30  # the first failure leaves the window at 1060
    assert throttle.retry_after("10.0.0.1", 4) is None
    assert throttle.retry_after("10.0.0.1", 0) is None  # 0: throttle off
    assert throttle.retry_after("10.0.0.2", 3) is None
    now[0] += 30
    assert throttle.retry_after("10.0.0.1", 3) is None
    throttle.failed("10.0.0.2")
    throttle.failed("10.0.0.3")
    throttle.failed("10.0.0.4")  # beyond max_addresses: the least recently failing address is forgotten
    assert len(throttle._failures) == 2
