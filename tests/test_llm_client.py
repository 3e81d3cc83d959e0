"""LiteLLMClient against the fake provider over real HTTP: retries, errors, structured output, cost."""

from __future__ import annotations

import json
from typing import Any

import pytest

from judge.core.errors import FatalProviderError, RetryableProviderError
from judge.core.types import ChatMessage
from judge.llm.client import (
    CompletionRequest,
    LiteLLMClient,
    SamplingParams,
    compute_cost,
    parse_retry_after,
    wants_structured_output,
)
from judge.llm.retry import RetryPolicy
from judge.testing.fake_provider import Behaviour, FakeProvider

pytest_plugins = ["tests.fixtures_llm"]

SCHEMA = {
    "type": "object",
    "properties": {"reason": {"type": "string"}, "verdict": {"type": "string", "enum": ["A", "B", "tie"]}},
    "required": ["reason", "verdict"],
}
FAST = RetryPolicy(max_attempts=4, base_s=0.01, cap_s=2.0)


def request(provider: FakeProvider, text: str = "judge this", **kwargs: Any) -> CompletionRequest:
    fields: dict[str, Any] = {"model": "openai/fake-judge", "api_base": provider.url, "timeout_s": 5.0}
    fields.update(kwargs)
    return CompletionRequest(messages=(ChatMessage(role="user", content=text),), **fields)


def bodies(provider: FakeProvider) -> list[dict[str, Any]]:
    return [entry["body"] for entry in provider.requests()]


async def test_success_records_tokens_latency_and_null_cost_for_unknown_model(
    fake_provider: FakeProvider,
) -> None:
    fake_provider.script([], default=Behaviour(kind="verdict", label="B", latency_ms=30))
    req = request(fake_provider, "three word prompt", json_schema=SCHEMA, sampling=SamplingParams(seed=3))
    done = await LiteLLMClient(FAST).complete(req)
    assert json.loads(done.text)["verdict"] == "B"
    assert (done.prompt_tokens, done.completion_tokens) == (3, 5)
    assert done.cost_usd is None
    assert done.latency_ms >= 30
    assert done.attempts == 1
    assert done.structured_output_used
    assert done.model == "fake-judge"
    [sent] = bodies(fake_provider)
    assert sent["temperature"] == 0.0
    assert sent["seed"] == 3
    assert sent["response_format"]["type"] == "json_schema"
    assert sent["response_format"]["json_schema"]["schema"] == SCHEMA


async def test_known_model_cost_comes_from_litellm_price_map(fake_provider: FakeProvider) -> None:
    import litellm  # after judge.llm, which pins the bundled price map

    fake_provider.script([], default=Behaviour(kind="reply", content="one two three four"))
    done = await LiteLLMClient(FAST).complete(request(fake_provider, "a b", model="openai/gpt-4o-mini"))
    prompt_cost, completion_cost = litellm.cost_per_token(model="gpt-4o-mini", prompt_tokens=2, completion_tokens=4)
    assert done.cost_usd is not None and done.cost_usd > 0
    assert done.cost_usd == pytest.approx(prompt_cost + completion_cost)


def test_compute_cost_is_none_not_zero_for_an_unpriced_model() -> None:
    import litellm  # after judge.llm, which pins the bundled price map

    response = litellm.ModelResponse(model="no-such-model-xyz", usage={"prompt_tokens": 5, "completion_tokens": 5})
    assert compute_cost(response) is None


async def test_rate_limit_waits_for_retry_after_then_succeeds(fake_provider: FakeProvider) -> None:
    fake_provider.script([{"times": 1, "behaviour": {"kind": "rate_limit", "retry_after": 1}}])
    done = await LiteLLMClient(FAST).complete(request(fake_provider))
    log = fake_provider.requests()
    assert [e["status"] for e in log] == [429, 200]
    assert done.attempts == 2
    # FAST backoff alone would wait at most 10 ms; the server asked for 1 s.
    assert log[1]["t"] - log[0]["t"] >= 0.95


