"""The execution core of both backends: claim keys -> judge -> write -> settle, so a judge call is paid once.

- **claim**: a key is leased (:mod:`judge.store.leases`) before its call, in chunks of ``concurrency`` keys; a
  key with a final verdict is never called; a key leased to another live executor (a concurrent run, a Celery
  task still running while its message was redelivered) is waited for and counted as done elsewhere once its
  verdict is final, or claimed and judged if its owner died or released it without a final verdict.
- **judge**: at most ``concurrency`` calls in flight; a heartbeat renews this executor's leases every
  ``ttl/4`` while calls run.
- **write**: each paid verdict is kept in memory until a transaction stores it, releases its lease and adds its
  cost to the run. A locked, busy or unreachable database only delays the write (retried with backoff for up to
  ``JUDGE_WRITE_RETRY_MAX_S``); past that bound the verdicts go to a recovery JSONL file
  (``JUDGE_RECOVERY_DIR/run-<id>-<owner>.jsonl``) that the next in-process execution of the run stores first.
- **settle**: leases of keys not judged (stopped, aborted) are released; calls in flight are waited for on a
  stop, cancelled on an abort (an :class:`Interrupt`: the first Ctrl-C stops, the second aborts).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import re
import signal
import time
from collections import deque
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update
from sqlalchemy.engine import Engine
from sqlmodel import col

from judge.errors import StoreError
from judge.llm.client import JudgeClient
from judge.plan import WorkItem
from judge.settings import get_settings
from judge.store.engine import session_scope
from judge.store.leases import Claim, claim_keys, new_owner, release_leases, renew_leases
from judge.store.tables import Run, utcnow
from judge.store.transient import db_reason, is_transient
from judge.store.verdicts import upsert_verdicts
from judge.types import Frozen

if TYPE_CHECKING:
    from judge.run import RunContext

log = logging.getLogger("judge.execution")  # warnings name a short reason; the driver's text (SQL) is DEBUG
Row = dict[str, Any]
RETRY_BASE_S = 0.2
RETRY_CAP_S = 5.0
ABORT_WRITE_S = 5.0


class PayOnce(Frozen):
    """Lease, write-retry and recovery settings of one execution. By default a paid verdict is written as soon
    as no write is in progress (verdicts returned meanwhile make the next batch): a ``kill -9`` loses at most
    what returned during one commit."""

    ttl_s: float
    poll_s: float = 0.5
    write_retry_max_s: float
    recovery_dir: str
    write_batch: int = 1
    write_interval_s: float = 0.0

    @property
    def heartbeat_s(self) -> float:
        """How often leases are renewed while calls are in flight."""
        return self.ttl_s / 4

    @classmethod
    def from_settings(cls, **overrides: Any) -> PayOnce:
        """The configured policy (``JUDGE_LEASE_TTL_S``, ``JUDGE_WRITE_RETRY_MAX_S``, ``JUDGE_RECOVERY_DIR``)."""
        settings = get_settings()
        values: dict[str, Any] = {
            "ttl_s": settings.lease_ttl_s,
            "poll_s": min(0.5, settings.lease_ttl_s / 8),
            "write_retry_max_s": settings.write_retry_max_s,
            "recovery_dir": settings.recovery_dir,
        }
        return cls(**{**values, **overrides})


class Interrupt:
    """Ctrl-C for an executing run: the first request stops scheduling new calls (calls in flight finish and
    are written), the second aborts the calls in flight. ``notify`` is told the level (1 or 2)."""

    def __init__(self, notify: Callable[[int], None] | None = None) -> None:
        self.level = 0
        self.notify = notify
        self._on_abort: list[Callable[[], None]] = []

    def request(self) -> None:
        """One more Ctrl-C (call it on the event loop's thread)."""
        self.level += 1
        if self.notify is not None:
            self.notify(min(self.level, 2))
        if self.level >= 2:
            for callback in list(self._on_abort):
                callback()

    def on_abort(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` on the second request."""
        self._on_abort.append(callback)

    @contextlib.contextmanager
    def handling_sigint(self) -> Any:
        """Route SIGINT to :meth:`request` on the running event loop (main thread only; elsewhere a no-op)."""
        loop = asyncio.get_running_loop()
        try:
            loop.add_signal_handler(signal.SIGINT, self.request)
        except (ValueError, RuntimeError, NotImplementedError):  # not the main thread, or no signals here
            yield
            return
        try:
            yield
        finally:
            loop.remove_signal_handler(signal.SIGINT)


class Outcome(Frozen):
    """What one execution did: calls made, keys found final (by this executor's claims, or done by another
    owner while waited for), keys left (stopped before judging them), the stop reason, the recovery file."""

    judged: int
    final: int
    left: int
    stopped: str | None = None
    recovery_file: str | None = None


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def recovery_files(run_id: int, recovery_dir: str | None = None) -> list[Path]:
    """The recovery files of run ``run_id`` not stored yet."""
    folder = Path(recovery_dir or get_settings().recovery_dir)
    return sorted(folder.glob(f"run-{run_id}-*.jsonl")) if folder.is_dir() else []


def write_rows(engine: Engine, run_id: int | None, owner: str | None, rows: Sequence[Row]) -> str | None:
    """In one transaction: store ``rows`` (an upsert that never replaces a final verdict), release their leases
    held by ``owner`` (by anyone when None) and add their cost to the run; the run's status after it (None: no
    such run)."""
    columns = sorted(set().union(*rows)) if rows else []
    with session_scope(engine) as session:
        if rows:
            upsert_verdicts(session, [{c: row.get(c) for c in columns} for row in rows])
        release_leases(session, owner=owner, keys=[row["verdict_key"] for row in rows])
        if run_id is None:
            return None
        cost = sum(row.get("cost_usd") or 0.0 for row in rows)  # money spent, whether or not a rival wrote first
        if cost:
            session.execute(update(Run).where(col(Run.id) == run_id).values(cost_usd=col(Run.cost_usd) + cost))
        status = session.execute(select(col(Run.status)).where(col(Run.id) == run_id)).scalar_one_or_none()
        return None if status is None else str(status)


def store_recovered(engine: Engine, run_id: int, recovery_dir: str | None = None) -> int:
    """Store the verdicts that an earlier execution of run ``run_id`` paid for but could not write (its
    recovery files), then rename each file to ``*.stored``; how many verdicts were read."""
    count = 0
    for path in recovery_files(run_id, recovery_dir):
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        for row in rows:
            if isinstance(row.get("created_at"), str):
                row["created_at"] = datetime.fromisoformat(row["created_at"])
        write_rows(engine, run_id, None, rows)
        path.rename(path.with_suffix(".jsonl.stored"))
        log.info("run %s: stored %d recovered verdicts from %s", run_id, len(rows), path)
        count += len(rows)
    return count


class VerdictWriter:
    """Paid verdicts held in memory and written in batches, in order, until the database takes them."""

    def __init__(
        self,
        engine: Engine,
        run_id: int,
        owner: str,
        policy: PayOnce,
        on_written: Callable[[list[Row], str | None], None] | None = None,
    ) -> None:
        self.engine, self.run_id, self.owner, self.policy = engine, run_id, owner, policy
        self.on_written = on_written
        self.pending: list[Row] = []
        self.task: asyncio.Task[None] | None = None
        self.last_write = time.monotonic()
        self.failure: str | None = None
        self.recovery_file: Path | None = None
        self.recovered: set[str] = set()

    def add(self, row: Row) -> None:
        """Hold a paid verdict; start a background write when a batch is due."""
        self.pending.append({**row, "created_at": row.get("created_at") or utcnow()})
        due = len(self.pending) >= self.policy.write_batch
        due = due or time.monotonic() - self.last_write >= self.policy.write_interval_s
        if due and (self.task is None or self.task.done()):
            self.task = asyncio.create_task(self._drain(self.policy.write_retry_max_s))

    async def close(self, *, max_s: float | None = None) -> None:
        """Write everything held (waiting up to ``max_s``, default the policy's bound, for the database)."""
        if self.task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.shield(self.task)
        await self._drain(self.policy.write_retry_max_s if max_s is None else max_s)

    async def _drain(self, max_s: float) -> None:
        while self.pending:
            rows = list(self.pending)
            self.last_write = time.monotonic()
            status = await self._write_retrying(rows, max_s)
            del self.pending[: len(rows)]
            if status is not _FAILED and self.on_written is not None:
                self.on_written(rows, status)

    async def _write_retrying(self, rows: list[Row], max_s: float) -> Any:
        deadline = time.monotonic() + max_s
        delay = RETRY_BASE_S
        while True:
            try:
                return await asyncio.to_thread(write_rows, self.engine, self.run_id, self.owner, rows)
            except Exception as exc:
                reason = db_reason(exc)
                log.warning("run %s: cannot write %d paid verdicts yet (%s)", self.run_id, len(rows), reason)
                log.debug("run %s: write failed", self.run_id, exc_info=exc)
                if not is_transient(exc) or time.monotonic() + delay > deadline:
                    self._recover(rows, reason, max_s)
                    return _FAILED
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_CAP_S)

    def _recover(self, rows: list[Row], reason: str, waited_s: float) -> None:
        folder = Path(self.policy.recovery_dir)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"run-{self.run_id}-{re.sub(r'[^A-Za-z0-9_.-]', '_', self.owner)}.jsonl"
        with path.open("a", encoding="utf-8") as out:
            for row in rows:
                out.write(json.dumps(row, default=_json_default) + "\n")
        self.recovery_file = path
        self.recovered.update(row["verdict_key"] for row in rows)
        total = sum(1 for _ in path.open(encoding="utf-8"))
        self.failure = (
            f"{reason}: {total} paid verdicts could not be written within {waited_s:g} s and were saved to "
            f"{path}; `judge runs resume {self.run_id}` stores them"
        )
        log.error("run %s: %s", self.run_id, self.failure)


_FAILED = object()


async def retry_transient(
    action: Callable[[], Any], what: str, *, max_s: float, give_up: Callable[[], bool] = lambda: False
) -> Any:
    """Run ``action`` in a thread; retry transient database errors with backoff for up to ``max_s`` (or until
    ``give_up()``), then raise StoreError with the short reason (never the SQL). Other errors propagate."""
    deadline = time.monotonic() + max_s
    delay = RETRY_BASE_S
    while True:
        try:
            return await asyncio.to_thread(action)
        except Exception as exc:
            if not is_transient(exc):
                raise
            log.warning("cannot %s yet (%s)", what, db_reason(exc))
            log.debug("cannot %s", what, exc_info=exc)
            if give_up() or time.monotonic() + delay > deadline:
                raise StoreError(f"{db_reason(exc)}: could not {what} for {max_s:g} s") from exc
            await asyncio.sleep(delay)
            delay = min(delay * 2, RETRY_CAP_S)


class KeyExecutor:
    """Claim -> judge -> write -> settle for one run's items (see the module docstring)."""

    def __init__(
        self,
        engine: Engine,
        context: RunContext,
        client: JudgeClient,
        *,
        concurrency: int,
        policy: PayOnce | None = None,
        stop_reason: Callable[[], str | None] = lambda: None,
        on_row: Callable[[Row], None] | None = None,
        on_written: Callable[[list[Row], str | None], None] | None = None,
        interrupt: Interrupt | None = None,
    ) -> None:
        self.engine, self.context, self.client = engine, context, client
        self.concurrency = max(1, concurrency)
        self.policy = policy or PayOnce.from_settings()
        self.stop_reason, self.on_row, self.interrupt = stop_reason, on_row, interrupt
        self.owner = new_owner()
        self.writer = VerdictWriter(engine, context.run_id, self.owner, self.policy, on_written)
        self.running: set[asyncio.Task[None]] = set()
        self.claimed: set[str] = set()
        self.judged = 0
        self.final = 0
        self.failure: str | None = None
        self.aborted = False

    def _stopped(self) -> str | None:
        if self.aborted:
            return "aborted (second Ctrl-C): calls in flight were abandoned"
        if self.interrupt is not None and self.interrupt.level >= 1:
            return "interrupted (Ctrl-C): calls in flight were finished and written"
        return self.failure or self.writer.failure or self.stop_reason()

    def _abort(self) -> None:
        self.aborted = True
        for task in list(self.running):
            task.cancel()

    async def _db(self, what: str, action: Callable[[], Any]) -> Any:
        """``action`` retried through transient database errors while not stopping; None (with a failure
        reason when it was not a stop) once that is given up."""
        try:
            return await retry_transient(
                action, what, max_s=self.policy.write_retry_max_s, give_up=lambda: self._stopped() is not None
            )
        except StoreError as exc:
            if self._stopped() is None:
                self.failure = str(exc)
            return None

    def _claim(self, keys: list[str]) -> Claim:
        with session_scope(self.engine) as session:
            return claim_keys(
                session,
                keys=keys,
                owner=self.owner,
                run_id=self.context.run_id,
                ttl_s=self.policy.ttl_s,
                now=time.time(),
            )

    def _renew(self) -> int:
        with session_scope(self.engine) as session:
            return renew_leases(session, owner=self.owner, ttl_s=self.policy.ttl_s, now=time.time())

    def _release(self, keys: list[str] | None) -> None:
        with session_scope(self.engine) as session:
            release_leases(session, owner=self.owner, keys=keys)

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(self.policy.heartbeat_s)
            try:
                await asyncio.to_thread(self._renew)
            except Exception as exc:  # a missed beat is retried at the next one; the lease outlives several
                log.warning("run %s: cannot renew leases (%s)", self.context.run_id, db_reason(exc))
                log.debug("run %s: renewal failed", self.context.run_id, exc_info=exc)

    async def _call(self, item: WorkItem, slots: asyncio.Semaphore) -> None:
        try:
            row = await self.context.judge(self.client, item)
        finally:
            slots.release()
        self.judged += 1
        if self.on_row is not None:
            self.on_row(row)
        self.writer.add(row)

    async def execute(self, items: Sequence[WorkItem]) -> Outcome:
        """Judge ``items`` (keys without a final verdict when listed) exactly once across every executor."""
        by_key = {item.verdict_key: item for item in items}
        todo = deque(sorted(by_key))
        deferred: list[str] = []
        slots = asyncio.Semaphore(self.concurrency)
        unstarted: list[str] = []
        if self.interrupt is not None:
            self.interrupt.on_abort(self._abort)
        heartbeat = asyncio.create_task(self._heartbeat())
        errors: list[BaseException] = []
        try:
            while self._stopped() is None:
                if todo:
                    chunk = [todo.popleft() for _ in range(min(self.concurrency, len(todo)))]
                elif deferred:
                    await asyncio.sleep(self.policy.poll_s)
                    if self._stopped() is not None:
                        break
                    chunk, deferred = deferred, []
                else:
                    break
                claim: Claim | None = await self._db("claim verdict keys", functools.partial(self._claim, chunk))
                if claim is None:
                    unstarted.extend(chunk)
                    break
                self.final += len(claim.final)
                self.claimed.update(claim.granted)
                deferred.extend(claim.held)
                for n, key in enumerate(claim.granted):
                    await slots.acquire()
                    if self._stopped() is not None:
                        slots.release()
                        unstarted.extend(claim.granted[n:])
                        break
                    task = asyncio.create_task(self._call(by_key[key], slots))
                    self.running.add(task)
                    task.add_done_callback(self.running.discard)
            if self.running:
                results = await asyncio.gather(*self.running, return_exceptions=True)
                errors = [
                    r for r in results if isinstance(r, BaseException) and not isinstance(r, asyncio.CancelledError)
                ]
        except BaseException:  # this execution was cancelled (API cancel, server shutdown): abandon its calls
            self._abort()
            raise
        finally:
            heartbeat.cancel()
            await self.writer.close(max_s=ABORT_WRITE_S if self.aborted else None)
            await self._settle()
        if errors:
            raise errors[0]
        left = len(by_key) - self.judged - self.final
        recovery = self.writer.recovery_file
        return Outcome(
            judged=self.judged,
            final=self.final,
            left=left,
            stopped=self._stopped() if left or self.writer.failure or self.aborted or self.failure else None,
            recovery_file=str(recovery) if recovery is not None else None,
        )

    async def _settle(self) -> None:
        """Release this executor's leases that no written verdict released (stopped or aborted keys), except
        those of verdicts in the recovery file: they expire, and whoever resumes stores the file first."""
        keep = self.writer.recovered
        try:
            await asyncio.to_thread(self._release, None if not keep else sorted(self.claimed - keep))
        except Exception as exc:  # they expire after the TTL
            log.warning("run %s: cannot release leases (%s)", self.context.run_id, db_reason(exc))
            log.debug("run %s: release failed", self.context.run_id, exc_info=exc)
