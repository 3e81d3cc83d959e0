"""A toy prompt set and helpers to judge it through the fake provider (shared by engine and analysis tests).

Registered as a pytest plugin in conftest.py, so its fixtures (``store``, ``sqlite_store``) are everywhere.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select

from judge.llm.client import LiteLLMClient
from judge.llm.retry import RetryPolicy
from judge.runs.request import JudgeSpec, RunConfig
from judge.runs.service import RunProgress, create_run, execute_run, get_run, summarize_run
from judge.store.engine import session_scope
from judge.store.ingest import write_bundle
from judge.store.tables import PromptSet, Verdict
from judge.testing.fake_provider import FakeProvider
from judge.testing.toy import toy_bundle

PROMPTS = 6
FAST_RETRIES = RetryPolicy(max_attempts=2, base_s=0.01, cap_s=0.05)


@pytest.fixture
def store(engine: Engine) -> Engine:
    with session_scope(engine) as session:
        write_bundle(session, set_name="toy", bundle=toy_bundle(PROMPTS))
    return engine


@pytest.fixture
def sqlite_store(sqlite_url: str) -> Iterator[Engine]:
    from judge.store.engine import make_engine, upgrade_database

    upgrade_database(sqlite_url)
    engine = make_engine(sqlite_url)
    with session_scope(engine) as session:
        write_bundle(session, set_name="toy", bundle=toy_bundle(PROMPTS))
    yield engine
    engine.dispose()


def config(provider: FakeProvider, **overrides: Any) -> RunConfig:
    values: dict[str, Any] = {
        "set_name": "toy",
        "judges": (JudgeSpec(model="openai/fake-judge", api_base=provider.url),),
        "rubric": "pairwise",
        "concurrency": 4,
        "timeout_s": 5.0,
    }
    values.update(overrides)
    return RunConfig(**values)


def run(engine: Engine, cfg: RunConfig) -> tuple[int, RunProgress]:
    with session_scope(engine) as session:
        created, _ = create_run(session, config=cfg)
    assert created.id is not None
    progress = asyncio.run(execute_run(engine, created.id, LiteLLMClient(FAST_RETRIES)))
    return created.id, progress


def summary(engine: Engine, run_id: int) -> Any:
    with session_scope(engine) as session:
        found = get_run(session, run_id=run_id)
        prompt_set = session.get(PromptSet, found.set_id)
        assert prompt_set is not None
        return summarize_run(session, run=found, prompt_set=prompt_set)


def verdicts(engine: Engine) -> list[Verdict]:
    with session_scope(engine) as session:
        return list(session.exec(select(Verdict)))


PREFER_GOOD = {"kind": "prefer_marker", "marker": "MARKER-GOOD", "rival": "MARKER-BAD"}