async def test_server_errors_are_retried(fake_provider: FakeProvider) -> None:
    fake_provider.script([{"times": 2, "behaviour": {"kind": "error", "status": 500}}])
    done = await LiteLLMClient(FAST).complete(request(fake_provider))
    assert [e["status"] for e in fake_provider.requests()] == [500, 500, 200]
    assert done.attempts == 3


async def test_timeout_is_retried(fake_provider: FakeProvider) -> None:
    fake_provider.script([{"times": 1, "behaviour": {"kind": "hang"}}])
    done = await LiteLLMClient(FAST).complete(request(fake_provider, timeout_s=0.3))
    assert done.attempts == 2
    assert [e["kind"] for e in fake_provider.requests()] == ["hang", "reply"]


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
async def test_client_errors_are_fatal_after_one_request(fake_provider: FakeProvider, status: int) -> None:
    fake_provider.script([{"behaviour": {"kind": "error", "status": status, "message": "no way"}}])
    with pytest.raises(FatalProviderError, match="no way") as caught:
        await LiteLLMClient(FAST).complete(request(fake_provider))
    assert caught.value.status_code == status
    assert len(fake_provider.requests()) == 1


async def test_garbage_body_is_retryable(fake_provider: FakeProvider) -> None:
    fake_provider.script([{"times": 1, "behaviour": {"kind": "garbage"}}])
    done = await LiteLLMClient(FAST).complete(request(fake_provider))
    assert done.attempts == 2
    assert [e["kind"] for e in fake_provider.requests()] == ["garbage", "reply"]


async def test_exhausted_retry_budget_raises_retryable_with_reason(fake_provider: FakeProvider) -> None:
    fake_provider.script([{"behaviour": {"kind": "error", "status": 503, "message": "overloaded"}}])
    policy = RetryPolicy(max_attempts=3, base_s=0.01, cap_s=0.05)
    with pytest.raises(RetryableProviderError, match=r"gave up after 3 attempts.*overloaded") as caught:
        await LiteLLMClient(policy).complete(request(fake_provider))
    assert caught.value.status_code == 503
    assert len(fake_provider.requests()) == 3


async def test_rejected_response_format_falls_back_once_and_is_remembered(fake_provider: FakeProvider) -> None:
    fake_provider.script(
        [{"has_response_format": True, "behaviour": {"kind": "error", "status": 400, "message": "no schema"}}]
    )
    client = LiteLLMClient(FAST)
    first = await client.complete(request(fake_provider, json_schema=SCHEMA))
    second = await client.complete(request(fake_provider, json_schema=SCHEMA))
    assert not first.structured_output_used and not second.structured_output_used
    assert first.attempts == 2 and second.attempts == 1
    assert ["response_format" in b for b in bodies(fake_provider)] == [True, False, False]


async def test_context_window_error_is_fatal_without_a_fallback(fake_provider: FakeProvider) -> None:
    message = "This model's maximum context length is 8192 tokens. However, your messages resulted in 9000"
    fake_provider.script([{"behaviour": {"kind": "error", "status": 400, "message": message}}])
    with pytest.raises(FatalProviderError, match="maximum context length"):
        await LiteLLMClient(FAST).complete(request(fake_provider, json_schema=SCHEMA))
    assert len(fake_provider.requests()) == 1


def test_parse_retry_after_reads_seconds_millis_and_dates() -> None:
    assert parse_retry_after({"retry-after": "2"}) == 2.0
    assert parse_retry_after({"retry-after-ms": "1500", "retry-after": "9"}) == 1.5
    assert parse_retry_after({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}) == 0.0
    assert parse_retry_after({}) is None
    assert parse_retry_after(None) is None


def test_structured_output_is_requested_for_openai_compatible_servers_only_when_known() -> None:
    assert wants_structured_output("openai/anything", "http://127.0.0.1:9/v1")
    assert wants_structured_output("openai/gpt-4o-mini", None)
    assert not wants_structured_output("openai/no-such-model-xyz", None)
