"""Judge one unit of work (one verdict key, or a small batch of them) and store it: what a worker task runs.

Idempotent by construction: keys that already have a final verdict are skipped before any call, and every
write is an upsert on the verdict key that never replaces a final verdict. A redelivered or duplicated task
therefore never stores a verdict twice, and a task killed before its commit loses nothing that a redelivery
does not redo. Per process (and per thread) it keeps one event loop, one judge client, one Redis client and the
RunContext of the runs it has seen (the context loads the run's catalog once). Per task it opens four database
transactions: a read (run status and cost, which keys are already final), a claim (the keys' leases), a write
(the upserts, their leases released, the cost) and a last release of any lease left (a stopped task).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import threading
from collections import Counter, OrderedDict
from collections.abc import Coroutine, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy.engine import Engine

from judge.core.types import Frozen, RunStatus
from judge.llm.batch import LiteLLMBatchApi
from judge.llm.client import JudgeClient, LiteLLMClient
from judge.llm.ratelimit import MemoryRateLimiter, RateLimitedClient, RateLimiter, RedisRateLimiter
from judge.runs.backends.tracking import untrack
from judge.runs.batching import execute_batches
from judge.runs.execution import KeyExecutor, PayOnce
from judge.runs.service import RunContext, RunProgress, finish_run
from judge.settings import Settings, get_settings
from judge.store.engine import get_engine, session_scope
from judge.store.runs import get_run_record, run_state
from judge.store.verdicts import final_keys

if TYPE_CHECKING:
    import redis

CONTEXT_CACHE_SIZE = 8
_contexts: OrderedDict[tuple[str, int], RunContext] = OrderedDict()
_contexts_lock = threading.Lock()
_local = threading.local()
_tracker_client: redis.Redis | None = None
T = TypeVar("T")
log = logging.getLogger("judge.worker")


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
        context = RunContext(session, get_run_record(session, run_id=run_id))
    with _contexts_lock:
        _contexts[cache_key] = context
        while len(_contexts) > CONTEXT_CACHE_SIZE:
            _contexts.popitem(last=False)
    return context


def make_client(scale: Settings | None = None, *, shared: bool = True) -> JudgeClient:
    """A judge client with the configured retry policy, under the configured rate limits: shared through
    Redis (the broker, or ``JUDGE_RATE_LIMIT_REDIS_URL``) when ``shared`` and a broker is set, else in memory."""
    scale = limits = scale or Settings()
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


UNWIND_S = 2.0
"""How long an interrupted task's work may take to unwind (abandon its calls, release its leases) on the loop."""


def run_on_loop(loop: asyncio.AbstractEventLoop, work: Coroutine[Any, Any, T]) -> T:
    """``work`` run to its end on this thread's long-lived ``loop``. When the task is interrupted (Celery's soft
    time limit raises in the middle of the loop's wait), ``work`` is cancelled and given ``UNWIND_S`` to unwind
    before the exception goes on: left pending, it would wake up again in the next task's run of the loop and
    keep renewing the leases of keys it no longer judges, so that every redelivery of them waits forever. Work
    whose unwinding an earlier interruption cut short is cancelled again first."""
    interrupted: list[asyncio.Task[Any]] = getattr(_local, "interrupted", [])
    _local.interrupted = _cancel(loop, [task for task in interrupted if not task.done()])
    task = loop.create_task(work)
    try:
        return loop.run_until_complete(task)
    except BaseException:
        _local.interrupted = _cancel(loop, [task])
        raise


def _cancel(loop: asyncio.AbstractEventLoop, tasks: list[asyncio.Task[Any]]) -> list[asyncio.Task[Any]]:
    """Cancel ``tasks`` and run the loop until they end, for ``UNWIND_S`` at most; those still running."""
    for task in tasks:
        task.cancel()
    if tasks:
        with contextlib.suppress(BaseException):  # a second interruption, or the hard time limit, ends it anyway
            loop.run_until_complete(asyncio.wait(tasks, timeout=UNWIND_S))
    return [task for task in tasks if not task.done()]


def _tracker() -> redis.Redis | None:
    """This process's Redis client for run tracking (the broker's), or None without a broker."""
    import redis  # judge[worker]: only workers track keys

    global _tracker_client
    url = get_settings().broker_url
    if url is None:
        return None
    if _tracker_client is None:
        _tracker_client = redis.Redis.from_url(url.get_secret_value(), socket_timeout=5, socket_connect_timeout=5)
    return _tracker_client


