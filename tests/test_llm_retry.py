"""The retry policy: what is retried, how long it waits, and when it gives up."""

from __future__ import annotations

import random

import pytest

from judge.core.errors import FatalProviderError, RetryableProviderError
from judge.llm.retry import RetryPolicy, call_with_retries
from judge.settings import Settings


class Flaky:
    """Fails with the given errors in turn, then returns "ok"; records the calls."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.calls = 0

    async def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "ok"


class Sleeps:
    """A fake sleep that records the waits instead of waiting."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def test_wait_is_full_jitter_below_the_exponential_bound() -> None:
    policy = RetryPolicy(base_s=1.0, cap_s=100.0)
    rng = random.Random(1)
    for retry in (1, 2, 3, 4):
        waits = [policy.wait_s(retry, None, rng) for _ in range(200)]
        assert all(0.0 <= w <= 2.0 ** (retry - 1) for w in waits)
        assert max(waits) > 0.5 * 2.0 ** (retry - 1)  # spread over the whole range, not a constant


def test_wait_never_undercuts_retry_after_and_never_exceeds_the_cap() -> None:
    policy = RetryPolicy(base_s=0.01, cap_s=5.0)
    rng = random.Random(2)
    assert policy.wait_s(1, 3.0, rng) == 3.0
    assert policy.wait_s(1, 30.0, rng) == 5.0
    assert policy.wait_s(20, None, rng) <= 5.0


def test_longest_total_wait_and_duration() -> None:
    policy = RetryPolicy(max_attempts=4, base_s=1.0, cap_s=10.0)
    assert policy.max_total_wait_s() == 30.0
    assert policy.max_total_duration_s(timeout_s=60.0) == 4 * 60.0 + 30.0


def test_from_settings_counts_the_first_attempt() -> None:
    assert RetryPolicy.from_settings(Settings(max_retries=2)).max_attempts == 3


async def test_retryable_errors_are_retried_with_retry_after_honoured() -> None:
    attempt = Flaky(RetryableProviderError("429", retry_after=2.0), RetryableProviderError("500"))
    sleeps = Sleeps()
    policy = RetryPolicy(max_attempts=5, base_s=0.01, cap_s=60.0)
    assert await call_with_retries(policy, attempt, sleep=sleeps, rng=random.Random(0)) == "ok"
    assert attempt.calls == 3
    assert sleeps.waits[0] == 2.0
    assert 0.0 <= sleeps.waits[1] <= 0.02


async def test_fatal_errors_are_not_retried() -> None:
    attempt = Flaky(FatalProviderError("401 bad key", status_code=401))
    sleeps = Sleeps()
    with pytest.raises(FatalProviderError, match="bad key"):
        await call_with_retries(RetryPolicy(max_attempts=5), attempt, sleep=sleeps)
    assert attempt.calls == 1
    assert sleeps.waits == []


async def test_gives_up_after_max_attempts_with_the_last_reason() -> None:
    attempt = Flaky(*(RetryableProviderError(f"500 number {i}", status_code=500) for i in range(5)))
    sleeps = Sleeps()
    with pytest.raises(RetryableProviderError, match="gave up after 3 attempts; last error: 500 number 2"):
        await call_with_retries(RetryPolicy(max_attempts=3, base_s=0.01), attempt, sleep=sleeps)
    assert attempt.calls == 3
    assert len(sleeps.waits) == 2
