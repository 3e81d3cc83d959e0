"""schemathesis against the OpenAPI spec: generated requests (bounded per operation) never get a 5xx."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from judge.api import ApiSettings, create_app
from judge.importers.bundle import ImportBundle
from judge.importers.records import PromptRecord
from judge.store.engine import make_engine, session_scope, upgrade_database
from judge.store.ingest import write_bundle
from tests.test_api_fixtures import make_keys

EXAMPLES_PER_OPERATION = 15


@pytest.mark.slow
def test_generated_requests_get_no_server_error(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'schema.db'}"
    upgrade_database(url)
    engine = make_engine(url)
    headers = {"Authorization": f"Bearer {make_keys(engine)['acme']}"}
    with session_scope(engine) as session:  # one prompt set (id 1) with prompts only: runs plan nothing to call
        prompts = [PromptRecord(prompt_id=f"p{i}", turns=[f"q{i}"]) for i in range(3)]
        write_bundle(session, set_name="seeded", bundle=ImportBundle(prompts=prompts), tenant="acme")
    schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(engine, api_settings=ApiSettings()))
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 14
    checked: list[str] = []
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None, suppress_health_check=list(HealthCheck)
        )
        def no_server_error(case: Any) -> None:
            response = case.call(headers=headers)
            assert response.status_code < 500, (case.method, case.formatted_path, response.text)

        no_server_error()
        checked.append(operation.label)
    engine.dispose()
    assert "POST /v1/runs" in checked and "POST /v1/prompt-sets" in checked
