"""Shared per-model rate limits in Redis (the shared server on 127.0.0.1:6379, keys namespaced per test)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import pytest
import redis

from judge.core.types import ChatMessage
from judge.llm.client import CompletionRequest
from judge.llm.ratelimit import (
    MemoryRateLimiter,
    RateLimitedClient,
    RedisRateLimiter,
    estimate_tokens,
)
from judge.llm.retry import RetryPolicy
from judge.settings import RateLimit, Settings
from judge.testing.fake_provider import FakeProvider
from tests.conftest import unavailable

REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture
def model() -> Iterator[str]:
    """A fresh model name; its Redis keys are deleted afterwards."""
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except (redis.RedisError, OSError) as exc:
        unavailable(f"Redis not reachable at {REDIS_URL}: {type(exc).__name__}")
    name = f"openai/test-{uuid.uuid4().hex[:10]}"
    yield name
    client.delete(*RedisRateLimiter.keys(name))
    client.close()


def tat(model: str, kind: int) -> float:
    return float(redis.Redis.from_url(REDIS_URL).get(RedisRateLimiter.keys(model)[kind]) or 0)


async def acquire_all(limiter: RedisRateLimiter, model: str, tokens: list[int]) -> list[float]:
    try:
        return [await limiter.acquire(model, t) for t in tokens]
    finally:
        await limiter.close()


def test_two_workers_share_one_budget(model: str) -> None:
    limits = {model: RateLimit(requests_per_min=1200)}  # one request per 50 ms, no burst
    first = asyncio.run(acquire_all(RedisRateLimiter(REDIS_URL, limits, burst_s=0), model, [1]))
    second = asyncio.run(acquire_all(RedisRateLimiter(REDIS_URL, limits, burst_s=0), model, [1]))
    assert first == [0.0] and second[0] > 0  # the second "worker" waits for the first one's grant


def test_tokens_per_minute_are_counted_per_request_size(model: str) -> None:
    limits = {model: RateLimit(tokens_per_min=60_000)}  # 1000 tokens/s
    asyncio.run(acquire_all(RedisRateLimiter(REDIS_URL, limits, burst_s=10), model, [100, 300]))
    before = tat(model, 1)
    asyncio.run(acquire_all(RedisRateLimiter(REDIS_URL, limits, burst_s=10), model, [500]))
    assert tat(model, 1) - before == pytest.approx(0.5, abs=1e-3)  # 500 tokens at 1000/s
    assert tat(model, 0) == 0.0  # no request limit configured: no request bucket


def test_429_halves_the_shared_rate(model: str) -> None:
    limits = {model: RateLimit(requests_per_min=600)}  # 0.1 s per request at full rate

    async def scenario() -> list[float]:
        limiter = RedisRateLimiter(REDIS_URL, limits, burst_s=10)
        await limiter.acquire(model, 1)  # the bucket now runs ahead of the clock: steps are exact
        steps = []
        for slow in (False, True):
            if slow:
                assert await limiter.slow_down(model) == 0.5
            before = tat(model, 0)
            await limiter.acquire(model, 1)
            steps.append(tat(model, 0) - before)
        await limiter.close()
        return steps

    full, halved = asyncio.run(scenario())
    assert halved == pytest.approx(2 * full, rel=1e-3)


def test_unlimited_models_never_touch_redis(model: str) -> None:
    limiter = RedisRateLimiter(REDIS_URL, {}, burst_s=0)
    assert asyncio.run(acquire_all(limiter, model, [10, 10, 10])) == [0.0, 0.0, 0.0]
    assert tat(model, 0) == tat(model, 1) == 0.0


def test_rate_limited_client_slows_down_on_429(model: str, fake_provider: FakeProvider) -> None:
    fake_provider.script(rules=[{"times": 1, "behaviour": {"kind": "rate_limit", "retry_after": 0}}])
    limits = {model: RateLimit(requests_per_min=6000)}
    limiter = RedisRateLimiter(REDIS_URL, limits)
    client = RateLimitedClient(limiter, RetryPolicy(max_attempts=3, base_s=0.01, cap_s=0.02))
    request = CompletionRequest(
        model=model, messages=(ChatMessage(role="user", content="hi"),), api_base=fake_provider.url, timeout_s=5
    )

    async def call() -> int:
        try:
            return (await client.complete(request)).attempts
        finally:
            await limiter.close()

    assert asyncio.run(call()) == 2
    assert float(redis.Redis.from_url(REDIS_URL).get(RedisRateLimiter.keys(model)[2]) or 0) == 0.5


def test_memory_limiter_makes_the_second_request_wait() -> None:
    limiter = MemoryRateLimiter({"m": RateLimit(requests_per_min=1200)}, burst_s=0)

    async def two() -> list[float]:
        return [await limiter.acquire("m", 1), await limiter.acquire("m", 1), await limiter.acquire("other", 1)]

    first, second, other = asyncio.run(two())
    assert first == 0.0 and second > 0 and other == 0.0
    assert asyncio.run(limiter.slow_down("m")) == 0.5


def test_settings_and_token_estimate(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JUDGE_RATE_LIMITS", '{"openai/gpt-4o": {"requests_per_min": 500, "tokens_per_min": 30000}}')
    assert Settings().rate_limits == {"openai/gpt-4o": RateLimit(requests_per_min=500, tokens_per_min=30000)}
    request = CompletionRequest(model="m", messages=(ChatMessage(role="user", content="x" * 400),))
    assert estimate_tokens(request) == 100 + 4 + 256
