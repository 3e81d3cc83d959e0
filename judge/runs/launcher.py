"""Where the API executes a run, chosen like the CLI does (:func:`judge.runs.backends.resolve_backend`): on the
Celery workers when ``JUDGE_BROKER_URL`` is set, else in this process.

:class:`CeleryLauncher` enqueues the run's missing verdicts (off the event loop) and returns; the workers judge
them, skip the items of a cancelled run, and the last one finishes the run. Status and progress come from the
database either way. :class:`InProcessLauncher` judges as an asyncio task on the server's event loop: such runs
survive neither a restart nor a second server process; the verdicts already written are kept and a rerun
(``judge runs resume``) pays only for what is missing.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from sqlalchemy.engine import Engine

from judge.core.errors import classify_failure
from judge.core.redaction import redact
from judge.llm.client import JudgeClient
from judge.runs.backends import BackendName, execute_on, resolve_backend
from judge.runs.service import execute_run, finish_run
from judge.store.engine import session_scope
from judge.store.runs import find_run, mark_run_failed

ClientFactory = Callable[[], JudgeClient]
log = logging.getLogger("judge.api")


def default_client() -> JudgeClient:
    """The judge client of the in-process backend: configured retries and rate limits (in memory)."""
    from judge.runs.backends.unit import make_client

    return make_client(shared=False)


class InProcessLauncher:
    """Starts, cancels and (at shutdown) stops the runs this server executes."""

    def __init__(self, engine: Engine, client_factory: ClientFactory = default_client) -> None:
        self.engine = engine
        self.client_factory = client_factory
        self.tasks: dict[int, asyncio.Task[None]] = {}

    def launch(self, run_id: int, tenant: str) -> None:
        """Execute run ``run_id`` in the background (call from the server's event loop)."""
        task = asyncio.get_running_loop().create_task(self._execute(run_id, tenant), name=f"judge-run-{run_id}")
        self.tasks[run_id] = task
        task.add_done_callback(lambda _t: self.tasks.pop(run_id, None))

    def cancel(self, run_id: int) -> bool:
        """Stop the task of run ``run_id`` if this server runs it; its written verdicts stay."""
        task = self.tasks.get(run_id)
        if task is None or task.done():
            return False
        task.cancel()
        return True

    async def _execute(self, run_id: int, tenant: str) -> None:
        with session_scope(self.engine) as session:
            run = find_run(session, run_id=run_id)
            if run is None or not run.status.is_active:
                return
        # the configured client: the run may spread over its worker processes; a client of the caller's: here
        client = None if self.client_factory is default_client else self.client_factory()
        try:
            await execute_run(self.engine, run_id, client, tenant=tenant)
        except asyncio.CancelledError:
            finish_run(self.engine, run_id, stopped="stopped by the API (cancel or server shutdown)")
            raise
        except Exception as exc:  # the run must not stay 'running' forever: record why it ended
            log.exception("run %s failed", run_id)
            self.record_failure(run_id, exc)

    def record_failure(self, run_id: int, exc: Exception) -> None:
        """Mark run ``run_id`` failed with a short classified reason (the detail goes to the log only), so it does
        not stay 'running' forever."""
        log.error("run %s failed: %s", run_id, redact(f"{type(exc).__name__}: {exc}"))
        with session_scope(self.engine) as session:
            mark_run_failed(session, run_id=run_id, note=classify_failure(exc))

    async def shutdown(self) -> None:
        """Cancel every run still executing and wait for their last writes."""
        tasks = list(self.tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


class CeleryLauncher(InProcessLauncher):
    """Hands runs to the Celery workers: launching enqueues the missing verdicts in a thread and returns.

    Cancelling needs nothing here: the cancel endpoint has set the status, the workers skip the run's
    remaining messages, and the last one finishes the run. Nothing runs in this process, so shutdown has
    nothing to stop (the inherited task table only holds enqueueing still in progress).
    """

    async def _execute(self, run_id: int, tenant: str) -> None:
        try:
            await asyncio.to_thread(
                execute_on, BackendName.CELERY, self.engine, run_id, detach=True, tenant=tenant, unless_cancelled=True
            )
        except Exception as exc:  # broker down, or a run whose calls cannot fit in a worker task
            await asyncio.to_thread(self.record_failure, run_id, exc)

    def cancel(self, run_id: int) -> bool:
        """Nothing to stop in this process: the workers see the 'cancelled' status."""
        return False


def make_launcher(engine: Engine, client_factory: ClientFactory = default_client) -> InProcessLauncher:
    """The launcher of the configured backend: Celery when ``JUDGE_BROKER_URL`` is set, else in-process."""
    if resolve_backend(None) is BackendName.CELERY:
        return CeleryLauncher(engine, client_factory)
    return InProcessLauncher(engine, client_factory)
