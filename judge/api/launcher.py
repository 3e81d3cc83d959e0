"""Where the API executes a run: in this process, as an asyncio task on the server's event loop.

Runs survive neither a restart nor a second server process; the verdicts already written are kept and a
rerun (``judge runs resume``) pays only for what is missing. Celery dispatch from the API waits for
``judge.backends`` to take a tenant (see the module docs of :mod:`judge.api`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from sqlalchemy.engine import Engine

from judge.llm.client import JudgeClient
from judge.logging import redact
from judge.run import execute_run, finish_run
from judge.store.engine import session_scope
from judge.store.tables import Run, utcnow

ClientFactory = Callable[[], JudgeClient]
log = logging.getLogger("judge.api")
ACTIVE = ("created", "running")


def default_client() -> JudgeClient:
    """The judge client of the in-process backend: configured retries and rate limits (in memory)."""
    from judge.backends.unit import make_client

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
            run = session.get(Run, run_id)
            if run is None or run.status not in ACTIVE:
                return
        try:
            await execute_run(self.engine, run_id, self.client_factory(), tenant=tenant)
        except asyncio.CancelledError:
            finish_run(self.engine, run_id, stopped="stopped by the API (cancel or server shutdown)")
            raise
        except Exception as exc:  # the run must not stay 'running' forever: record why it ended
            log.exception("run %s failed", run_id)
            with session_scope(self.engine) as session:
                failed = session.get(Run, run_id)
                if failed is not None:
                    failed.status = "failed"
                    failed.note = redact(f"{type(exc).__name__}: {exc}")
                    failed.finished_at = utcnow()

    async def shutdown(self) -> None:
        """Cancel every run still executing and wait for their last writes."""
        tasks = list(self.tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
