"""Shared by the API tests: an app on a real database, API keys for two tenants, a small prompt set.

(No tests here; the fixtures are imported by tests/test_api_*.py.)
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from judge.api import ApiSettings, create_app
from judge.llm.client import LiteLLMClient
from judge.llm.retry import RetryPolicy
from judge.store.api_keys import create_key
from judge.store.engine import session_scope
from judge.testing.fake_provider import FakeProvider

FAST_RETRIES = RetryPolicy(max_attempts=2, base_s=0.01, cap_s=0.05)
BODY_LIMIT = 64 * 1024
PROMPTS = 4
PREFER_GOOD = {"kind": "prefer_marker", "marker": "MARKER-GOOD", "rival": "MARKER-BAD"}


class Api:
    """A test client with one tenant's key, and the raw keys of two tenants."""

    def __init__(self, client: TestClient, keys: dict[str, str]) -> None:
        self.client = client
        self.keys = keys

    def headers(self, tenant: str = "acme") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[tenant]}"}

    def get(self, url: str, tenant: str = "acme", **kwargs: Any) -> Any:
        return self.client.get(url, headers=self.headers(tenant), **kwargs)

    def post(self, url: str, tenant: str = "acme", **kwargs: Any) -> Any:
        headers = {**self.headers(tenant), **kwargs.pop("headers", {})}
        return self.client.post(url, headers=headers, **kwargs)

    def wait_for_run(self, run_id: int, tenant: str = "acme", timeout_s: float = 30.0) -> dict[str, Any]:
        """Poll the run until it leaves created/running."""
        deadline = time.monotonic() + timeout_s
        while True:
            body: dict[str, Any] = self.get(f"/v1/runs/{run_id}", tenant).json()
            if body["status"] not in ("created", "running") or time.monotonic() > deadline:
                return body
            time.sleep(0.05)


def make_keys(engine: Engine) -> dict[str, str]:
    with session_scope(engine) as session:
        return {tenant: create_key(session, tenant=tenant)[1] for tenant in ("acme", "globex")}


@pytest.fixture
def api(engine: Engine, fake_provider: FakeProvider) -> Iterator[Api]:
    """The app over the ``engine`` database (SQLite and PostgreSQL), judging with the fake provider."""
    settings = ApiSettings(allowed_api_bases=[fake_provider.url], max_body_bytes=BODY_LIMIT, max_page_size=50)
    app = create_app(engine, api_settings=settings, client_factory=lambda: LiteLLMClient(FAST_RETRIES))
    keys = make_keys(engine)
    with TestClient(app) as client:
        yield Api(client, keys)


def prompts_body(name: str = "team-set") -> dict[str, Any]:
    return {
        "name": name,
        "prompts": [
            {"prompt_id": f"p{i}", "turns": [f"What is {i} + {i}?"], "reference": f"{2 * i}", "category": "math"}
            for i in range(PROMPTS)
        ],
    }


def responses_ndjson() -> str:
    import json

    lines = [
        json.dumps({"prompt_id": f"p{i}", "model": m, "response": f"{m} answers {2 * i} MARKER-{m.upper()}"})
        for i in range(PROMPTS)
        for m in ("good", "bad")
    ]
    return "\n".join(lines) + "\n"


def votes_body() -> dict[str, Any]:
    return {
        "source": "team",
        "votes": [
            {"prompt_id": f"p{i}", "model_a": "good", "model_b": "bad", "winner": "model_a", "voter": "alice"}
            for i in range(PROMPTS)
        ],
    }


def upload_set(api: Api, tenant: str = "acme", name: str = "team-set") -> int:
    """Create a set with prompts, responses (JSON Lines) and votes; its id."""
    created = api.post("/v1/prompt-sets", tenant, json=prompts_body(name))
    assert created.status_code == 201, created.text
    set_id: int = created.json()["id"]
    added = api.post(
        f"/v1/prompt-sets/{set_id}/responses",
        tenant,
        content=responses_ndjson(),
        headers={"Content-Type": "application/x-ndjson"},
    )
    assert added.status_code == 200, added.text
    voted = api.post(f"/v1/prompt-sets/{set_id}/votes", tenant, json=votes_body())
    assert voted.status_code == 200, voted.text
    return set_id


def run_body(set_id: int, provider: FakeProvider, **overrides: Any) -> dict[str, Any]:
    body = {
        "prompt_set_id": set_id,
        "judges": [{"model": "openai/fake-judge", "api_base": provider.url}],
        "rubric": "pairwise",
        "concurrency": 4,
        "timeout_s": 5,
    }
    return body | overrides
