"""The api_base allowlist is a boundary: normalised URLs, no redirects followed for a tenant-chosen base, no
operator key sent to one, and providers whose default endpoint is local refused without an api_base."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from judge.api import ApiSettings, create_app
from judge.core.types import ChatMessage
from judge.llm.client import CompletionRequest, LiteLLMClient
from judge.llm.endpoints import UrlError, allowed_base, normalise_url
from judge.testing.fake_provider import FakeProvider
from tests.test_api_fixtures import FAST_RETRIES, PREFER_GOOD, Api, make_keys, run_body, upload_set

SQLITE_ONLY = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
OPERATOR_KEY = "sk-operator-0123456789abcdef"


@pytest.mark.parametrize(
    "url",
    [
        "http://allowed/prefix/../internal",
        "http://allowed/prefix/%2e%2e/internal",
        "http://allowed/prefix/%2E./internal",
        "http://allowed/prefix/./x",
        "http://allowed/prefix/a%2finternal",
        "http://allowed/prefix/%252e%252e/internal",
        "http://user:pw@allowed/prefix",
        "http://allowed@evil/prefix",
        "http://allowed\\@evil/prefix",
        "http://allowed/prefix?x=1",
        "http://allowed/prefix#frag",
        "file:///etc/passwd",
        "ftp://allowed/prefix",
        "gopher://allowed/prefix",
        "http:///prefix",
        "http://allowed:99999/prefix",
        "http://allowed/pre fix",
    ],
)
def test_refused_urls(url: str) -> None:
    with pytest.raises(UrlError):
        normalise_url(url)


def test_allowlist_compares_normalised_urls() -> None:
    allowlist = [normalise_url("http://allowed/prefix/"), normalise_url("https://api.example.com:8443/v1")]
    under = {
        "http://allowed/prefix": "http://allowed/prefix",
        "HTTP://Allowed:80/prefix/v1/": "http://allowed/prefix/v1",
        "http://allowed//prefix//v1": "http://allowed/prefix/v1",
        "https://api.example.com:8443/v1/x": "https://api.example.com:8443/v1/x",
    }
    for url, normalised in under.items():
        found = allowed_base(url, allowlist)
        assert found is not None and str(found) == normalised, url
    outside = [
        "http://allowed/prefixes",  # a string prefix, not a path segment
        "http://allowed/internal",
        "https://allowed/prefix",  # another scheme
        "http://allowed:8080/prefix",  # another port
        "http://allowed.evil.com/prefix",
        "https://api.example.com/v1",  # default port 443, not 8443
    ]
    for url in outside:
        assert allowed_base(url, allowlist) is None, url


class _Redirector(BaseHTTPRequestHandler):
    """Answers every POST with 307 to the same path on ``target``; records the headers it got."""

    target = ""
    seen: ClassVar[list[dict[str, str]]] = []

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        type(self).seen.append({k.lower(): v for k, v in self.headers.items()})
        self.send_response(307)
        self.send_header("Location", f"{self.target}{self.path}")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def redirector(fake_provider: FakeProvider) -> Iterator[str]:
    """A real HTTP server on another port answering 307 to the fake provider; its api_base."""
    _Redirector.target = fake_provider.root
    _Redirector.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Redirector)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


@pytest.fixture
def guarded_api(engine: Engine, fake_provider: FakeProvider, redirector: str) -> Iterator[Api]:
    """The app allowing the fake provider and the redirector; the operator has an OpenAI key set."""
    settings = ApiSettings(allowed_api_bases=[fake_provider.url, redirector])
    app = create_app(engine, api_settings=settings, client_factory=lambda: LiteLLMClient(FAST_RETRIES))
    keys = make_keys(engine)
    with pytest.MonkeyPatch.context() as env, TestClient(app) as client:
        env.setenv("OPENAI_API_KEY", OPERATOR_KEY)
        yield Api(client, keys)


@SQLITE_ONLY
def test_a_redirect_from_an_allowed_base_is_not_followed(
    guarded_api: Api, fake_provider: FakeProvider, redirector: str
) -> None:
    set_id = upload_set(guarded_api)
    body = run_body(set_id, fake_provider) | {"judges": [{"model": "openai/fake-judge", "api_base": redirector}]}
    created = guarded_api.post("/v1/runs", json=body)
    assert created.status_code == 202, created.text
    run = guarded_api.wait_for_run(created.json()["id"])
    assert run["status"] == "completed"
    verdicts = guarded_api.get(f"/v1/runs/{run['id']}/verdicts").json()["items"]
    assert verdicts and {v["status"] for v in verdicts} == {"error"}
    assert {v["error"] for v in verdicts} == {"redirect refused"}
    assert _Redirector.seen, "the allowed base was called"
    assert fake_provider.requests() == []  # nothing reached the redirect's target
    assert all(OPERATOR_KEY not in str(headers) for headers in _Redirector.seen)


@SQLITE_ONLY
def test_a_tenant_chosen_base_never_gets_the_operator_key(guarded_api: Api, fake_provider: FakeProvider) -> None:
    fake_provider.script(default=PREFER_GOOD)  # type: ignore[arg-type]
    set_id = upload_set(guarded_api)
    created = guarded_api.post("/v1/runs", json=run_body(set_id, fake_provider))
    assert created.status_code == 202, created.text
    assert guarded_api.wait_for_run(created.json()["id"])["status"] == "completed"
    calls = fake_provider.requests()
    assert calls and all(c["status"] == 200 for c in calls)
    for call in calls:
        assert OPERATOR_KEY not in str(call["headers"])
        assert call["headers"].get("authorization") == "Bearer no-key-required"


async def test_an_operator_chosen_base_keeps_the_operator_key(
    fake_provider: FakeProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The CLI's --api-base is the operator's own choice: the environment's key goes with it, as before."""
    monkeypatch.setenv("OPENAI_API_KEY", OPERATOR_KEY)
    messages = (ChatMessage(role="user", content="hi"),)
    client = LiteLLMClient(FAST_RETRIES)
    await client.complete(CompletionRequest(model="openai/fake-judge", messages=messages, api_base=fake_provider.url))
    await client.complete(
        CompletionRequest(model="openai/fake-judge", messages=messages, api_base=fake_provider.url, tenant_base=True)
    )
    operator, tenant = fake_provider.requests()
    assert operator["headers"]["authorization"] == f"Bearer {OPERATOR_KEY}"
    assert tenant["headers"]["authorization"] == "Bearer no-key-required"


