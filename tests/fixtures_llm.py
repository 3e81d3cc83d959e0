"""Fixtures for the LLM edge: one fake OpenAI-compatible provider process per test session.

Register with ``pytest_plugins = ["tests.fixtures_llm"]`` in ``tests/conftest.py``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from judge.testing.fake_provider import FakeProvider


@pytest.fixture(scope="session")
def fake_provider_process() -> Iterator[FakeProvider]:
    """The fake provider server, started once for the session in its own process."""
    with FakeProvider() as provider:
        yield provider


@pytest.fixture
def fake_provider(fake_provider_process: FakeProvider) -> Iterator[FakeProvider]:
    """The session's fake provider with an empty script and request log (default: a verdict "A" reply)."""
    fake_provider_process.reset()
    yield fake_provider_process
    fake_provider_process.reset()
