"""Judge one unit of work (one verdict key, or a small batch of them) and store it: what a worker task runs.

Idempotent by construction: keys that already have a final verdict are skipped before any call, and every
write is an upsert on the verdict key that never replaces a final verdict. A redelivered or duplicated task
therefore never stores a verdict twice, and a task killed before its commit loses nothing that a redelivery
does not redo. Per process (and per thread) it keeps one event loop, one judge client and the RunContext of
the runs it has seen (the context loads the run's catalog once).
"""

from __future__ import annotations

import asyncio
import threading
from collections import Counter, OrderedDict
from collections.abc import Sequence

from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import col

from judge.backends.config import ScaleOutSettings
from judge.errors import NotFoundError
from judge.llm.client import JudgeClient, LiteLLMClient
from judge.ratelimit import MemoryRateLimiter, RateLimitedClient, RateLimiter, RateLimitSettings, RedisRateLimiter
from judge.run import RunContext
from judge.settings import get_settings
from judge.store.engine import get_engine, session_scope
from judge.store.tables import Run, utcnow
from judge.store.verdicts import final_keys, upsert_verdicts
from judge.types import Frozen

CONTEXT_CACHE_SIZE = 8
_contexts: OrderedDict[tuple[str, int], RunContext] = OrderedDict()
_contexts_lock = threading.Lock()
_local = threading.local()


class UnitResult(Frozen):
    """What one unit did: keys judged now, keys skipped (already final, or the run stopped), by status."""

    judged: int
    skipped: int
    statuses: dict[str, int]


def run_context(engine: Engine, run_id: int) -> RunContext:
    """The RunContext of ``run_id``, loaded once per process (a small LRU)."""
    cache_key = (engine.url.render_as_string(hide_password=False), run_id)
    with _contexts_lock:
        if cache_key in _contexts:
            _contexts.move_to_end(cache_key)
            return _contexts[cache_key]
    with session_scope(engine) as session:
        run = session.get(Run, run_id)
        if run is None:
            raise NotFoundError(f"no run {run_id}")
        context = RunContext(session, run)
    with _contexts_lock:
        _contexts[cache_key] = context
        while len(_contexts) > CONTEXT_CACHE_SIZE:
            _contexts.popitem(last=False)
    return context


def make_client(scale: ScaleOutSettings | None = None, *, shared: bool = True) -> JudgeClient:
    """A judge client with the configured retry policy, under the configured rate limits: shared through
    Redis (the broker, or ``JUDGE_RATE_LIMIT_REDIS_URL``) when ``shared`` and a broker is set, else in memory."""
    scale = scale or ScaleOutSettings()
    limits = RateLimitSettings()
    if not limits.rate_limits:
        return LiteLLMClient(scale.retry_policy())
    settings = get_settings()
    if shared and settings.broker_url is not None:
        limiter: RateLimiter = RedisRateLimiter(
            settings.broker_url.get_secret_value(), limits.rate_limits, limits.rate_limit_burst_s
        )
    else:
        limiter = MemoryRateLimiter(limits.rate_limits, limits.rate_limit_burst_s)
    return RateLimitedClient(limiter, scale.retry_policy())


def _thread_state() -> tuple[asyncio.AbstractEventLoop, JudgeClient]:
    """This thread's event loop and judge client (LiteLLM's HTTP clients are bound to the loop)."""
    if getattr(_local, "loop", None) is None:
        _local.loop = asyncio.new_event_loop()
        _local.client = make_client()
    return _local.loop, _local.client


def _skip_reason(engine: Engine, context: RunContext) -> str | None:
    with session_scope(engine) as session:
        run = session.get(Run, context.run_id)
    if run is None or run.status == "cancelled":
        return "cancelled"
    budget = context.config.max_cost_usd
    return "budget" if budget is not None and run.cost_usd >= budget else None


async def judge_keys(engine: Engine, context: RunContext, client: JudgeClient, keys: Sequence[str]) -> UnitResult:
    """Judge the keys of ``context``'s run that have no final verdict yet, concurrently, and store them."""
    if _skip_reason(engine, context) is not None:
        return UnitResult(judged=0, skipped=len(keys), statuses={})
    with session_scope(engine) as session:
        done = final_keys(session, keys=keys)
    by_key = context.by_key
    items = [by_key[k] for k in sorted(set(keys)) if k not in done and k in by_key]
    rows = await asyncio.gather(*(context.judge(client, item) for item in items))
    stamped = [{**row, "created_at": utcnow()} for row in rows]
    columns = sorted(set().union(*stamped)) if stamped else []
    cost = sum(row.get("cost_usd") or 0.0 for row in rows)  # money spent, whether or not a rival wrote first
    with session_scope(engine) as session:  # writes only, in key order: no lock upgrade, no deadlock
        upsert_verdicts(session, [{c: row.get(c) for c in columns} for row in stamped])
        if cost:
            session.execute(update(Run).where(col(Run.id) == context.run_id).values(cost_usd=col(Run.cost_usd) + cost))
    return UnitResult(
        judged=len(rows), skipped=len(keys) - len(rows), statuses=dict(Counter(r["status"] for r in rows))
    )


def judge_unit_sync(run_id: int, keys: Sequence[str], *, database_url: str | None = None) -> UnitResult:
    """The worker task's body: judge and store ``keys`` of run ``run_id`` on this thread's event loop."""
    engine = get_engine(database_url)
    loop, client = _thread_state()
    return loop.run_until_complete(judge_keys(engine, run_context(engine, run_id), client, keys))
