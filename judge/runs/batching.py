"""Judging a run through the provider's batch API (``judge run --batch``): submit, follow, collect, retry.

Each round of the driver:

1. **adopt**: a batch row left ``submitting`` by a dead executor (killed between writing the row and recording the
   provider's batch id) is looked up at the provider by its metadata (run, row and database ids) and followed if
   it was created, else abandoned (its keys' leases released): a batch is never submitted twice.
2. **follow**: each submitted batch is retrieved; its status and counts are stored (``judge runs show``).
3. **collect**: an ended batch's output and error files are read and each line becomes a verdict through the same
   parse and the same row as a live call (:func:`judge.runs.judging.finish_row`): tokens from the provider's
   usage, cost at the batch price (:func:`judge.llm.batch.batch_price`), latency null (a line has none; the
   batch's wall time is its row's ``submitted_at`` to ``collected_at``). A failed line is an ``error`` verdict
   with the classified reason, as a failed live call; a key with no line at all stays missing. The verdicts, the
   release of the batch's leases and the cost are one transaction that also marks the batch collected, so a
   batch is stored and charged once however many executors race to collect it. The provider keeps the result
   files: an executor killed before that transaction loses nothing (no journal is needed).
4. **submit**: the run's keys without a final verdict (not in a batch, not leased elsewhere) are leased to a new
   batch row, then uploaded and submitted, one batch per judge (at most ``MAX_LINES`` lines). Within one
   execution (``judge run``, one ``judge runs resume``, or the Celery rounds of one submission; it knows its
   batches from the run's: those created or collected since it began) a key is tried once, and once more only
   when its line failed with a retryable status (429, 5xx, expired): that retry is a new, smaller batch of
   exactly those keys. Keys that failed otherwise stay ``error`` verdicts; the next ``judge runs resume``
   submits them again (only them).

The run's ``--max-cost`` is checked before each submission at the batch price: the keys submitted are those whose
estimated cost (prompt tokens by LiteLLM's tokenizer plus ``max_tokens``, else ``ESTIMATED_ANSWER_TOKENS``,
answer tokens) fits in what the run has left after its spending and its batches in flight.

Ctrl-C stops following (the batches run on at the provider; ``judge runs resume`` collects them); a cancelled run
asks the provider to cancel its batches (lines already answered are collected by a resume).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, TypeVar

from pydantic import BaseModel
from sqlalchemy.engine import Engine
from sqlmodel import Session

from judge.core.errors import FatalProviderError, NotFoundError, ProviderError, RetryableProviderError
from judge.core.parse import parse_output
from judge.core.types import RunStatus, VerdictRecord, VerdictStatus
from judge.llm.batch import (
    BatchApi,
    BatchLine,
    BatchState,
    BatchTarget,
    LineResult,
    batch_price,
    deadline_after,
    estimate_prompt_tokens,
)
from judge.llm.client import CompletionRequest
from judge.runs.execution import Interrupt, database_id, retry_transient
from judge.runs.judging import finish_row, prepare_call
from judge.runs.plan import WorkItem
from judge.runs.request import JudgeSpec
from judge.settings import get_settings
from judge.store import utcnow
from judge.store.batches import (
    ABANDONED,
    SUBMITTING,
    BatchRecord,
    abandon_batch,
    collect_batch,
    load_batches,
    open_batch,
    record_status,
)
from judge.store.engine import session_scope
from judge.store.leases import new_owner, owner_is_dead
from judge.store.runs import run_state
from judge.store.verdicts import final_keys

if TYPE_CHECKING:
    from judge.runs.service import ProgressCallback, RunContext, RunProgress

log = logging.getLogger("judge.runs.batching")
T = TypeVar("T")
MAX_LINES = 50_000
"""Most request lines in one batch (OpenAI's limit per batch file)."""
ESTIMATED_ANSWER_TOKENS = 256
"""Answer tokens a line is budgeted for when the run sets no ``max_tokens``."""
STALE_SUBMIT_LEASES = 10
"""A ``submitting`` row whose owner may still live is adopted once it is this many lease TTLs old."""
RETRY_ROUNDS = 1
"""Times one execution submits a key again after its line failed with a retryable status."""


def batch_card(config_judges: Iterable[JudgeSpec]) -> dict[str, object]:
    """The method card's account of ``--batch``: which price each judge's cost is at, latency, budget."""
    from judge.llm.batch import PRICE_SOURCES

    return {
        "batch": {
            "api": "the provider's batch API (OpenAI-compatible /v1/files and /v1/batches through LiteLLM), "
            "24 h completion window; each line's custom_id is its verdict key",
            "price": {j.model: PRICE_SOURCES[batch_price(j.model).source] for j in config_judges},
            "latency": "null per verdict (a batch line has none); each batch's wall time is shown with the run",
            "budget": f"--max-cost is checked before submitting, at the batch price, on estimated tokens (prompt "
            f"tokens by LiteLLM's tokenizer, answer: max_tokens, else {ESTIMATED_ANSWER_TOKENS})",
            "retries": "a line failed with 429, 5xx or expired is submitted again once in a smaller batch of "
            "only those keys; other failures are error verdicts that `judge runs resume` submits again",
        }
    }


class BatchSummary(BaseModel):
    """One provider batch of a run, for ``judge runs show`` and ``GET /v1/runs/{id}``: ``status`` is the
    provider's (``submitting`` before it has one), ``state`` judge's (submitting, submitted, collected,
    abandoned); ``wall_s`` from submission to collection (so far, while active)."""

    batch_id: str | None
    judge: str
    status: str
    state: str
    lines: int
    completed: int
    failed: int
    cost_usd: float
    submitted_at: datetime | None
    collected_at: datetime | None
    wall_s: float | None
    note: str | None


def batch_summaries(session: Session, *, run_id: int) -> list[BatchSummary]:
    """The provider batches of run ``run_id``, oldest first."""
    now = utcnow()
    out = []
    for b in load_batches(session, run_id=run_id):
        start = _aware(b.submitted_at)
        end = _aware(b.collected_at) or (now if b.active else None)
        out.append(
            BatchSummary(
                batch_id=b.batch_id,
                judge=b.judge_model,
                status=b.provider_status or b.state,
                state=b.state,
                lines=b.n_total or len(b.keys),
                completed=b.n_completed,
                failed=b.n_failed,
                cost_usd=b.cost_usd,
                submitted_at=start,
                collected_at=_aware(b.collected_at),
                wall_s=round((end - start).total_seconds(), 3) if start is not None and end is not None else None,
                note=b.note,
            )
        )
    return out


def _describe(batch: BatchRecord) -> str:
    """``<batch id> <provider status> <lines done>/<lines>`` of an active batch (the progress line)."""
    done = batch.n_completed + batch.n_failed
    return f"{batch.batch_id or 'submitting'} {batch.provider_status or batch.state} {done}/{batch.n_total}"


def _aware(when: datetime | None) -> datetime | None:
    """A stored time as UTC-aware (SQLite hands them back naive)."""
    if when is None:
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


class BatchDriver:
    """Submit, follow and collect the batches of one run (see the module docstring)."""

    def __init__(
        self,
        engine: Engine,
        context: RunContext,
        api: BatchApi,
        progress: RunProgress,
        *,
        on_progress: ProgressCallback | None = None,
        interrupt: Interrupt | None = None,
        poll_s: float | None = None,
        since: datetime | None = None,
    ) -> None:
        self.engine, self.context, self.api, self.progress = engine, context, api, progress
        self.since = since or utcnow()  # this execution's batches are those created since
        self.on_progress, self.interrupt = on_progress, interrupt
        settings = get_settings()
        self.poll_s = settings.batch_poll_s if poll_s is None else poll_s
        self.lease_ttl_s = settings.lease_ttl_s
        self.owner = new_owner()
        self.database = database_id(engine)
        self.started = time.monotonic()
        self.estimates: dict[str, float] = {}
        self.stopped: str | None = None
        self.over_budget = False

    # --- helpers --------------------------------------------------------------------------------------------

    def _request(self, item: WorkItem) -> tuple[CompletionRequest, dict[str, object]]:
        ctx = self.context
        task = ctx.catalog.task(ctx.rubric.mode, item.prompt_id, item.turn, item.model_a, item.model_b)
        request, row = prepare_call(ctx.rubric, task, item, ctx.config, ctx.run_id, ctx.rubric_hash)
        return request, row

    def estimate(self, key: str) -> float:
        """The budgeted cost of one line at the batch price (0 when the price is unknown)."""
        if key not in self.estimates:
            item = self.context.by_key[key]
            price = batch_price(item.judge.model)
            if price.input_per_token is None:  # an unknown price: nothing to count tokens for
                self.estimates[key] = 0.0
                return 0.0
            request, _ = self._request(item)
            answer = request.sampling.max_tokens or ESTIMATED_ANSWER_TOKENS
            self.estimates[key] = price.cost(estimate_prompt_tokens(request), answer) or 0.0
        return self.estimates[key]

    def _target(self, judge: JudgeSpec) -> BatchTarget:
        return BatchTarget(model=judge.model, api_base=judge.api_base, tenant=self.context.config.tenant_api_bases)

    def _target_of(self, batch: BatchRecord) -> BatchTarget:
        return BatchTarget(
            model=batch.judge_model, api_base=batch.api_base, tenant=self.context.config.tenant_api_bases
        )

    def _metadata(self, batch_row: int) -> dict[str, str]:
        return {"judge_run": str(self.context.run_id), "judge_batch": str(batch_row), "judge_db": self.database}

    async def _db(self, what: str, action: Callable[[], T]) -> T:
        """``action`` in a thread, retried through transient database errors (:func:`retry_transient`)."""
        result: T = await retry_transient(action, what, max_s=get_settings().write_retry_max_s)
        return result

    def _report(self, batches: list[BatchRecord] | None = None) -> None:
        p = self.progress
        p.elapsed_s = time.monotonic() - self.started
        if batches is not None:
            active = [b for b in batches if b.active]
            p.batch = "; ".join(_describe(b) for b in active) or None
        if self.on_progress is not None:
            self.on_progress(p)

    def _count(self, verdict: VerdictRecord) -> None:
        p = self.progress
        p.done += 1
        p.ok += verdict.status is VerdictStatus.OK
        p.unparseable += verdict.status is VerdictStatus.UNPARSEABLE
        p.error += verdict.status is VerdictStatus.ERROR
        if verdict.cost_usd is None:
            p.unknown_cost += verdict.status is not VerdictStatus.ERROR
        else:
            p.cost_usd += verdict.cost_usd

    def _load(self) -> tuple[list[BatchRecord], str, float]:
        """The run's batches, its status and its spending."""
        with session_scope(self.engine) as session:
            batches = load_batches(session, run_id=self.context.run_id)
            state = run_state(session, run_id=self.context.run_id)
        if state is None:
            raise NotFoundError(f"no run {self.context.run_id}")
        return batches, state.status.value, state.cost_usd

    def _interrupted(self) -> bool:
        return self.interrupt is not None and self.interrupt.level >= 1

    # --- the rounds -----------------------------------------------------------------------------------------

    async def run(self, *, follow: bool = True) -> bool:
        """Rounds until no batch of the run is active (or a stop); with ``follow`` False, one round. True when
        batches are still active at the provider."""
        while True:
            active = await self.round()
            if not active or not follow or self.stopped is not None:
                return active
            deadline = time.monotonic() + self.poll_s
            while time.monotonic() < deadline and not self._interrupted():
                await asyncio.sleep(min(0.2, self.poll_s))
            if self._interrupted():
                self.stopped = "interrupted (Ctrl-C): the batches run on at the provider, a resume collects them"
                return True

    async def round(self) -> bool:
        """One round: adopt, follow, collect, submit; True when some batch is still active."""
        batches, status, spent = await self._load_async()
        if status == RunStatus.CANCELLED:
            await self._cancel([b for b in batches if b.active and b.batch_id])
            self.stopped = RunStatus.CANCELLED.value
            self._report(batches)
            return any(b.active for b in batches)
        for batch in batches:
            if batch.active:
                await self._follow(batch)
        batches, status, spent = await self._load_async()
        if not self._interrupted():
            await self._submit(batches, spent)
            batches, status, spent = await self._load_async()
        self._report(batches)
        active = any(b.active for b in batches)
        if not active and self.over_budget:
            self.stopped = f"budget reached (${self.context.config.max_cost_usd:.4f} for the run)"
        return active

    async def _load_async(self) -> tuple[list[BatchRecord], str, float]:
        result = await self._db(f"read run {self.context.run_id}", functools.partial(self._load))
        assert isinstance(result, tuple)
        return result

    async def _follow(self, batch: BatchRecord) -> None:
        """Adopt a stale submitting batch, else retrieve a submitted one; collect it once it has ended."""
        target = self._target_of(batch)
        if batch.state == SUBMITTING:
            if batch.owner == self.owner or not self._stale(batch):
                return  # being submitted (by this executor, or by a live one)
            found = await self._find(target, batch)
            if found is None:
                await self._db("abandon a batch", functools.partial(self._abandon, batch.id, "never created"))
                return
            state = found
        else:
            assert batch.batch_id is not None
            try:
                state = await self.api.retrieve(target, batch.batch_id)
            except FatalProviderError as exc:  # the provider does not know it (any more): its keys are free
                await self._db("abandon a batch", functools.partial(self._abandon, batch.id, f"lost: {exc.reason}"))
                return
            except ProviderError as exc:  # retried by the policy already: try again next round
                log.warning("run %s: cannot retrieve batch %s yet: %s", self.context.run_id, batch.batch_id, exc)
                return
        await self._db("record a batch's status", functools.partial(self._record, batch.id, state))
        if state.terminal:
            await self._collect(batch, target, state)

    def _stale(self, batch: BatchRecord) -> bool:
        created = _aware(batch.created_at)
        assert created is not None
        age = (utcnow() - created).total_seconds()
        return owner_is_dead(batch.owner) or age > STALE_SUBMIT_LEASES * self.lease_ttl_s

    async def _find(self, target: BatchTarget, batch: BatchRecord) -> BatchState | None:
        try:
            return await self.api.find(target, self._metadata(batch.id))
        except ProviderError as exc:
            log.warning("run %s: cannot list batches to adopt row %s: %s", self.context.run_id, batch.id, exc)
            return None

    def _record(self, batch_row: int, state: BatchState) -> None:
        with session_scope(self.engine) as session:
            record_status(
                session,
                batch_row=batch_row,
                batch_id=state.batch_id,
                provider_status=state.status,
                counts=(state.total, state.completed, state.failed),
                files=(state.input_file_id, state.output_file_id, state.error_file_id),
            )

    def _abandon(self, batch_row: int, note: str) -> None:
        with session_scope(self.engine) as session:
            abandon_batch(session, batch_row=batch_row, note=note)

    async def _collect(self, batch: BatchRecord, target: BatchTarget, state: BatchState) -> None:
        """Store an ended batch's results (see the module docstring)."""
        try:
            results = await self.api.results(target, state)
        except ProviderError as exc:
            log.warning("run %s: cannot download batch %s yet: %s", self.context.run_id, state.batch_id, exc)
            return
        rows = self._verdicts(batch, results)
        answered = sum(1 for r in rows if r.status is not VerdictStatus.ERROR)
        missing = len(batch.keys) - len(rows)
        note = f"{state.status}: {answered} answered, {len(rows) - answered} failed, {missing} without a result"
        retryable = (r for r in results if r.completion is None and isinstance(r.failure(), RetryableProviderError))
        retry = [r.custom_id for r in retryable]
        store = functools.partial(self._store, batch.id, rows, note, retry)
        collected = await self._db("store a batch's verdicts", store)
        if not collected:
            return  # another executor stored it
        for row in rows:
            self._count(row)
        log.info("run %s: batch %s %s (%s)", self.context.run_id, state.batch_id, state.status, note)

    def _store(self, batch_row: int, rows: list[VerdictRecord], note: str, retry: list[str] | None = None) -> bool:
        with session_scope(self.engine) as session:
            return collect_batch(
                session, batch_row=batch_row, run_id=self.context.run_id, rows=rows, note=note, retry_keys=retry or ()
            )

    def _verdicts(self, batch: BatchRecord, results: list[LineResult]) -> list[VerdictRecord]:
        """Each of the batch's keys that has a result line, as the verdict a live call would have stored."""
        by_key = {r.custom_id: r for r in results}
        rows: list[VerdictRecord] = []
        now = utcnow()
        for key in batch.keys:
            result = by_key.get(key)
            item = self.context.by_key.get(key)
            if result is None or item is None:
                continue
            request, row = self._request(item)
            row["created_at"] = now
            rubric = self.context.rubric
            if result.completion is not None:
                completion = result.completion.model_copy(
                    update={"structured_output_used": request.json_schema is not None}
                )
                parsed = parse_output(rubric, completion.text, completion.structured_output_used)
                rows.append(finish_row(rubric, item, dict(row), [completion], parsed, None))
            else:
                rows.append(finish_row(rubric, item, dict(row), [], result.failure(), None))
        return rows

    async def cancel_if_cancelled(self) -> None:
        """When the run has been cancelled, ask the provider to cancel its active batches (best effort)."""
        try:
            batches, status, _spent = await self._load_async()
        except Exception as exc:  # the database is gone too: the batches run on, a resume collects them
            log.warning("run %s: cannot read its batches to cancel them: %s", self.context.run_id, exc)
            return
        if status == RunStatus.CANCELLED:
            await self._cancel([b for b in batches if b.active and b.batch_id])

    async def _cancel(self, batches: list[BatchRecord]) -> None:
        """Ask the provider to cancel the run's batches (best effort)."""
        for batch in batches:
            if batch.provider_status in ("cancelling", "cancelled") or batch.batch_id is None:
                continue
            try:
                state = await self.api.cancel(self._target_of(batch), batch.batch_id)
            except ProviderError as exc:
                log.warning("run %s: cannot cancel batch %s: %s", self.context.run_id, batch.batch_id, exc)
                continue
            await self._db("record a batch's status", functools.partial(self._record, batch.id, state))

    # --- submission -----------------------------------------------------------------------------------------

    def _missing(self, batches: list[BatchRecord]) -> list[str]:
        """The run's keys to submit now: no final verdict, in no active batch, and in no batch of this execution
        (created or collected since it began; abandoned ones aside) unless their line failed with a retryable
        status there, ``RETRY_ROUNDS`` times at most."""
        in_flight = {k for b in batches if b.active for k in b.keys}
        attempts: Counter[str] = Counter()
        retry: set[str] = set()
        for b in batches:  # oldest first: a key's last batch decides whether it may go again
            created, collected = _aware(b.created_at), _aware(b.collected_at)
            since = self.since
            mine = (created is not None and created >= since) or (collected is not None and collected >= since)
            if b.state == ABANDONED or not mine:
                continue
            attempts.update(b.keys)
            retry.difference_update(b.keys)
            retry.update(b.retry_keys)
        keys = [k for k in sorted(self.context.by_key) if k not in in_flight]
        with session_scope(self.engine) as session:
            done = final_keys(session, keys=keys)
        return [k for k in keys if k not in done and (attempts[k] == 0 or (k in retry and attempts[k] <= RETRY_ROUNDS))]

    def _within_budget(self, keys: list[str], batches: list[BatchRecord], spent: float) -> list[str]:
        """The first of ``keys`` whose estimated batch cost fits in what the run's budget has left."""
        self.over_budget = False
        budget = self.context.config.max_cost_usd
        if budget is None:
            return keys
        reserved = sum(self.estimate(k) for b in batches if b.active for k in b.keys if k in self.context.by_key)
        left = budget - spent - reserved
        chosen: list[str] = []
        for key in keys:
            cost = self.estimate(key)
            if cost > left:
                self.over_budget = True
                break
            left -= cost
            chosen.append(key)
        return chosen

    async def _submit(self, batches: list[BatchRecord], spent: float) -> None:
        missing = await asyncio.to_thread(self._missing, batches)
        chosen = self._within_budget(missing, batches, spent) if missing else []
        by_judge: dict[JudgeSpec, list[str]] = {}
        for key in chosen:
            by_judge.setdefault(self.context.by_key[key].judge, []).append(key)
        for judge, keys in by_judge.items():
            for start in range(0, len(keys), MAX_LINES):
                await self._submit_one(judge, keys[start : start + MAX_LINES])

    def _open(self, judge: JudgeSpec, keys: list[str]) -> BatchRecord | None:
        now = time.time()
        with session_scope(self.engine) as session:
            opened = open_batch(
                session,
                run_id=self.context.run_id,
                judge_model=judge.model,
                api_base=judge.api_base,
                keys=keys,
                owner=self.owner,
                lease_until=deadline_after(now),
                now=now,
            )
        return None if opened is None else opened[0]

    async def _submit_one(self, judge: JudgeSpec, keys: list[str]) -> None:
        """Lease ``keys`` to a new batch row, upload and create the batch, record its id."""
        batch = await self._db("open a batch", functools.partial(self._open, judge, keys))
        if batch is None:
            return  # every key is final or leased elsewhere now
        assert isinstance(batch, BatchRecord)
        target = self._target(judge)
        lines = [BatchLine(custom_id=k, request=self._request(self.context.by_key[k])[0]) for k in batch.keys]
        try:
            state = await self.api.submit(target, lines, self._metadata(batch.id))
        except ProviderError as exc:
            found = await self._find(target, batch)  # the create may have succeeded before the failure
            if found is None:
                await self._fail_submission(batch, exc)
                return
            state = found
        await self._db("record a batch's status", functools.partial(self._record, batch.id, state))
        log.info("run %s: batch %s submitted (%d lines)", self.context.run_id, state.batch_id, len(lines))

    async def _fail_submission(self, batch: BatchRecord, exc: ProviderError) -> None:
        """A batch the provider refused: its keys become ``error`` verdicts with the classified reason (as failed
        live calls; a resume submits them again)."""
        rows = [
            finish_row(self.context.rubric, item, {**row, "created_at": utcnow()}, [], exc, None)
            for item, (_req, row) in (
                (self.context.by_key[k], self._request(self.context.by_key[k])) for k in batch.keys
            )
        ]
        note = f"not submitted: {exc.reason or type(exc).__name__}"
        if await self._db("store a refused batch", functools.partial(self._store, batch.id, rows, note)):
            for row in rows:
                self._count(row)


async def execute_batches(
    engine: Engine,
    context: RunContext,
    progress: RunProgress,
    api: BatchApi,
    *,
    on_progress: ProgressCallback | None = None,
    interrupt: Interrupt | None = None,
    follow: bool = True,
    poll_s: float | None = None,
    since: datetime | None = None,
) -> bool:
    """Judge a ``--batch`` run's missing keys through ``api``: rounds until its batches have all been collected
    (``follow``), else one round (a Celery step). ``since``: when this execution began (default now; a Celery
    step passes its run's), which tells the keys it already submitted. Sets ``progress.stopped`` when it stopped
    early (Ctrl-C, cancel, budget); True when batches are still active at the provider."""
    driver = BatchDriver(
        engine, context, api, progress, on_progress=on_progress, interrupt=interrupt, poll_s=poll_s, since=since
    )
    try:
        if interrupt is None:
            active = await driver.run(follow=follow)
        else:
            with interrupt.handling_sigint():
                active = await driver.run(follow=follow)
    except asyncio.CancelledError:  # the API's cancel (or its shutdown) stopped this task: a cancelled run's
        await asyncio.shield(driver.cancel_if_cancelled())  # batches are cancelled at the provider too
        raise
    progress.stopped = driver.stopped
    return active
