"""The API with ``repeats`` and ``order_rule``: a run request asking for several samples per verdict, its summary
(self-consistency, spread, the order rule in the method card), and the analysis routes' order rule and categories.
On SQLite and PostgreSQL, judging through LiteLLM with the fake provider."""

from __future__ import annotations

from judge.testing.fake_provider import FakeProvider
from tests.test_api_fixtures import PREFER_GOOD, PROMPTS, Api, api, run_body, upload_set

__all__ = ["api"]

# p1's requests: two samples prefer 'good', the third takes the first response shown; pairs are stored sorted
# (bad, good), so one sample of p1 is a tie (its orders disagree), whichever sample index it is.
VARYING = [
    {
        "contains": "What is 1 + 1?",
        "behaviour": {"kind": "sequence", "steps": [PREFER_GOOD, PREFER_GOOD, {"kind": "position_biased"}]},
    }
]


def test_run_request_with_repeats_and_order_rules(api: Api, fake_provider: FakeProvider) -> None:
    fake_provider.script(VARYING, default=PREFER_GOOD)  # type: ignore[arg-type]
    set_id = upload_set(api)
    started = api.post("/v1/runs", json=run_body(set_id, fake_provider, repeats=3, sampling={"temperature": 0.7}))
    assert started.status_code == 202, started.text
    assert started.json()["planned"] == 3 * 2 * PROMPTS
    run = api.wait_for_run(started.json()["id"])
    assert run["status"] == "completed" and run["request"]["repeats"] == 3
    assert run["combined"] == {"model_b": PROMPTS}  # p1: good, good, tie -> good
    consistency = run["repeats"]["self_consistency"]["openai/fake-judge"]
    assert (consistency["count"], consistency["n"]) == (PROMPTS - 1, PROMPTS)
    good = run["repeats"]["spread"]["openai/fake-judge"]["good"]
    assert (good["min"], good["median"], good["max"]) == (3.5 / 4, 1.0, 1.0)  # the tie sample: 3 wins and a half
    assert run["method"]["repeats"] == 3 and run["order_rule"] == run["method"]["order_rule"] == "agree"

    separate = api.get(f"/v1/runs/{run['id']}", params={"order_rule": "separate"}).json()
    assert separate["combined"] == {"model_b": 2 * PROMPTS} and separate["units"] == PROMPTS
    assert separate["method"]["order_rule"] == "separate"
    assert api.get(f"/v1/runs/{run['id']}", params={"order_rule": "vote"}).status_code == 422

    source = {"prompt_set_id": set_id, "source": "judge:openai/fake-judge", "bootstrap": 20}
    agree = api.get("/v1/leaderboards", params=source).json()
    both = api.get("/v1/leaderboards", params=source | {"order_rule": "separate"}).json()
    assert [r["model"] for r in agree] == [r["model"] for r in both] == ["good", "bad"]
    assert (agree[0]["n_votes"], both[0]["n_votes"]) == (PROMPTS, 2 * PROMPTS)  # separate: two battles per unit
    assert both[0]["method"]["votes"]["order_rule"] == "separate"

    agreement = api.get(
        "/v1/agreement",
        params={"prompt_set_id": set_id, "a": "judge:openai/fake-judge", "b": "human", "order_rule": "sum"},
    ).json()
    assert agreement["method"]["order_rule"] == "sum"
    assert agreement["with_ties"]["agree"] == agreement["with_ties"]["total"] == PROMPTS

    by_category = api.get("/v1/leaderboards", params={**source, "by": "category"}).json()
    assert set(by_category) == {"overall", "categories", "skipped"} and list(by_category["categories"]) == ["math"]
    math = by_category["categories"]["math"]
    assert [r["model"] for r in math] == ["good", "bad"] and math[0]["rank_shift"] == 0
    one = api.get("/v1/leaderboards", params={**source, "category": "math"}).json()
    assert one[0]["method"]["votes"]["category"] == "math" and one[0]["n_votes"] == PROMPTS
    none = api.get("/v1/leaderboards", params={**source, "category": "poetry"})
    assert none.status_code == 422  # no votes in that category: a user error, not a 500
    assert api.get("/v1/leaderboards", params={**source, "by": "colour"}).status_code == 422

    rates = {"prompt_set_id": set_id, "source": "judge:openai/fake-judge", "baseline": "bad"}
    agree_rates = api.get("/v1/winrates", params=rates).json()
    separate_rates = api.get("/v1/winrates", params=rates | {"order_rule": "separate"}).json()
    assert [(r["model"], r["win_rate"], r["n"]) for r in agree_rates] == [("good", 100.0, PROMPTS)]
    assert [(r["model"], r["win_rate"], r["n"]) for r in separate_rates] == [("good", 100.0, 2 * PROMPTS)]
    assert separate_rates[0]["method"]["order_rule"] == "separate"
    human = api.get("/v1/winrates", params={"prompt_set_id": set_id, "baseline": "bad", "category": "math"}).json()
    assert [(r["model"], r["wins"], r["n"]) for r in human] == [("good", PROMPTS, PROMPTS)]  # alice: good each time
    assert api.get("/v1/winrates", params=rates | {"baseline": "nobody"}).status_code == 422
