"""One run request for the CLI and the API: the same settings defaults, the resolved request shown back, the same
cancel rule, and response schemas in the OpenAPI document."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from judge.api import ApiSettings, create_app
from judge.cli import app as cli_app
from judge.llm.client import LiteLLMClient
from judge.testing.fake_provider import FakeProvider
from tests.test_api_fixtures import FAST_RETRIES, PREFER_GOOD, Api, api, make_keys, upload_set

__all__ = ["api"]
runner = CliRunner()


def run_body(set_id: int, provider: FakeProvider, **fields: Any) -> dict[str, Any]:
    """A run body with no concurrency or timeout: the server's settings decide them."""
    return {"prompt_set_id": set_id, "judges": [{"model": "openai/fake-judge", "api_base": provider.url}]} | fields


@pytest.fixture
def env_api(judge_env: pytest.MonkeyPatch, engine: Engine, fake_provider: FakeProvider) -> Api:
    """The API built after JUDGE_CONCURRENCY=3 and JUDGE_REQUEST_TIMEOUT_S=17 are set."""
    judge_env.setenv("JUDGE_CONCURRENCY", "3")
    judge_env.setenv("JUDGE_REQUEST_TIMEOUT_S", "17")
    app = create_app(
        engine,
        api_settings=ApiSettings(allowed_api_bases=[fake_provider.url]),
        client_factory=lambda: LiteLLMClient(FAST_RETRIES),
    )
    client = TestClient(app)
    client.__enter__()
    return Api(client, make_keys(engine))


def test_api_runs_take_their_defaults_from_the_settings(env_api: Api, fake_provider: FakeProvider) -> None:
    fake_provider.script(default=PREFER_GOOD)  # type: ignore[arg-type]
    set_id = upload_set(env_api)
    started = env_api.post(
        "/v1/runs",
        json=run_body(set_id, fake_provider, sampling={"temperature": 0.5}, max_cost_usd=2.0, rubric="pairwise"),
    )
    assert started.status_code == 202, started.text
    run = env_api.wait_for_run(started.json()["id"])
    request = run["request"]
    assert (request["concurrency"], request["timeout_s"]) == (3, 17.0)
    assert request["sampling"]["temperature"] == 0.5 and request["max_cost_usd"] == 2.0
    assert request["rubric"] == "pairwise" and request["set_name"] == "team-set"
    assert [j["model"] for j in request["judges"]] == ["openai/fake-judge"]
    explicit = env_api.post("/v1/runs", json=run_body(set_id, fake_provider, concurrency=5, timeout_s=9))
    resolved = env_api.get(f"/v1/runs/{explicit.json()['id']}").json()["request"]
    assert (resolved["concurrency"], resolved["timeout_s"]) == (5, 9.0)
    env_api.client.__exit__(None, None, None)


def test_api_limits_refuse_explicit_values_and_lower_defaults(
    judge_env: pytest.MonkeyPatch, engine: Engine, fake_provider: FakeProvider
) -> None:
    judge_env.setenv("JUDGE_CONCURRENCY", "500")  # fine for the CLI, above this server's limit of 64
    app = create_app(engine, api_settings=ApiSettings(allowed_api_bases=[fake_provider.url]))
    with TestClient(app) as client:
        api = Api(client, make_keys(engine))
        set_id = upload_set(api)
        refused = api.post("/v1/runs", json=run_body(set_id, fake_provider, concurrency=65, limit=1))
        assert refused.status_code == 422 and refused.json()["detail"][0]["loc"] == ["body", "concurrency"]
        assert api.post("/v1/runs", json=run_body(set_id, fake_provider, timeout_s=601)).status_code == 422
        lowered = api.post("/v1/runs", json=run_body(set_id, fake_provider, limit=1)).json()
        assert api.get(f"/v1/runs/{lowered['id']}").json()["request"]["concurrency"] == 64


def test_order_random_needs_a_seed_in_both_edges(api: Api, fake_provider: FakeProvider, cli_env: Path) -> None:
    set_id = upload_set(api)
    refused = api.post("/v1/runs", json=run_body(set_id, fake_provider, order="random"))
    assert refused.status_code == 422 and refused.json()["detail"][0]["loc"] == ["body", "seed"]
    result = runner.invoke(cli_app, ["run", "--set", "nope", "--judge", "openai/x", "--order", "random"])
    assert result.exit_code == 2 and "seed: order random needs a seed" in result.output


def test_cancelling_an_ended_run_is_a_conflict_in_the_api(api: Api, fake_provider: FakeProvider) -> None:
    fake_provider.script(default=PREFER_GOOD)  # type: ignore[arg-type]
    set_id = upload_set(api)
    run_id = api.post("/v1/runs", json=run_body(set_id, fake_provider, limit=1)).json()["id"]
    assert api.wait_for_run(run_id)["status"] == "completed"
    refused = api.post(f"/v1/runs/{run_id}/cancel")
    assert refused.status_code == 409 and "has already ended (completed)" in refused.json()["detail"]
    assert api.get(f"/v1/runs/{run_id}").json()["status"] == "completed"


@pytest.fixture
def cli_env(judge_env: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    db = tmp_path / "cli.db"
    judge_env.setenv("JUDGE_DATABASE_URL", f"sqlite:///{db}")
    return db


def test_cancelling_an_ended_run_is_an_error_in_the_cli(cli_env: Path, fake_provider: FakeProvider) -> None:
    fake_provider.script(default=PREFER_GOOD)  # type: ignore[arg-type]
    sample = Path(__file__).resolve().parents[1] / "data" / "mt_bench"
    assert runner.invoke(cli_app, ["import", "mtbench", str(sample)]).exit_code == 0
    base = ["run", "--set", "mt_bench", "--judge", "openai/fake", "--api-base", fake_provider.url, "--limit", "1"]
    assert runner.invoke(cli_app, [*base, "--pairs", "all"]).exit_code == 0
    refused = runner.invoke(cli_app, ["runs", "cancel", "1"])
    assert refused.exit_code == 2 and "run 1 has already ended (completed)" in refused.output
    resumed = runner.invoke(cli_app, ["runs", "resume", "1"])
    assert resumed.exit_code == 0, resumed.output
    shown = runner.invoke(cli_app, ["runs", "show", "1", "--json"])
    assert '"status": "completed"' in shown.output


def test_every_route_declares_its_response_schema(engine: Engine) -> None:
    schema = create_app(engine, api_settings=ApiSettings()).openapi()
    missing = []
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            success = next(code for code in operation["responses"] if code.startswith("2"))
            content = operation["responses"][success].get("content", {})
            body = next(iter(content.values()), {}).get("schema", {})
            untyped = body in ({}, {"type": "object"}) or body.get("additionalProperties") is True
            untyped = untyped or body.get("items", {}).get("additionalProperties") is True
            if not path.startswith("/v1/arena") and untyped:
                missing.append(f"{method.upper()} {path}")
    assert not missing, missing
    run_view = schema["components"]["schemas"]["RunView"]["properties"]
    assert {"request", "progress", "status"} <= set(run_view)
    assert {"concurrency", "timeout_s", "sampling"} <= set(schema["components"]["schemas"]["RunConfig"]["properties"])