def _read_state(engine: Engine, context: RunContext, keys: Sequence[str]) -> tuple[str | None, set[str]]:
    """In one read transaction: why the run's keys must be skipped (cancelled, budget spent) if they must, and
    which of ``keys`` already have a final verdict."""
    with session_scope(engine) as session:
        run = run_state(session, run_id=context.run_id)
        if run is None or run.status == RunStatus.CANCELLED:
            return RunStatus.CANCELLED.value, set()
        budget = context.config.max_cost_usd
        if budget is not None and run.cost_usd >= budget:
            return "budget", set()
        return None, final_keys(session, keys=keys)


async def judge_keys(engine: Engine, context: RunContext, client: JudgeClient, keys: Sequence[str]) -> UnitResult:
    """Judge the keys of ``context``'s run that have no final verdict yet, concurrently, and store them, through
    the shared core (:class:`judge.runs.execution.KeyExecutor`): each key is leased before its call, so a redelivered
    task whose first delivery still runs waits for it instead of paying again."""
    skip, done = _read_state(engine, context, keys)
    if skip is not None:
        return UnitResult(judged=0, skipped=len(keys), statuses={})
    by_key = context.by_key
    items = [by_key[k] for k in sorted(set(keys)) if k not in done and k in by_key]
    statuses: Counter[str] = Counter()
    core = KeyExecutor(
        engine,
        context,
        client,
        concurrency=len(items),
        policy=PayOnce.from_settings(write_batch=max(len(items), 1), write_interval_s=math.inf),
        on_row=lambda verdict: statuses.update([verdict.status.value]),
    )
    outcome = await core.execute(items)
    return UnitResult(judged=outcome.judged, skipped=len(keys) - outcome.judged, statuses=dict(statuses))


def finish_if_last(engine: Engine, run_id: int, keys: Sequence[str]) -> bool:
    """Mark ``keys`` done in the run's Redis set (see :mod:`judge.runs.backends.tracking`); when that empties the set,
    finish the run: ``completed``, ``incomplete``, or ``stopped`` when its budget left keys unjudged. True when
    this call finished it. Best effort: a Redis failure is logged, and a follower (if any) finishes the run."""
    client = _tracker()
    if client is None:
        return False
    import redis  # a tracker client exists: judge[worker] is installed

    try:
        if not untrack(client, run_id, keys):
            return False
    except (redis.RedisError, OSError) as exc:
        log.warning("run %s: cannot update its waiting keys in Redis: %s", run_id, exc)
        return False
    finish_run(engine, run_id)
    return True


def judge_unit_sync(run_id: int, keys: Sequence[str], *, database_url: str | None = None) -> UnitResult:
    """The worker task's body: judge and store ``keys`` of run ``run_id`` on this thread's event loop, then
    finish the run if these were its last keys."""
    engine = get_engine(database_url)
    loop, client = _thread_state()
    result = run_on_loop(loop, judge_keys(engine, run_context(engine, run_id), client, keys))
    finish_if_last(engine, run_id, keys)
    return result


class BatchStep(Frozen):
    """One round of a ``--batch`` run on a worker: whether to send the next round (``again``, after
    ``poll_s``), and the verdicts this round stored."""

    again: bool
    poll_s: float
    done: int
    stopped: str | None = None


def batch_step_sync(run_id: int, since: str | None = None, *, database_url: str | None = None) -> BatchStep:
    """The batch task's body: one round of run ``run_id``'s batches (follow, collect, submit: see
    :mod:`judge.runs.batching`) in its execution begun at ``since`` (ISO time; default now) on this thread's event
    loop; once no batch is active (or the run was cancelled or spent its budget), finish the run. Idempotent: a
    redelivered round follows the same batches."""
    engine = get_engine(database_url)
    loop, _client = _thread_state()
    with session_scope(engine) as session:
        # fresh: a resume may have changed the run's budget
        context = RunContext(session, get_run_record(session, run_id=run_id))
    progress = RunProgress(total=len(context.items))
    begun = datetime.fromisoformat(since) if since else None
    active = run_on_loop(loop, execute_batches(engine, context, progress, LiteLLMBatchApi(), follow=False, since=begun))
    poll_s = get_settings().batch_poll_s
    if active and progress.stopped is None:
        return BatchStep(again=True, poll_s=poll_s, done=progress.done)
    finish_run(engine, run_id, stopped=progress.stopped)
    return BatchStep(again=False, poll_s=poll_s, done=progress.done, stopped=progress.stopped)
