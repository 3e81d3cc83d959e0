"""Tenancy, authentication and input limits of the API: other tenants' ids 404, bad keys 401, malformed
bodies 422 with field paths, oversized bodies 413."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from judge.store.api_keys import revoke_key
from judge.store.engine import session_scope
from judge.store.tables import ApiKey
from judge.testing.fake_provider import FakeProvider
from tests.test_api_fixtures import BODY_LIMIT, PREFER_GOOD, Api, api, prompts_body, run_body, upload_set

__all__ = ["api"]


def test_another_tenants_ids_answer_404_everywhere(api: Api, fake_provider: FakeProvider) -> None:
    fake_provider.script(default=PREFER_GOOD)  # type: ignore[arg-type]
    set_id = upload_set(api, "acme")
    run_id = api.post("/v1/runs", "acme", json=run_body(set_id, fake_provider)).json()["id"]
    assert api.wait_for_run(run_id, "acme")["status"] == "completed"
    upload_set(api, "globex", name="team-set")  # the same name is fine in another tenant

    gets = [
        f"/v1/prompt-sets/{set_id}",
        f"/v1/runs/{run_id}",
        f"/v1/runs/{run_id}/verdicts",
        f"/v1/leaderboards?prompt_set_id={set_id}&bootstrap=0",
        f"/v1/agreement?prompt_set_id={set_id}&a=judge:openai/fake-judge",
        f"/v1/audit?prompt_set_id={set_id}&grader=openai/fake-judge",
    ]
    for url in gets:
        assert api.get(url, "globex").status_code == 404, url
        assert api.get(url, "acme").status_code in (200, 422), url  # the owner sees it (audit: no grades → 422)
    posts = [
        (f"/v1/prompt-sets/{set_id}/responses", {"responses": [{"prompt_id": "p0", "model": "x", "turns": ["hi"]}]}),
        (f"/v1/prompt-sets/{set_id}/votes", {"votes": []}),
        ("/v1/runs", run_body(set_id, fake_provider)),
        (f"/v1/runs/{run_id}/cancel", None),
    ]
    for url, body in posts:
        assert api.post(url, "globex", json=body).status_code == 404, url
    listed = api.get("/v1/prompt-sets", "globex").json()
    assert [s["id"] for s in listed] != [set_id] and all(s["id"] != set_id for s in listed)
    assert api.get("/v1/runs", "globex").json() == []
    assert api.get(f"/v1/runs/{run_id}", "acme").json()["status"] == "completed"


SQLITE_ONLY = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # checks that do not depend on the DB


@SQLITE_ONLY
def test_missing_wrong_and_revoked_keys_are_401(api: Api) -> None:
    client: TestClient = api.client
    assert client.get("/v1/prompt-sets").status_code == 401
    assert client.get("/v1/prompt-sets", headers={"Authorization": "Bearer jk_wrong"}).status_code == 401
    assert client.get("/v1/runs/1", headers={"X-API-Key": "nope"}).status_code == 401
    assert client.get("/v1/prompt-sets", headers={"X-API-Key": api.keys["acme"]}).status_code == 200
    engine = client.app.state.judge.engine  # type: ignore[attr-defined]
    with session_scope(engine) as session:
        key_id = next(k.id for k in session.query(ApiKey).filter(ApiKey.tenant == "acme"))
        assert key_id is not None
        revoke_key(session, key_id=key_id)
    assert api.get("/v1/prompt-sets").status_code == 401
    assert client.get("/healthz").json() == {"status": "ok", "database": "ok", "broker": "not configured"}


@SQLITE_ONLY
def test_malformed_bodies_are_422_with_field_paths(api: Api, fake_provider: FakeProvider) -> None:
    set_id = upload_set(api)
    bad_vote = '{"prompt_id": "p0", "model_a": "good", "model_b": "bad", "winner": "model_a"}\n' * 2
    bad_vote += '{"prompt_id": "p1", "model_a": "good", "model_b": "bad", "winner": "draw"}\n'
    answer = api.post(
        f"/v1/prompt-sets/{set_id}/votes", content=bad_vote, headers={"Content-Type": "application/x-ndjson"}
    )
    assert answer.status_code == 422
    [error] = answer.json()["detail"]
    assert error["loc"] == ["body", "line 3", "winner"]
    assert error["msg"].startswith("line 3: winner: expected one of 'model_a', 'model_b', 'tie'")
    assert api.get(f"/v1/prompt-sets/{set_id}").json()["votes"] == 4  # all or nothing: nothing of the 3 lines

    body = prompts_body("second")
    body["prompts"][2]["turns"] = []
    answer = api.post("/v1/prompt-sets", json=body)
    assert answer.status_code == 422 and answer.json()["detail"][0]["loc"] == ["body", "prompts", 2, "turns"]
    assert all(s["name"] != "second" for s in api.get("/v1/prompt-sets").json())
    assert (
        api.post("/v1/prompt-sets", content=b"{not json", headers={"Content-Type": "application/json"}).status_code
        == 422
    )
    assert api.post("/v1/prompt-sets", json=prompts_body()).status_code == 409

    run = run_body(set_id, fake_provider)
    cases = {
        "rubric": run | {"rubric": "../../etc/passwd.yaml"},
        "api_key": run | {"api_key": "sk-secret-value"},
        "api_base": run | {"judges": [{"model": "openai/x", "api_base": "http://169.254.169.254/"}]},
        "pairs": run | {"pairs": "everything"},
        "concurrency": run | {"concurrency": 0},
    }
    for field, case in cases.items():
        answer = api.post("/v1/runs", json=case)
        assert answer.status_code == 422, (field, answer.text)
        assert field in str(answer.json()["detail"][0]["loc"]), (field, answer.json())
        assert "sk-secret-value" not in answer.text
    file_source = api.get("/v1/leaderboards", params={"prompt_set_id": set_id, "source": "/etc/passwd"})
    assert file_source.status_code == 422 and file_source.json()["detail"][0]["loc"] == ["query", "source"]
    too_many = api.get("/v1/runs/1/verdicts", params={"limit": 10_000})
    assert too_many.status_code in (404, 422)


@SQLITE_ONLY
def test_oversized_bodies_are_413(api: Api) -> None:
    big = {"name": "big", "prompts": [{"prompt_id": "p", "turns": ["x" * (BODY_LIMIT + 1)]}]}
    assert api.post("/v1/prompt-sets", json=big).status_code == 413

    def chunks() -> Iterator[bytes]:  # streamed without a Content-Length: the cap counts what arrives
        yield b'{"name": "streamed", "prompts": [{"prompt_id": "p", "turns": ["'
        for _ in range(BODY_LIMIT // 1024 + 1):
            yield b"y" * 1024
        yield b'"]}]}'

    answer = api.post("/v1/prompt-sets", content=chunks(), headers={"Content-Type": "application/json"})
    assert answer.status_code == 413 and "limit" in answer.json()["detail"]
    assert all(s["name"] != "streamed" for s in api.get("/v1/prompt-sets").json())
