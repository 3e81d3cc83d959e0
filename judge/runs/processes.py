"""The in-process backend over N worker processes (``judge run --processes N``): one machine's cores judging a run.

LiteLLM costs a few ms of CPU per call, so one event loop tops out near 150-200 calls/s per core whatever the
provider's latency. An execution with more keys than one process needs is dealt to N worker processes
(forkserver: each forked from a server that imported judge and LiteLLM once), each with its own event loop,
database engine, judge client and share of the run's concurrency, each running the shared execution core
(:class:`judge.runs.execution.KeyExecutor`) on every N-th key. What they share, and how:

- **pay once**: each worker claims its own keys through the same atomic lease (``verdict_lease``) under its own
  owner (``host:pid:uuid``), journals each paid answer in its own journal and writes it itself. Several writers
  keep SQLite safe: WAL, a 30 s busy timeout and the core's write retry (a locked database only delays a write),
  and the writes are few (one transaction per batch of answers). One writer process would add a pipe hop (and
  its pickling CPU) to every verdict and open a window where a paid answer lives only in a pipe; with each worker
  writing, an answer is journaled by the process that paid for it before anything else happens.
- **rate limits**: :class:`judge.llm.ratelimit.FileRateLimiter`, one memory-mapped file per execution under an
  ``flock`` (``JUDGE_RATE_LIMITS``; a 429 slows every worker down).
- **budget**: each worker adds the cost of each answer to its slot of a shared array the moment the call returns,
  and checks the sum of every slot before it starts a call, so a run overshoots its budget by at most the calls in
  flight, as in one process.
- **cancellation**: a worker that sees the run cancelled (each write reads the run's status) raises a shared flag
  every worker checks before each call. Ctrl-C is the parent's (workers ignore SIGINT): the first stops
  scheduling everywhere (calls in flight finish and are written), the second aborts the calls in flight;
  cancelling the parent (API cancel, server shutdown) aborts them, and so does a worker whose parent died.
- **recovery**: a worker that dies leaves its journal unlocked and its leases to a dead pid; the parent stores its
  journal once every worker has ended, and the next claim (``judge runs resume``) takes its leases over at once.

Progress reaches the parent through the same shared array, read every ``POLL_S``.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import functools
import logging
import multiprocessing
import os
import pickle
import signal
import socket
import tempfile
import time
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection
from multiprocessing.context import BaseContext, ForkServerContext
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine

from judge.core.errors import JudgeError
from judge.core.types import Frozen, RunStatus, VerdictRecord
from judge.llm.client import JudgeClient, LiteLLMClient
from judge.llm.ratelimit import FileRateLimiter, RateLimitedClient
from judge.runs.backends.unit import run_context
from judge.runs.execution import ABORT_WRITE_S, Interrupt, KeyExecutor, Outcome, PayOnce, store_journals
from judge.runs.grading import is_grader
from judge.runs.plan import WorkItem
from judge.runs.request import RunConfig
from judge.runs.service import RunContext, RunProgress, budget_stop, count_verdict
from judge.settings import Settings, get_settings
from judge.store.engine import make_engine
from judge.store.leases import owner_is_dead

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: every run stays in one process
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger("judge.runs.processes")
POLL_S = 0.1
"""How often the parent reads the workers' progress and passes Ctrl-C on, and a worker looks for both."""
FIELDS = ("done", "ok", "unparseable", "error", "cost_usd", "unknown_cost")
"""The counters of :class:`RunProgress` each worker publishes in its slot of the shared array."""
STOP, ABORT = 1, 2


def requested_processes(config: RunConfig) -> int:
    """The processes a run asks for: its ``processes``, but 1 for a run of deterministic graders (no model call,
    no LiteLLM CPU to spread) and for an adaptive run (its waves are small and refitted in this process)."""
    if config.adaptive or all(is_grader(judge.model) for judge in config.judges):
        return 1
    return config.processes