@SQLITE_ONLY
def test_judges_the_server_may_not_call_are_422(guarded_api: Api, fake_provider: FakeProvider) -> None:
    set_id = upload_set(guarded_api)
    dotted = fake_provider.url + "/../../internal"
    cases = {
        "judges.0.api_base": [
            {"model": "openai/x", "api_base": dotted},
            {"model": "openai/x", "api_base": fake_provider.url.replace("/v1", "/v1%2f..%2fadmin")},
            {"model": "openai/x", "api_base": fake_provider.url.replace("http://", "http://me:pw@")},
            {"model": "openai/x", "api_base": fake_provider.url.replace("/v1", "/v2")},
            {"model": "openai/x", "api_base": "file:///etc/passwd"},
        ],
        "judges.0.model": [
            {"model": "ollama/llama3"},  # default endpoint http://localhost:11434
            {"model": "llamafile/x"},  # default endpoint http://127.0.0.1:8080/v1
            {"model": "not-a-provider/x"},
            {"model": "anthropic/claude-x", "api_base": fake_provider.url},  # not OpenAI-compatible
        ],
    }
    for field, judges in cases.items():
        for judge in judges:
            answer = guarded_api.post("/v1/runs", json=run_body(set_id, fake_provider) | {"judges": [judge]})
            assert answer.status_code == 422, (judge, answer.text)
            [error] = answer.json()["detail"]
            assert error["loc"] == ["body", *field.split(".")[:1], 0, field.split(".")[2]], (judge, error)
    assert guarded_api.get("/v1/runs").json() == []
    accepted = guarded_api.post(
        "/v1/runs",
        json=run_body(set_id, fake_provider) | {"judges": [{"model": "openai/gpt-4o-mini"}], "max_cost_usd": 0},
    )
    assert accepted.status_code == 202, accepted.text  # a hosted provider on the operator's own endpoint
    assert guarded_api.wait_for_run(accepted.json()["id"])["status"] == "stopped"  # (a zero budget: no call made)


def test_allowlist_entries_are_checked_at_startup() -> None:
    with pytest.raises(ValueError, match="userinfo"):
        ApiSettings(allowed_api_bases=["http://user@host/v1"])
