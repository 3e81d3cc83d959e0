"""Shared by the arena tests: a prompt set with three models (one answer carries hostile markup), an app over it,
tenant keys and voter invitations. (No tests here.)"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from judge.api import ApiSettings, create_app
from judge.api.arena import reconfigure
from judge.core.types import Winner
from judge.importers.bundle import ImportBundle
from judge.importers.records import PromptRecord, ResponseRecord, VoteRecord
from judge.settings import ArenaSettings
from judge.store.api_keys import create_key
from judge.store.engine import session_scope
from judge.store.ingest import write_bundle

MODELS = ("alpha-7b", "bravo-13b", "charlie-70b")
PROMPTS = 4
HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'
SET = "arena-set"


def arena_bundle(prompts: int = PROMPTS) -> ImportBundle:
    """``prompts`` prompts (the first has two turns), each answered by all three models; answers never name a
    model. One imported vote so the set has history."""
    records = [
        PromptRecord(
            prompt_id=f"q{i}", turns=[f"Question {i}: explain `x{i}`."] + (["And a follow-up?"] if i == 0 else [])
        )
        for i in range(prompts)
    ]
    responses = [
        ResponseRecord(
            prompt_id=f"q{i}",
            model=m,
            turns=[f"Answer {k}{i}: **bold** and code:\n```python\nprint({i})\n```\n" + (HOSTILE if k == 1 else "")]
            + (["second turn"] if i == 0 else []),
        )
        for i in range(prompts)
        for k, m in enumerate(MODELS)
    ]
    votes = [VoteRecord(prompt_id="q1", model_a=MODELS[0], model_b=MODELS[1], winner=Winner.MODEL_A, voter="imported")]
    return ImportBundle(prompts=records, responses=responses, votes=votes)


@dataclass
class Arena:
    """A test client over an app with the arena set, two tenants' keys, and helpers."""

    client: TestClient
    app: FastAPI
    engine: Engine
    keys: dict[str, str]
    set_id: int

    def tenant(self, tenant: str = "acme") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[tenant]}"}

    def invite(self, voter: str, **extra: Any) -> dict[str, Any]:
        body = {"prompt_set_id": self.set_id, "voter": voter, **extra}
        created = self.client.post("/v1/arena/voters", json=body, headers=self.tenant())
        assert created.status_code == 201, created.text
        result: dict[str, Any] = created.json()
        return result


def arena_settings(**overrides: Any) -> ArenaSettings:
    values: dict[str, Any] = {
        "public_url": "http://testserver",
        "rate_per_minute": 100_000,
        "burst": 10_000,
        "refit_votes": 1,
        "bootstrap": 20,
    }
    return ArenaSettings(**(values | overrides))


@pytest.fixture
def arena(engine: Engine) -> Iterator[Arena]:
    with session_scope(engine) as session:
        write_bundle(session, set_name=SET, bundle=arena_bundle(), tenant="acme")
        keys = {t: create_key(session, tenant=t)[1] for t in ("acme", "globex")}
        from judge.store.queries import get_set

        set_id = get_set(session, name=SET, tenant="acme").id
        assert set_id is not None
    app = create_app(engine, api_settings=ApiSettings())
    reconfigure(app, arena_settings())
    with TestClient(app) as client:
        yield Arena(client, app, engine, keys, set_id)