def process_count(requested: int, concurrency: int, keys: int, engine: Engine) -> int:
    """How many worker processes judge ``keys`` keys: ``requested`` (``--processes``), but at most one per call
    in flight and one per ``JUDGE_KEYS_PER_PROCESS`` keys (starting the workers costs seconds); 1 where processes
    cannot share the database (in-memory SQLite) or a file lock (not POSIX), which keeps the execution in this
    process."""
    url = engine.url
    if fcntl is None or (url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:")):
        return 1
    return max(1, min(requested, concurrency, keys // get_settings().keys_per_process))


class Shared:
    """What the parent and its workers share: one slot of counters per worker (:data:`FIELDS`), the stop level
    (Ctrl-C: 1 stop, 2 abort) and the cancelled flag. Each slot is written by its worker only."""

    def __init__(self, context: BaseContext, workers: int) -> None:
        self.workers = workers
        self.tally = context.RawArray(ctypes.c_double, workers * len(FIELDS))
        self.level = context.RawValue(ctypes.c_int, 0)
        self.cancelled = context.RawValue(ctypes.c_int, 0)

    def publish(self, index: int, progress: RunProgress) -> None:
        """Worker ``index``'s counters, from its own progress."""
        base = index * len(FIELDS)
        for offset, name in enumerate(FIELDS):
            self.tally[base + offset] = float(getattr(progress, name))

    def total(self, name: str) -> float:
        """One counter summed over the workers."""
        offset = FIELDS.index(name)
        return sum(self.tally[i * len(FIELDS) + offset] for i in range(self.workers))


class WorkerSpec(Frozen):
    """One worker's share of an execution; ``environ``: the parent's environment (a forkserver child inherits
    the server's, which may be older); ``budget``: what the execution may still spend (None: no budget)."""

    index: int
    database_url: str
    run_id: int
    keys: tuple[str, ...]
    concurrency: int
    budget: float | None
    environ: dict[str, str]
    rate_limit_file: str | None
    parent_pid: int


class WorkerResult(Frozen):
    """What a worker sends back: its outcome, or the exception its execution raised (pickled)."""

    outcome: Outcome | None = None
    error: bytes | None = None


def worker_client(settings: Settings, rate_limit_file: str | None) -> JudgeClient:
    """A worker's judge client: the configured retries, under the rate limits shared through ``rate_limit_file``."""
    if rate_limit_file is None or not settings.rate_limits:
        return LiteLLMClient(settings.retry_policy())
    limiter = FileRateLimiter(rate_limit_file, settings.rate_limits, settings.rate_limit_burst_s)
    return RateLimitedClient(limiter, settings.retry_policy())


class _Worker:
    """A worker's side of the shared state: its progress, the run-wide stop reasons (cancelled, budget), and
    Ctrl-C or a dead parent passed on to its :class:`Interrupt`."""

    def __init__(self, spec: WorkerSpec, shared: Shared, context: RunContext) -> None:
        self.spec, self.shared, self.context = spec, shared, context
        self.progress = RunProgress(total=len(spec.keys))
        self.interrupt = Interrupt()

    def stop_reason(self) -> str | None:
        if self.shared.cancelled.value:
            return RunStatus.CANCELLED.value
        if self.spec.budget is not None and self.shared.total("cost_usd") >= self.spec.budget:
            return budget_stop(self.context.config)
        return None

    def record(self, verdict: VerdictRecord) -> None:
        count_verdict(self.progress, verdict)
        self.shared.publish(self.spec.index, self.progress)

    def wrote(self, _rows: list[VerdictRecord], run_status: str | None) -> None:
        if run_status == RunStatus.CANCELLED:
            self.shared.cancelled.value = 1

    async def follow_parent(self) -> None:
        """Raise this worker's Ctrl-C level to the parent's; abort when the parent is gone (a forkserver child's
        own parent is the forkserver, which outlives it: the parent's pid is checked)."""
        parent = f"{socket.gethostname()}:{self.spec.parent_pid}:parent"
        while True:
            await asyncio.sleep(POLL_S)
            wanted = self.shared.level.value
            if owner_is_dead(parent):
                wanted = ABORT
            while self.interrupt.level < wanted:
                self.interrupt.request()


async def _work(spec: WorkerSpec, shared: Shared) -> Outcome:
    engine = make_engine(spec.database_url)
    try:
        context = await asyncio.to_thread(run_context, engine, spec.run_id)
        worker = _Worker(spec, shared, context)
        core = KeyExecutor(
            engine,
            context,
            worker_client(get_settings(), spec.rate_limit_file),
            concurrency=spec.concurrency,
            policy=PayOnce.from_settings(),
            stop_reason=worker.stop_reason,
            on_row=worker.record,
            on_written=worker.wrote,
            interrupt=worker.interrupt,
        )
        follower = asyncio.create_task(worker.follow_parent())
        try:
            return await core.execute([context.by_key[key] for key in spec.keys])
        finally:
            follower.cancel()
    finally:
        engine.dispose()


def _portable(exc: BaseException) -> bytes:
    """``exc`` pickled, or a JudgeError naming it when it does not survive pickling."""
    with contextlib.suppress(Exception):
        data = pickle.dumps(exc)
        pickle.loads(data)
        return data
    return pickle.dumps(JudgeError(f"{type(exc).__name__}: {exc}"))


def worker_main(spec: WorkerSpec, shared: Shared, results: Connection) -> None:
    """A worker process: judge ``spec.keys`` and send a :class:`WorkerResult` back."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C goes to the whole process group: the parent handles it
    os.environ.clear()
    os.environ.update(spec.environ)
    get_settings.cache_clear()
    try:
        result = WorkerResult(outcome=asyncio.run(_work(spec, shared)))
    except BaseException as exc:  # sent to the parent, which raises it as the single-process execution would
        log.debug("worker %d failed", spec.index, exc_info=exc)
        result = WorkerResult(error=_portable(exc))
    results.send_bytes(result.model_dump_json().encode("utf-8"))
    results.close()


PRELOAD = ("__main__", __name__, "litellm", "litellm.llms.openai.openai", "openai.types.chat")
"""What the forkserver imports once, so that a worker is a fork, not seconds of imports: the main module (else
every worker would run it again), this module (judge, SQLAlchemy) and LiteLLM (judge imports it on first use)
with the OpenAI chat path it takes."""


@functools.cache
def mp_context() -> ForkServerContext:
    """The forkserver context of the workers, preloaded with :data:`PRELOAD`."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(list(PRELOAD))
    return context


class _Running:
    """One started worker: its process, the read end of its result pipe, and its result once read."""

    def __init__(self, process: BaseProcess, results: Connection) -> None:
        self.process, self.results = process, results
        self.result: WorkerResult | None = None
        self.ended = False

    def collect(self) -> bool:
        """Read the worker's result if it sent one; True once it has ended (with or without one)."""
        if self.ended:
            return True
        if self.results.poll():
            try:
                self.result = WorkerResult.model_validate_json(self.results.recv_bytes())
            except (EOFError, OSError):  # it died before sending
                self.result = None
            self.ended = True
        elif self.process.exitcode is not None:
            self.ended = not self.results.poll()  # else its result is readable now: read it next time
        return self.ended

    def close(self) -> None:
        self.process.join(timeout=5)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()
        self.results.close()


def _shares(keys: Sequence[str], concurrency: int, workers: int) -> list[tuple[tuple[str, ...], int]]:
    """Every ``workers``-th key and a near-equal part of ``concurrency`` for each worker."""
    ordered = sorted(keys)
    return [
        (tuple(ordered[i::workers]), concurrency // workers + (1 if i < concurrency % workers else 0))
        for i in range(workers)
    ]


async def execute_in_processes(
    engine: Engine,
    context: RunContext,
    todo: Sequence[WorkItem],
    *,
    workers: int,
    concurrency: int,
    progress: RunProgress,
    report: Callable[[], None],
    budget: float | None,
    interrupt: Interrupt | None = None,
) -> Outcome:
    """Judge ``todo`` over ``workers`` processes with ``concurrency`` calls in flight in all; ``progress`` (counted
    on top of what it holds) is updated and ``report`` called every ``POLL_S``. The combined outcome: the keys
    found final, the stop reasons (a worker that died is one), the first exception a worker raised re-raised here
    once every worker has ended."""
    mp = mp_context()
    shared = Shared(mp, workers)
    base = {name: getattr(progress, name) for name in FIELDS}
    database_url = engine.url.render_as_string(hide_password=False)
    settings = get_settings()
    with tempfile.TemporaryDirectory(prefix="judge-limits-") as folder:
        limits = str(Path(folder) / "ratelimits") if settings.rate_limits else None
        running: list[_Running] = []
        try:
            for index, (keys, calls) in enumerate(_shares([i.verdict_key for i in todo], concurrency, workers)):
                spec = WorkerSpec(
                    index=index,
                    database_url=database_url,
                    run_id=context.run_id,
                    keys=keys,
                    concurrency=calls,
                    budget=budget,
                    environ=dict(os.environ),
                    rate_limit_file=limits,
                    parent_pid=os.getpid(),
                )
                reader, writer = mp.Pipe(duplex=False)
                process = mp.Process(
                    target=worker_main, args=(spec, shared, writer), name=f"judge-run-{context.run_id}-{index}"
                )
                process.daemon = True
                process.start()
                writer.close()
                running.append(_Running(process, reader))
            while not all(worker.collect() for worker in running):
                await asyncio.sleep(POLL_S)
                if interrupt is not None and interrupt.level > shared.level.value:
                    shared.level.value = min(interrupt.level, ABORT)
                _publish(shared, base, progress, report)
        except BaseException:  # cancelled (API cancel, server shutdown): abandon the calls, write what was paid
            shared.level.value = ABORT
            deadline = time.monotonic() + ABORT_WRITE_S + 5
            while not all(worker.collect() for worker in running) and time.monotonic() < deadline:
                await asyncio.sleep(POLL_S)
            raise
        finally:
            for worker in running:
                worker.close()
            _publish(shared, base, progress, report)
    return await _combine(engine, context.run_id, running)


def _publish(shared: Shared, base: dict[str, Any], progress: RunProgress, report: Callable[[], None]) -> None:
    for name, before in base.items():
        total = before + shared.total(name)
        setattr(progress, name, total if name == "cost_usd" else round(total))
    report()


async def _combine(engine: Engine, run_id: int, running: list[_Running]) -> Outcome:
    """One outcome from the workers'; a worker that died without a result stops the run, and the answers it
    journaled are stored now (its journal is unlocked)."""
    outcomes = [w.result.outcome for w in running if w.result is not None and w.result.outcome is not None]
    errors = [pickle.loads(w.result.error) for w in running if w.result is not None and w.result.error is not None]
    dead = [w.process.exitcode for w in running if w.result is None]
    reasons = [o.stopped for o in outcomes if o.stopped]
    if dead:
        reasons.append(
            f"{len(dead)} judging process(es) ended without a result (exit code {', '.join(map(str, dead))}); the "
            f"answers they had paid for were stored, `judge runs resume {run_id}` judges the rest"
        )
        stored = await asyncio.to_thread(store_journals, engine, run_id)
        log.warning("run %s: a judging process died; %d journaled verdicts stored", run_id, len(stored))
    if errors:
        raise errors[0]
    return Outcome(
        judged=sum(o.judged for o in outcomes),
        final=sum(o.final for o in outcomes),
        left=sum(o.left for o in outcomes),
        stopped="; ".join(dict.fromkeys(reasons)) or None,
        recovery_file=next((o.recovery_file for o in outcomes if o.recovery_file), None),
    )
