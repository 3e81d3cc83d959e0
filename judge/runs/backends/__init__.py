"""Execution backends: where a run's verdicts get judged.

``inprocess`` (the embedded default: demo, CLI without a broker) judges on this machine with bounded
concurrency over the run's ``processes`` (:mod:`judge.runs.processes`);
``celery`` (the default when ``JUDGE_BROKER_URL`` is set) enqueues the missing verdict keys for
``judge worker`` processes and follows progress from the database. Both judge an item with
:meth:`judge.runs.service.RunContext.judge` and store it with the idempotent upsert on its verdict key.
"""

from __future__ import annotations

import asyncio
from enum import StrEnum
from typing import TYPE_CHECKING

from sqlalchemy.engine import Engine

from judge.core.errors import InputError, require_extra
from judge.core.lazy import lazy_getattr
from judge.runs.execution import Interrupt
from judge.runs.service import ProgressCallback, RunProgress, execute_run, finish_run
from judge.settings import Settings, get_settings
from judge.store import DEFAULT_TENANT

if TYPE_CHECKING:
    from judge.runs.backends.broker import CeleryBroker
    from judge.runs.backends.follow import Submission, submit_run

__all__ = ["BackendName", "CeleryBroker", "Submission", "execute_on", "resolve_backend", "submit_run"]
_LAZY = {
    "CeleryBroker": "judge.runs.backends.broker",
    "Submission": "judge.runs.backends.follow",
    "submit_run": "judge.runs.backends.follow",
}


# The Celery side (``judge[worker]``: Celery, Redis) is imported when first used, so the in-process backend
# and the commands that do not judge work without it.
__getattr__ = lazy_getattr(__name__, _LAZY)


class BackendName(StrEnum):
    """Where a run is judged."""

    INPROCESS = "inprocess"
    CELERY = "celery"


def resolve_backend(requested: BackendName | None, *, detach: bool = False) -> BackendName:
    """The backend asked for, else ``celery`` when a broker is configured, else ``inprocess``."""
    backend = requested or (BackendName.CELERY if get_settings().broker_url is not None else BackendName.INPROCESS)
    if detach and backend is not BackendName.CELERY:
        raise InputError(
            "--detach needs the celery backend (set JUDGE_BROKER_URL or pass --backend celery)", field="--detach"
        )
    if backend is BackendName.CELERY:
        require_extra("worker", "celery", "redis")
    return backend


def broker_status(timeout_s: float = 2.0) -> str:
    """``not configured`` without ``JUDGE_BROKER_URL``, ``ok`` when its Redis answers a ping, else
    ``unreachable: <exception class>``."""
    url = get_settings().broker_url
    if url is None:
        return "not configured"
    try:
        import redis

        client = redis.Redis.from_url(
            url.get_secret_value(), socket_timeout=timeout_s, socket_connect_timeout=timeout_s
        )
        try:
            client.ping()
        finally:
            client.close()
    except Exception as exc:  # any client or network failure (or no worker extra) means "down"
        return f"unreachable: {type(exc).__name__}"
    return "ok"


def _is_batch_run(engine: Engine, run_id: int, tenant: str) -> bool:
    """Whether run ``run_id`` judges through the provider's batch API (``--batch``)."""
    from judge.runs.service import get_run, run_config
    from judge.store.engine import session_scope

    with session_scope(engine) as session:
        return run_config(get_run(session, run_id=run_id, tenant=tenant)).batch


def execute_on(
    backend: BackendName,
    engine: Engine,
    run_id: int,
    *,
    on_progress: ProgressCallback | None = None,
    detach: bool = False,
    tenant: str = DEFAULT_TENANT,
    unless_cancelled: bool = False,
    interrupt: Interrupt | None = None,
) -> RunProgress | Submission:
    """Judge what run ``run_id`` (of ``tenant``) is missing on ``backend``; with ``detach``, return once it is
    enqueued (the workers finish the run); with ``unless_cancelled``, a run cancelled before its keys are
    enqueued is only finished (see :func:`submit_run`); ``interrupt`` (in-process) routes Ctrl-C to a stop.
    Blocking: call it from a thread when an event loop runs."""
    from judge.runs.backends.follow import follow_run, submit_run

    scale = Settings()
    if backend is BackendName.INPROCESS:  # over the run's --processes, each with the configured client
        return asyncio.run(execute_run(engine, run_id, on_progress=on_progress, tenant=tenant, interrupt=interrupt))
    from judge.runs.backends.broker import CeleryBroker

    broker = CeleryBroker(scale)
    try:
        if _is_batch_run(engine, run_id, tenant):  # rounds on the workers (judge.runs.backends.batch_follow)
            from judge.runs.backends.batch_follow import follow_batch_run, submit_batch_run

            submission = submit_batch_run(engine, run_id, broker, tenant=tenant, unless_cancelled=unless_cancelled)
            if detach:
                return submission
            return follow_batch_run(engine, submission, on_progress=on_progress, scale=scale)
        submission = submit_run(engine, run_id, broker, scale, tenant=tenant, unless_cancelled=unless_cancelled)
        if detach:
            if not submission.keys:  # nothing to judge: no worker will finish the run
                finish_run(engine, run_id, stopped=None)
            return submission
        return follow_run(engine, submission, broker, on_progress=on_progress, scale=scale)
    finally:
        broker.close()
