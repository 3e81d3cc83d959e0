"""The API end to end on SQLite and PostgreSQL: upload → run on the in-process backend with the fake provider
→ verdicts, leaderboards, agreement and audit."""

from __future__ import annotations

from judge.testing.fake_provider import FakeProvider
from tests.test_api_fixtures import PREFER_GOOD, PROMPTS, Api, api, run_body, upload_set

__all__ = ["api"]


def test_upload_run_and_results(api: Api, fake_provider: FakeProvider) -> None:
    fake_provider.script(
        rules=[
            {
                "contains": "reference",
                "behaviour": {"kind": "reply", "content": '{"reason": "ok", "verdict": "correct"}'},
            }
        ],
        default=PREFER_GOOD,  # type: ignore[arg-type]
    )
    set_id = upload_set(api)
    summary = api.get(f"/v1/prompt-sets/{set_id}").json()
    assert (summary["prompts"], summary["with_reference"], summary["responses"], summary["votes"]) == (
        PROMPTS,
        PROMPTS,
        2 * PROMPTS,
        PROMPTS,
    )

    started = api.post("/v1/runs", json=run_body(set_id, fake_provider))
    assert started.status_code == 202, started.text
    assert started.json()["planned"] == 2 * PROMPTS
    run = api.wait_for_run(started.json()["id"])
    assert run["status"] == "completed", run
    # combined outcomes are in canonical orientation (model_a = "bad" < model_b = "good"): good won every unit
    assert (run["ok"], run["missing"], run["combined"]) == (2 * PROMPTS, 0, {"model_b": PROMPTS})
    assert run["progress"] == {"finished": 2 * PROMPTS, "planned": 2 * PROMPTS, "fraction": 1.0}
    assert run["method"]["judges"] == ["openai/fake-judge"]

    first = api.get(f"/v1/runs/{run['id']}/verdicts", params={"limit": 5}).json()
    assert (len(first["items"]), first["total"]) == (5, 2 * PROMPTS) and first["next"] is not None
    rest = api.get(f"/v1/runs/{run['id']}/verdicts", params={"limit": 5, "after": first["next"]}).json()
    assert len(rest["items"]) == 2 * PROMPTS - 5 and rest["next"] is None
    assert {v["id"] for v in first["items"]}.isdisjoint(v["id"] for v in rest["items"])
    ba = api.get(f"/v1/runs/{run['id']}/verdicts", params={"order": "ba", "prompt_id": "p1"}).json()
    assert [(v["order"], v["prompt_id"], v[v["winner"]]) for v in ba["items"]] == [("ba", "p1", "good")]

    board = api.get(
        "/v1/leaderboards",
        params={"prompt_set_id": set_id, "source": "judge:openai/fake-judge", "bootstrap": 20, "style_control": True},
    ).json()
    assert [r["model"] for r in board] == ["good", "bad"] and board[0]["n_votes"] == PROMPTS
    assert {"raw", "style_controlled"} <= set(board[0]["method"]) and "style_rating" in board[0]

    agreement = api.get(
        "/v1/agreement", params={"prompt_set_id": set_id, "a": "judge:openai/fake-judge", "b": "human"}
    ).json()
    assert agreement["with_ties"]["agree"] == agreement["with_ties"]["total"] == PROMPTS
    assert agreement["judge_diagnostics"]["openai/fake-judge"]["position_consistency"]["rate"] == 1.0

    graded = api.post("/v1/runs", json=run_body(set_id, fake_provider, rubric="correctness"))
    assert graded.status_code == 202, graded.text
    assert api.wait_for_run(graded.json()["id"])["status"] == "completed"
    audit = api.get("/v1/audit", params={"prompt_set_id": set_id, "grader": "openai/fake-judge"}).json()
    assert audit["n_votes"] == PROMPTS and audit["preferred_but_wrong"]["n"] == 0
    assert audit["method"]["grader"] == "openai/fake-judge"


def test_cancel_stops_a_running_run(api: Api, fake_provider: FakeProvider) -> None:
    fake_provider.script(default={"kind": "hang", "hang_s": 30})  # type: ignore[arg-type]
    set_id = upload_set(api)
    started = api.post("/v1/runs", json=run_body(set_id, fake_provider, timeout_s=30)).json()
    assert api.post(f"/v1/runs/{started['id']}/cancel").json() == {"id": started["id"], "status": "cancelled"}
    run = api.wait_for_run(started["id"])
    assert run["status"] == "cancelled" and run["ok"] == 0
    assert api.post(f"/v1/runs/{started['id']}/cancel").status_code == 200
