"""Live prompts through the real LiteLLM -> HTTP path with the fake provider: two live models chosen by the pair
selector answer a voter's prompt, the answers become responses of the set with their provenance, then the vote."""

from __future__ import annotations

import re

from sqlmodel import col, select

from judge.store.arena import get_config, save_config
from judge.store.engine import session_scope
from judge.store.tables import ArenaAnswer, Prompt, Response, Vote
from judge.testing.fake_provider import FakeProvider
from tests.arena_fixtures import SET, Arena, arena

__all__ = ["arena"]
LIVE = {"m-one": "first live answer", "m-two": "second live answer", "m-three": "third live answer"}


def enable_live(arena: Arena, provider: FakeProvider, max_cost: float | None = None) -> None:
    with session_scope(arena.engine) as session:
        config = get_config(session, set_id=arena.set_id)
        live_models = [{"model": f"openai/{m}", "api_base": provider.url} for m in LIVE]
        save_config(session, config.model_copy(update={"live_models": live_models, "max_cost_usd": max_cost}))
    provider.script(
        rules=[{"model": m, "behaviour": {"kind": "reply", "content": text}} for m, text in LIVE.items()],
    )


def test_a_voters_prompt_is_answered_stored_and_voted_on(arena: Arena, fake_provider: FakeProvider) -> None:
    token = arena.invite("liv")["token"]
    headers = {"Authorization": f"Bearer {token}"}
    refused = arena.client.post("/v1/arena/prompts", json={"prompt": "hi"}, headers=headers)
    assert refused.status_code == 422 and "does not take your own prompts" in refused.text
    enable_live(arena, fake_provider)

    asked = arena.client.post("/v1/arena/prompts", json={"prompt": "What is LIVE-PROMPT?"}, headers=headers)
    assert asked.status_code == 201, asked.text
    unit = asked.json()
    assert unit["prompt"] == ["What is LIVE-PROMPT?"]
    texts = [r["text"] for r in unit["responses"]]
    assert len(set(texts)) == 2 and set(texts) <= set(LIVE.values())
    assert not any(m in asked.text for m in LIVE)  # no model names before the vote
    sent = [e for e in fake_provider.requests() if "LIVE-PROMPT" in str(e.get("body"))]
    assert len(sent) == 2 and {e["model"] for e in sent} <= set(LIVE)

    reveal = arena.client.post("/v1/arena/votes", json={"unit_id": unit["unit_id"], "choice": "B"}, headers=headers)
    assert reveal.status_code == 201
    owner = {text: f"openai/{m}" for m, text in LIVE.items()}
    assert reveal.json()["model_b"] == owner[texts[1]] and reveal.json()["winner"] == owner[texts[1]]

    with session_scope(arena.engine) as session:
        prompt = session.exec(select(Prompt).where(col(Prompt.category) == "live")).one()
        assert prompt.set_id == arena.set_id and prompt.turns == ["What is LIVE-PROMPT?"]
        responses = session.exec(select(Response).where(col(Response.prompt_id) == prompt.id)).all()
        assert {r.turns[0] for r in responses} == set(texts)
        answers = session.exec(select(ArenaAnswer)).all()
        assert len(answers) == 2 and all(a.attempts >= 1 and a.latency_ms > 0 for a in answers)
        assert {a.api_base for a in answers} == {fake_provider.url}


def test_live_prompt_from_the_page_and_the_budget(arena: Arena, fake_provider: FakeProvider) -> None:
    enable_live(arena, fake_provider)
    url = arena.invite("page")["url"]
    arena.client.get(url.removeprefix("http://testserver"))
    page = arena.client.get(f"/arena/{SET}")
    assert 'action="/arena/arena-set/prompt"' in page.text
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf
    forged = arena.client.post(f"/arena/{SET}/prompt", data={"prompt": "x"})
    assert forged.status_code == 403
    asked = arena.client.post(f"/arena/{SET}/prompt", data={"prompt": "PAGE-PROMPT <b>hi</b>", "csrf": csrf.group(1)})
    assert asked.status_code == 200 and "PAGE-PROMPT &lt;b&gt;hi&lt;/b&gt;" in asked.text  # redirected to it

    token = arena.invite("budget")["token"]
    with session_scope(arena.engine) as session:
        config = get_config(session, set_id=arena.set_id)
        save_config(session, config.model_copy(update={"max_cost_usd": 0.0}))
    spent = arena.client.post(
        "/v1/arena/prompts", json={"prompt": "more"}, headers={"Authorization": f"Bearer {token}"}
    )
    assert spent.status_code == 403 and "budget" in spent.text


def test_a_judges_agreement_with_the_arena_votes(arena: Arena, fake_provider: FakeProvider) -> None:
    """A judge run on the units voters voted on shows up in the live board with its agreement."""
    import asyncio

    from judge.llm.client import LiteLLMClient
    from judge.llm.retry import RetryPolicy
    from judge.runs.request import JudgeSpec, RunConfig
    from judge.runs.service import create_run, execute_run

    token = arena.invite("agree")["token"]
    headers = {"Authorization": f"Bearer {token}"}
    for _ in range(4):
        unit = arena.client.get("/v1/arena/next", headers=headers).json()
        arena.client.post("/v1/arena/votes", json={"unit_id": unit["unit_id"], "choice": "A"}, headers=headers)
    fake_provider.script(default={"kind": "reply", "content": "[[A]]"})  # type: ignore[arg-type]
    config = RunConfig(
        set_name=SET,
        judges=(JudgeSpec(model="openai/fake-judge", api_base=fake_provider.url),),
        rubric="pairwise",
        pairs="human-voted",
        timeout_s=5,
        concurrency=4,
    )
    with session_scope(arena.engine) as session:
        run, _ = create_run(session, config=config, tenant="acme")
    assert run.id is not None
    asyncio.run(
        execute_run(arena.engine, run.id, LiteLLMClient(RetryPolicy(max_attempts=2, base_s=0.01)), tenant="acme")
    )
    board = arena.client.get(f"/v1/arena/sets/{arena.set_id}/leaderboard", headers=arena.tenant()).json()
    block = board["judges"]["judge:openai/fake-judge"]
    # a judge always answering "A" is position-inconsistent: both orders disagree, so every unit is a tie
    with session_scope(arena.engine) as session:
        voted_units = {(v.prompt_id, v.model_a, v.model_b) for v in session.exec(select(Vote)).all()}
    assert len(voted_units) >= 4 and block["n_units"] == len(voted_units)
    assert block["with_ties"]["n"] >= len(voted_units) and block["with_ties"]["count"] == 0
