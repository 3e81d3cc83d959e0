"""Verifiable correctness through the API (SQLite and PostgreSQL): gold answers with a set's prompts, a
`grader:auto` run with no provider call, labels, the audit and grader agreement with hand-computed figures."""

from __future__ import annotations

import json
from typing import Any

from judge.testing.fake_provider import Behaviour, FakeProvider
from tests.test_api_fixtures import Api, api

__all__ = ["api"]

PROMPTS = 4


def create_set(api: Api) -> int:
    body = {
        "name": "sums",
        "prompts": [
            {
                "prompt_id": f"p{i}",
                "turns": [f"What is {i} + {i}?"],
                "category": "math",
                "gold": {"type": "number", "answer": 2 * i},
            }
            for i in range(PROMPTS)
        ],
    }
    created = api.post("/v1/prompt-sets", json=body)
    assert created.status_code == 201, created.text
    set_id: int = created.json()["id"]
    responses = [
        {"prompt_id": f"p{i}", "model": model, "response": f"Adding them up, the answer is {2 * i + wrong}."}
        for i in range(PROMPTS)
        for model, wrong in (("good", 0), ("bad", 1))
    ]
    lines = "".join(json.dumps(r) + "\n" for r in responses)
    added = api.post(
        f"/v1/prompt-sets/{set_id}/responses", content=lines, headers={"Content-Type": "application/x-ndjson"}
    )
    assert added.status_code == 200, added.text
    # alice prefers the wrong answer on p0 and p1, the right one on p2, and ties on p3
    winners = ["model_b", "model_b", "model_a", "tie"]
    votes: dict[str, Any] = {
        "source": "team",
        "votes": [
            {"prompt_id": f"p{i}", "model_a": "good", "model_b": "bad", "winner": w, "voter": "alice"}
            for i, w in enumerate(winners)
        ],
    }
    assert api.post(f"/v1/prompt-sets/{set_id}/votes", json=votes).status_code == 200
    return set_id


def test_gold_with_prompts_a_grader_run_and_the_audit(api: Api, fake_provider: FakeProvider) -> None:
    fake_provider.script(default=Behaviour(kind="error", status=500))
    set_id = create_set(api)
    again = api.post(
        f"/v1/prompt-sets/{set_id}/gold", json={"gold": [{"prompt_id": "p1", "type": "number", "answer": 2}]}
    )
    assert again.status_code == 200 and again.json()["unchanged"] == 1, again.text
    started = api.post("/v1/runs", json={"prompt_set_id": set_id, "judges": [{"model": "grader:auto"}]})
    assert started.status_code == 202, started.text
    assert started.json()["planned"] == 2 * PROMPTS
    run = api.wait_for_run(started.json()["id"])
    assert run["status"] == "completed" and run["ok"] == 2 * PROMPTS, run
    assert run["cost_usd"] == 0
    assert fake_provider.requests() == []
    audit = api.get("/v1/audit", params={"prompt_set_id": set_id, "grader": "grader:auto"})
    assert audit.status_code == 200, audit.text
    data = audit.json()
    assert (data["preferred_but_wrong"]["count"], data["preferred_but_wrong"]["n"]) == (2, 3)
    assert (data["both_incorrect_preferred"]["count"], data["both_incorrect_preferred"]["n"]) == (0, 0)
    assert data["preferred_but_wrong_by_voter"]["alice"]["count"] == 2
    assert (data["ties_by_correctness"]["correct_vs_not_correct"]["count"], data["n_graded_responses"]) == (1, 8)
    assert {e["winner_grade"]["extracted_answer"] for e in data["examples"]} == {"1", "3"}


def test_labels_and_grader_agreement(api: Api, fake_provider: FakeProvider) -> None:
    set_id = create_set(api)
    labels = {
        "source": "review",
        "labels": [
            {"prompt_id": "p0", "model": "good", "label": "correct"},
            {"prompt_id": "p0", "model": "bad", "label": "correct", "note": "lenient"},
            {"prompt_id": "p1", "model": "bad", "label": "incorrect"},
        ],
    }
    added = api.post(f"/v1/prompt-sets/{set_id}/labels", json=labels)
    assert added.status_code == 200 and added.json()["added"] == 3, added.text
    agreement = api.get(
        "/v1/grader-agreement", params={"prompt_set_id": set_id, "grader_a": "grader:auto", "grader_b": "labels:review"}
    )
    assert agreement.status_code == 200, agreement.text
    data = agreement.json()
    assert (data["n_shared"], data["all"]["accuracy"]["count"], data["n_disagree"]) == (3, 2, 1)
    assert data["disagreements"][0]["extracted_a"] == "1"


def test_bad_gold_and_unknown_graders_are_422_with_locations(api: Api, fake_provider: FakeProvider) -> None:
    set_id = create_set(api)
    bad = api.post(
        f"/v1/prompt-sets/{set_id}/gold",
        json={"gold": [{"prompt_id": "p1", "type": "number", "answer": 2}, {"prompt_id": "p2", "type": "date"}]},
    )
    assert bad.status_code == 422
    detail = bad.json()["detail"][0]
    assert detail["loc"] == ["body", "gold", 1, "type"] and "known types: number" in detail["msg"]
    unknown = api.post("/v1/runs", json={"prompt_set_id": set_id, "judges": [{"model": "grader:guess"}]})
    assert unknown.status_code == 422 and "known graders: auto" in unknown.text
    missing = api.get("/v1/audit", params={"prompt_set_id": set_id, "grader": "labels:nobody"})
    assert missing.status_code == 422 and "no labels from source 'nobody'" in missing.text
