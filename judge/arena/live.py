"""Live prompts: a voter asks their own prompt, two models chosen by the pair selector answer it through the judge
client (LiteLLM, with its retry policy), within the arena's budget; the answers become responses of the set and
the unit is served to the voter like any other. Each answer's provenance is stored (model, tokens, cost, latency,
attempts)."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable

import numpy as np
from sqlalchemy.engine import Engine
from starlette.concurrency import run_in_threadpool

from judge.arena import service
from judge.arena.selection import check_strategy, choose_pair
from judge.core.errors import BudgetExceededError, InputError
from judge.core.hashing import content_hash
from judge.core.types import ChatMessage
from judge.llm.client import Completion, CompletionRequest, JudgeClient, LiteLLMClient
from judge.store import arena as store
from judge.store.engine import session_scope

ClientFactory = Callable[[], JudgeClient]


def _plan(engine: Engine, voter: service.Voter, rng: np.random.Generator) -> list[dict[str, str | None]]:
    """The two live models to ask (chosen by the set's pair selection), or InputError/BudgetExceededError."""
    with session_scope(engine) as session:
        config = store.get_config(session, set_id=voter.set_id)
        models = {m["model"]: m.get("api_base") for m in config.live_models or []}
        if len(models) < 2:
            raise InputError("this arena does not take your own prompts", field="prompt")
        if config.max_cost_usd is not None and config.spent_usd >= config.max_cost_usd:
            raise BudgetExceededError("the arena's budget for live answers is spent")
        names = sorted(models)
        pairs = [(a, b) for i, a in enumerate(names) for b in names[i + 1 :]]
        strategy = check_strategy(config.selection)
        state = service.rating_state(session, voter.set_id, names) if strategy == "active" else None
    pair = choose_pair(pairs, state, strategy, rng)
    assert pair is not None
    return [{"model": m, "api_base": models[m]} for m in pair]


async def ask(
    engine: Engine,
    voter: service.Voter,
    text: str,
    rng: np.random.Generator,
    *,
    timeout_s: float = 60.0,
    client_factory: ClientFactory = LiteLLMClient,
) -> service.ServedUnit:
    """Have two live models answer ``text``, store prompt, answers and their provenance, and serve the unit."""
    plan = await run_in_threadpool(_plan, engine, voter, rng)
    client = client_factory()
    messages = (ChatMessage(role="user", content=text),)
    completions: list[Completion] = list(
        await asyncio.gather(
            *(
                client.complete(
                    CompletionRequest(
                        model=str(m["model"]), messages=messages, api_base=m["api_base"], timeout_s=timeout_s
                    )
                )
                for m in plan
            )
        )
    )
    return await run_in_threadpool(_store, engine, voter, text, plan, completions, rng)


def _store(
    engine: Engine,
    voter: service.Voter,
    text: str,
    plan: list[dict[str, str | None]],
    completions: list[Completion],
    rng: np.random.Generator,
) -> service.ServedUnit:
    with session_scope(engine) as session:
        prompt_id = store.add_live_prompt(
            session, set_id=voter.set_id, external_id=f"live-{secrets.token_hex(8)}", text=text
        )
        spent = 0.0
        for spec, completion in zip(plan, completions, strict=True):
            store.add_live_answer(
                session,
                prompt_id=prompt_id,
                model=str(spec["model"]),
                text=completion.text,
                content_hash_=content_hash([completion.text]),
                answered_by=completion.model,
                api_base=spec["api_base"],
                prompt_tokens=completion.prompt_tokens,
                completion_tokens=completion.completion_tokens,
                cost_usd=completion.cost_usd,
                latency_ms=completion.latency_ms,
                attempts=completion.attempts,
                finish_reason=completion.finish_reason,
            )
            spent += completion.cost_usd or 0.0
        if spent:
            store.add_spent(session, set_id=voter.set_id, cost_usd=spent)
        model_a, model_b = sorted(str(m["model"]) for m in plan)
        unit = service.unit_for(voter, prompt_id, (model_a, model_b), 1, rng)
        store.add_unit(session, unit)
        return service.show_unit(session, voter, unit.id)
