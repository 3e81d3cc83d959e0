"""The execution core of both backends: claim keys -> judge -> write -> settle, so a judge call is paid once.

- **claim**: a key is leased (:mod:`judge.store.leases`) before its call, in chunks of ``concurrency`` keys; a
  key with a final verdict is never called; a key leased to another live executor (a concurrent run, a Celery
  task still running while its message was redelivered) is waited for and counted as done elsewhere once its
  verdict is final, or claimed and judged if its owner died or released it without a final verdict.
- **judge**: at most ``concurrency`` calls in flight; a heartbeat renews this executor's leases every
  ``ttl/4`` while calls run.
- **journal**: each paid answer is appended to this executor's journal
  (``JUDGE_RECOVERY_DIR/run-<id>-<owner>.jsonl``, one ``write()`` of one JSON line, fsync with
  ``JUDGE_JOURNAL_FSYNC``) the moment the call returns, before any database write: a ``kill -9`` after the append
  loses nothing (the page cache outlives the process). The executor holds an exclusive ``flock`` on its journal
  while it runs (the kernel drops it when the process dies); the journal is truncated whenever every verdict in it
  is in the database, deleted at the end, or left holding only the unwritten verdicts (the recovery file).
- **write**: each paid verdict is kept in memory until a transaction stores it, releases its lease and adds its
  cost to the run. A locked, busy or unreachable database only delays the write (retried with backoff for up to
  ``JUDGE_WRITE_RETRY_MAX_S``); past that bound the execution stops and its journal is the recovery file.
- **recover**: before a run executes, and after every claim (a claim may have taken over a dead owner's keys),
  the journals in ``JUDGE_RECOVERY_DIR`` that no live process holds locked are stored (rows whose key is already
  final are skipped, so storing twice neither duplicates nor double-counts cost) and renamed ``*.stored``; the
  keys they held are never called again. A journal lives on the executor's host: Celery workers of one host (and
  ``judge runs resume`` there) must share one absolute ``JUDGE_RECOVERY_DIR``.
- **settle**: leases of keys not judged (stopped, aborted) are released; calls in flight are waited for on a
  stop, cancelled on an abort (an :class:`Interrupt`: the first Ctrl-C stops, the second aborts).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import json
import logging
import os
import re
import signal
import time
from collections import deque
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: journals are then stored only by in-process resumes
    fcntl = None  # type: ignore[assignment]

from sqlalchemy.engine import Engine

from judge.core.errors import StoreError
from judge.core.types import Frozen, VerdictRecord
from judge.llm.client import JudgeClient
from judge.runs.plan import WorkItem
from judge.settings import get_settings
from judge.store import utcnow
from judge.store.engine import session_scope
from judge.store.leases import Claim, claim_keys, new_owner, release_leases, renew_leases
from judge.store.runs import add_run_cost, run_state
from judge.store.transient import db_reason, is_transient
from judge.store.verdicts import final_keys, upsert_verdicts

if TYPE_CHECKING:
    from judge.runs.service import RunContext

log = logging.getLogger("judge.runs.execution")  # warnings name a short reason; the driver's text (SQL) is DEBUG
Row = VerdictRecord
RETRY_BASE_S = 0.2
RETRY_CAP_S = 5.0
ABORT_WRITE_S = 5.0
JOURNAL_HEADER = "journal"  # the first line of a journal: {"journal": {"database": <id>, "owner": <owner>}}


class PayOnce(Frozen):
    """Lease, write-retry and recovery settings of one execution. By default a paid verdict is written as soon
    as no write is in progress (verdicts returned meanwhile make the next batch): a ``kill -9`` loses at most
    what returned during one commit."""

    ttl_s: float
    poll_s: float = 0.5
    write_retry_max_s: float
    recovery_dir: str
    journal_fsync: bool = False
    write_batch: int = 1
    write_interval_s: float = 0.0

    @property
    def heartbeat_s(self) -> float:
        """How often leases are renewed while calls are in flight."""
        return self.ttl_s / 4

    @classmethod
    def from_settings(cls, **overrides: Any) -> PayOnce:
        """The configured policy (``JUDGE_LEASE_TTL_S``, ``JUDGE_WRITE_RETRY_MAX_S``, ``JUDGE_RECOVERY_DIR``,
        ``JUDGE_JOURNAL_FSYNC``)."""
        settings = get_settings()
        values: dict[str, Any] = {
            "ttl_s": settings.lease_ttl_s,
            "poll_s": min(0.5, settings.lease_ttl_s / 8),
            "write_retry_max_s": settings.write_retry_max_s,
            "recovery_dir": settings.recovery_dir,
            "journal_fsync": settings.journal_fsync,
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


def recovery_files(run_id: int | None, recovery_dir: str | None = None) -> list[Path]:
    """The journals (recovery files) of run ``run_id`` (of every run when None) not stored yet, live ones too."""
    folder = Path(recovery_dir or get_settings().recovery_dir)
    pattern = "run-*-*.jsonl" if run_id is None else f"run-{run_id}-*.jsonl"
    return sorted(folder.glob(pattern)) if folder.is_dir() else []


def write_rows(
    engine: Engine, run_id: int | None, owner: str | None, rows: Sequence[Row], *, only_new: bool = False
) -> str | None:
    """In one transaction: store ``rows`` (an upsert that never replaces a final verdict), release their leases
    held by ``owner`` (by anyone when None) and add their cost to the run; the run's status after it (None: no
    such run). ``only_new``: rows whose key already has a final verdict are skipped, cost included (a journal
    stored again after its verdicts were written)."""
    with session_scope(engine) as session:
        keys = [row.verdict_key for row in rows]
        if only_new and rows:
            done = final_keys(session, keys=keys)
            rows = [row for row in rows if row.verdict_key not in done]
        if rows:
            upsert_verdicts(session, rows)
        release_leases(session, owner=owner, keys=keys)
        if run_id is None:
            return None
        cost = sum(row.cost_usd or 0.0 for row in rows)  # money spent, whether or not a rival wrote first
        if cost:
            add_run_cost(session, run_id=run_id, cost_usd=cost)
        state = run_state(session, run_id=run_id)
        return None if state is None else state.status.value


def _lock(fd: int, *, wait: bool) -> bool:
    """An exclusive flock on ``fd``; False when another open file (a live process) holds it."""
    if fcntl is None:
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
    except BlockingIOError:
        return False
    return True


def database_id(engine: Engine) -> str:
    """A short id of the database ``engine`` writes to (SQLite: its real path), written in each journal's header
    so that a journal is only ever stored into the database its verdicts belong to."""
    url = engine.url
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        url = url.set(database=os.path.realpath(str(url.database)))
    text = url.set(password=None).render_as_string(hide_password=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _read_rows(data: bytes, database: str) -> list[Row] | None:
    """The verdict rows of a journal; None when its header names another database."""
    rows: list[Row] = []
    for line in data.decode("utf-8").splitlines():
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError:  # a line cut by a power loss (without JUDGE_JOURNAL_FSYNC): its call is not counted
            log.warning("skipping a truncated journal line")
            continue
        if JOURNAL_HEADER in row:
            if row[JOURNAL_HEADER].get("database") != database:
                return None
            continue
        rows.append(VerdictRecord.model_validate(row))
    return rows


def store_journals(
    engine: Engine, run_id: int | None = None, recovery_dir: str | None = None, *, skip: Path | None = None
) -> set[str]:
    """Store the verdicts in the journals of run ``run_id`` (every run when None) whose executor is gone (no
    process holds the journal's lock: killed, crashed, or finished with verdicts it could not write), each to
    its own run; rename each stored journal ``*.stored``. The keys stored (already final ones included)."""
    keys: set[str] = set()
    database = database_id(engine)
    for path in recovery_files(run_id, recovery_dir):
        if path == skip:
            continue
        match = re.match(r"run-(\d+)-", path.name)
        try:
            fd = os.open(path, os.O_RDWR)
        except FileNotFoundError:  # stored or removed meanwhile
            continue
        try:
            if not _lock(fd, wait=False):
                continue  # a live executor's journal: it writes its own verdicts
            try:
                if os.stat(path).st_ino != os.fstat(fd).st_ino:
                    continue  # renamed or replaced since it was opened
            except FileNotFoundError:
                continue
            with os.fdopen(os.dup(fd), "rb") as handle:
                rows = _read_rows(handle.read(), database)
            if rows is None:
                continue  # another database's journal (another store sharing JUDGE_RECOVERY_DIR)
            if rows:
                write_rows(engine, int(match.group(1)) if match else None, None, rows, only_new=True)
            path.rename(path.with_suffix(".jsonl.stored"))
            log.info("stored %d journaled verdicts from %s", len(rows), path.name)
            keys.update(row.verdict_key for row in rows)
        finally:
            os.close(fd)
    return keys


def store_recovered(engine: Engine, run_id: int, recovery_dir: str | None = None) -> int:
    """Store the verdicts that earlier executions of run ``run_id`` paid for but did not write (their journals,
    see :func:`store_journals`); how many keys they held."""
    return len(store_journals(engine, run_id, recovery_dir))


class Journal:
    """One executor's append-only journal of paid answers (see the module docstring), opened and locked at its
    first answer."""

    def __init__(self, folder: Path, run_id: int, owner: str, *, database: str, fsync: bool = False) -> None:
        self.path = folder / f"run-{run_id}-{re.sub(r'[^A-Za-z0-9_.-]', '_', owner)}.jsonl"
        self.header = (json.dumps({JOURNAL_HEADER: {"database": database, "owner": owner}}) + "\n").encode("utf-8")
        self.fsync = fsync
        self.fd: int | None = None
        self.unwritten: dict[str, Row] = {}

    def append(self, row: Row) -> None:
        """Journal one paid answer: one ``write()`` of its complete JSON line."""
        if self.fd is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            _lock(self.fd, wait=True)
            os.write(self.fd, self.header)
        os.write(self.fd, (row.model_dump_json() + "\n").encode("utf-8"))
        if self.fsync:
            os.fsync(self.fd)
        self.unwritten[row.verdict_key] = row

    def written(self, rows: Sequence[Row]) -> None:
        """``rows`` are in the database: once nothing journaled is unwritten, truncate the journal."""
        for row in rows:
            self.unwritten.pop(row.verdict_key, None)
        if self.fd is not None and not self.unwritten:
            os.ftruncate(self.fd, 0)
            os.write(self.fd, self.header)

    def close(self) -> Path | None:
        """Delete the journal when everything in it was written; else leave only the unwritten verdicts in it
        (written to a new file renamed over it) and return its path. Closing drops the lock."""
        if self.fd is None:
            return None
        try:
            if not self.unwritten:
                self.path.unlink(missing_ok=True)
                return None
            fresh = self.path.with_suffix(".jsonl.tmp")
            with fresh.open("w", encoding="utf-8") as out:
                out.write(self.header.decode("utf-8"))
                out.writelines(row.model_dump_json() + "\n" for row in self.unwritten.values())
                out.flush()
                os.fsync(out.fileno())
            fresh.replace(self.path)
            return self.path
        finally:
            os.close(self.fd)
            self.fd = None


class VerdictWriter:
    """Paid verdicts held in memory and written in batches, in order, until the database takes them."""

    def __init__(
        self,
        engine: Engine,
        run_id: int,
        owner: str,
        policy: PayOnce,
        on_written: Callable[[list[Row], str | None], None] | None = None,
        journal: Journal | None = None,
    ) -> None:
        self.engine, self.run_id, self.owner, self.policy = engine, run_id, owner, policy
        self.on_written = on_written
        self.journal = journal or Journal(
            Path(policy.recovery_dir), run_id, owner, database=database_id(engine), fsync=policy.journal_fsync
        )
        self.pending: list[Row] = []
        self.task: asyncio.Task[None] | None = None
        self.last_write = time.monotonic()
        self.failure: str | None = None
        self.recovery_file: Path | None = None
        self.recovered: set[str] = set()

    def add(self, row: Row) -> None:
        """Journal a paid verdict and hold it; start a background write when a batch is due."""
        row = row if row.created_at is not None else row.model_copy(update={"created_at": utcnow()})
        self.journal.append(row)
        self.pending.append(row)
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
            if status is not _FAILED:
                self.journal.written(rows)
                if self.on_written is not None:
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
        """Give up on ``rows`` for this execution: they stay in the journal, which becomes the recovery file."""
        self.recovery_file = self.journal.path
        self.recovered.update(row.verdict_key for row in rows)
        self.failure = (
            f"{reason}: {len(self.recovered)} paid verdicts could not be written within {waited_s:g} s and were "
            f"saved to the recovery folder; `judge runs resume {self.run_id}` stores them"
        )
        log.error("run %s: %s (%s)", self.run_id, self.failure, self.journal.path)


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
        """Claim ``keys``, then store the journals of dead executors (of any run) before any call: a key this
        claim took over from a dead owner whose answer that owner journaled is final now, never called."""
        with session_scope(self.engine) as session:
            claim = claim_keys(
                session,
                keys=keys,
                owner=self.owner,
                run_id=self.context.run_id,
                ttl_s=self.policy.ttl_s,
                now=time.time(),
            )
        journaled = store_journals(self.engine, None, self.policy.recovery_dir, skip=self.writer.journal.path)
        if not journaled.intersection(claim.granted):
            return claim
        return Claim(
            granted=tuple(k for k in claim.granted if k not in journaled),
            final=tuple(sorted({*claim.final, *journaled.intersection(claim.granted)})),
            held=claim.held,
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
            self.writer.add(row)  # journaled before anything else runs: a kill -9 from here on loses nothing
        finally:
            slots.release()
        self.judged += 1
        if self.on_row is not None:
            self.on_row(row)

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
            recovery = self.writer.journal.close()
            await self._settle()
        if errors:
            raise errors[0]
        left = len(by_key) - self.judged - self.final
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
        keep = self.writer.recovered | set(self.writer.journal.unwritten)
        try:
            await asyncio.to_thread(self._release, None if not keep else sorted(self.claimed - keep))
        except Exception as exc:  # they expire after the TTL
            log.warning("run %s: cannot release leases (%s)", self.context.run_id, db_reason(exc))
            log.debug("run %s: release failed", self.context.run_id, exc_info=exc)
