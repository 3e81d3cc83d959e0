"""A run: plan the missing verdicts, execute them on the in-process backend, follow progress, summarise.

The in-process backend runs :func:`judge.runs.judging.judge_item` through the shared execution core
(:mod:`judge.runs.execution`: claim each verdict key's lease, judge, write, settle) with bounded concurrency. Verdicts
that already exist in a final state (ok, unparseable) are reused, and a key leased by a concurrent run is waited
for, so a rerun, a resumed or a concurrent run pays only for what is missing. ``max_cost_usd`` stops scheduling
new calls once reached; Ctrl-C (an :class:`judge.runs.execution.Interrupt`) stops the run as ``stopped``.
"""

from __future__ import annotations

import functools
import secrets
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel
from sqlalchemy.engine import Engine
from sqlmodel import Session

from judge.core.errors import ConflictError, InputError
from judge.core.protocols.order_rules import DESCRIPTIONS as ORDER_RULES
from judge.core.protocols.order_rules import OrderRule
from judge.core.rubrics import Rubric, load_rubric
from judge.core.types import Mode, RunStatus, VerdictRecord, VerdictStatus, Winner
from judge.llm.batch import BatchApi, LiteLLMBatchApi
from judge.llm.client import JudgeClient
from judge.llm.params import sampling_notes
from judge.runs import grading as grader_runs
from judge.runs.adaptive import AdaptiveSchedule, WaveResult, drive
from judge.runs.batching import BatchSummary, batch_card, batch_summaries, execute_batches
from judge.runs.combine import StoredVerdict, combine_run, diagnostics_by_judge, repeat_report
from judge.runs.execution import Interrupt, KeyExecutor, retry_transient, store_recovered
from judge.runs.judging import judge_item
from judge.runs.plan import Catalog, Plan, WorkItem, plan_run
from judge.runs.request import RunConfig, RunOptions
from judge.settings import get_settings
from judge.store import DEFAULT_TENANT, utcnow
from judge.store.batches import load_batches
from judge.store.correctness import load_gold
from judge.store.engine import session_scope
from judge.store.queries import get_set
from judge.store.records import RunRecord, SetRecord
from judge.store.runs import add_run, find_run, get_run_record, mark_running, update_run
from judge.store.verdicts import (
    add_run_items,
    final_keys,
    load_catalog,
    load_run_items,
    load_verdicts,
    load_voted_units,
    verdict_status_counts,
)

ADAPTIVE_STATE = "adaptive_state"
"""The key of an adaptive run's state in its stored configuration (``Run.config``)."""


class RunProgress(BaseModel):
    """Live counters of an executing run."""

    total: int
    cached: int = 0
    done: int = 0
    ok: int = 0
    unparseable: int = 0
    error: int = 0
    cost_usd: float = 0.0
    unknown_cost: int = 0
    elapsed_s: float = 0.0
    stopped: str | None = None
    batch: str | None = None
    """``--batch``: each active provider batch's id, status and lines done out of its lines."""

    @property
    def rate(self) -> float:
        """Judge calls finished per second."""
        return self.done / self.elapsed_s if self.elapsed_s > 0 else 0.0


ProgressCallback = Callable[[RunProgress], None]


def count_verdict(progress: RunProgress, verdict: VerdictRecord) -> None:
    """Add one judged verdict to ``progress``: its status, and its cost or its unknown price."""
    progress.done += 1
    status = verdict.status
    progress.ok += status is VerdictStatus.OK
    progress.unparseable += status is VerdictStatus.UNPARSEABLE
    progress.error += status is VerdictStatus.ERROR
    if verdict.cost_usd is None:
        progress.unknown_cost += status is not VerdictStatus.ERROR
    else:
        progress.cost_usd += verdict.cost_usd


def budget_stop(config: RunConfig) -> str:
    """Why an execution stopped scheduling calls once it spent what its run had left of ``--max-cost``."""
    return f"budget reached (${config.max_cost_usd:.4f} for the run)"


def method_card(config: RunConfig, rubric: Rubric) -> dict[str, Any]:
    """What a reader needs to interpret this run's numbers (stored with the run, printed with results)."""
    return {
        "judges": [j.model for j in config.judges],
        "rubric": {"id": rubric.id, "version": rubric.version, "hash": rubric.content_hash},
        "sampling": config.sampling.recorded(),
        **sampling_notes((j.model for j in config.judges), config.sampling),  # parameters a judge rejects
        "parse_rule": "structured output: the first JSON object's verdict field (schema-checked, text after it "
        "ignored); prose: the [[label]] in verdict position (ending the reply, or a 'Verdict: [[X]]' line), never a "
        "label quoted elsewhere; two different labels in verdict positions, or none, are stored unparseable"
        + (", one re-ask" if config.reask else ""),
        "order_handling": "both orders; agreeing orders give the winner, disagreeing ones a tie flagged inconsistent"
        if config.order.value == "both"
        else f"one seeded random order (seed {config.seed})",
        "aggregation": "panel majority of judges (no majority: tie)" if len(config.judges) > 1 else "single judge",
        "pairs": config.pairs,
        "ci": "Wilson 95%",
        **repeats_card(config.repeats),
        **adaptive_card(config),
        **(batch_card(config.judges) if config.batch else {}),
    }


def adaptive_card(config: RunConfig) -> dict[str, Any]:
    """The method card's account of adaptive judging (nothing for a full sweep)."""
    if not config.adaptive:
        return {}
    selection = config.pair_selection
    return {
        "adaptive": {
            "prompt_order": f"one random order of the prompts, seed {config.prompt_seed}",
            "wave": f"the next {config.wave_size} prompts, every planned verdict of their units that involve a model "
            "still judged" + (" (the unit's model vs the baseline)" if selection.kind == "baseline" else ""),
            "fit": "after each wave, Bradley-Terry (Elo scale, ties half) on every complete unit so far, orders "
            "combined by the agree rule, sandwich 95% CI, anchored on "
            + (f"the baseline {selection.baseline}" if selection.kind == "baseline" else "the mean"),
            "stop": config.stopping_rule().describe()
            + "; the models left stop for budget when the next wave would exceed --max-cost, or are exhausted "
            "when the prompts run out",
        }
    }


def repeats_card(repeats: int) -> dict[str, Any]:
    """The method card's account of ``--repeats`` (nothing for one sample)."""
    if repeats == 1:
        return {}
    return {
        "repeats": repeats,
        "sample_aggregation": f"{repeats} samples per verdict key, each stored (the sample index is in the key); "
        "each sample's orders are combined by the order rule, the outcome is the majority over the samples "
        "(no majority: tie)",
        "self_consistency": "share of units whose samples all give the same outcome (a tie is a tie), over units "
        "every sample has an outcome for, Wilson 95%",
        "spread": "each model's win rate (win 1, tie 1/2) or mean score from each sample index alone: "
        "per_sample, min / median / max; majority: from the majority outcomes (scores: each unit's median)",
    }


def create_run(
    session: Session, *, config: RunConfig, tenant: str = DEFAULT_TENANT, max_planned: int | None = None
) -> tuple[RunRecord, Plan]:
    """Plan ``config`` and store the run with its items (status ``created``); a plan of more than
    ``max_planned`` verdicts is refused (InputError) before anything is written."""
    rubric = load_rubric(config.rubric)
    prompt_set = get_set(session, name=config.set_name, tenant=tenant)
    catalog = load_catalog(session, set_id=prompt_set.id)
    if config.models:
        unknown = sorted(set(config.models) - set(catalog.models))
        if unknown:
            raise InputError(
                f"no responses of {', '.join(unknown)} in set {config.set_name!r} "
                f"(models: {', '.join(catalog.models)})",
                field="--models",
            )
    selection = config.pair_selection
    if selection.kind == "baseline" and selection.baseline not in catalog.models:
        raise InputError(
            f"baseline model {selection.baseline!r} has no responses in set {config.set_name!r}", field="--pairs"
        )
    voted = load_voted_units(session, set_id=prompt_set.id, voters=config.voters)
    if selection.kind == "human-voted" and not voted and grader_runs.grader_specs(config) is None:
        raise InputError(
            f"set {config.set_name!r} has no votes to take pairs from; use --pairs all or baseline:MODEL",
            field="--pairs",
        )
    graders = grader_runs.grader_specs(config)
    if config.batch and (graders is not None or any(grader_runs.is_grader(j.model) for j in config.judges)):
        raise InputError("--batch needs judge models: a deterministic grader calls none", field="batch")
    if config.batch and config.adaptive:
        raise InputError("an adaptive run cannot use --batch (each wave waits for the last)", field="batch")
    if config.adaptive:
        if graders is not None or rubric.mode is not Mode.PAIRWISE:
            raise InputError("adaptive judging (--until-ci, --until-separated) needs a pairwise rubric", field="rubric")
        if config.prompt_seed is None:
            config = config.model_copy(update={"prompt_seed": secrets.randbelow(2**31)})
    if graders is not None:
        golds = load_gold(session, set_id=prompt_set.id)
        typed = {key: (stored.content_hash, stored.gold.type) for key, stored in golds.items()}
        plan = grader_runs.plan_grading(graders, config, catalog, typed)
    else:
        plan = plan_run(rubric, config, catalog, voted)
    if max_planned is not None and len(plan.items) > max_planned:
        raise InputError(
            f"this run would plan {len(plan.items):,} verdicts, more than the {max_planned:,} one request may plan "
            "(JUDGE_API_MAX_PLANNED_VERDICTS); narrow it with limit, models, turns or fewer judges",
            field="limit",
        )
    stored_config = {
        **config.model_dump(mode="json"),
        "method": method_card(config, rubric) if graders is None else grader_runs.method_card(graders),
        "skipped": plan.skipped,
        "n_units": plan.n_units,
    }
    run = add_run(session, tenant=tenant, set_id=prompt_set.id, config=stored_config, n_planned=len(plan.items))
    add_run_items(session, run_id=run.id, items=plan.items)
    return run, plan


def set_budget(session: Session, *, run_id: int, max_cost_usd: float | None) -> RunRecord:
    """Change a run's --max-cost (e.g. to resume one that stopped at its budget)."""
    run = get_run_record(session, run_id=run_id)
    return update_run(session, run_id=run_id, config={**run.config, "max_cost_usd": max_cost_usd})


def run_config(run: RunRecord) -> RunConfig:
    """The configuration run ``run`` was created with: its resolved request (``Run.config`` also holds its method
    card)."""
    return RunConfig.from_stored(run.config)


def prepare_resume(
    session: Session, *, run_id: int, tenant: str = DEFAULT_TENANT, max_cost_usd: float | None, live: bool = False
) -> RunRecord:
    """Mark run ``run_id`` running again (a cancelled or ended run too), with a new budget when one is given;
    ``live``: a ``--batch`` run judges what it misses with live calls from now on."""
    config = get_run(session, run_id=run_id, tenant=tenant).config
    if max_cost_usd is not None:
        config = {**config, "max_cost_usd": max_cost_usd}
    if live and config.get("batch"):
        if any(b.active for b in load_batches(session, run_id=run_id)):
            raise ConflictError(
                f"run {run_id} has batches still at the provider: `judge runs resume {run_id}` collects them first"
            )
        config = {**config, "batch": False}
    return update_run(session, run_id=run_id, status=RunStatus.RUNNING, config=config)


def cancel_run(session: Session, *, run_id: int, tenant: str = DEFAULT_TENANT) -> RunRecord:
    """Cancel run ``run_id``: no new judge calls are scheduled; stored verdicts stay. Cancelling a cancelled run
    changes nothing; a run that has ended otherwise (completed, incomplete, stopped, failed) is a ConflictError."""
    status = get_run(session, run_id=run_id, tenant=tenant).status
    if not status.is_active and status is not RunStatus.CANCELLED:
        raise ConflictError(f"run {run_id} has already ended ({status}); `judge runs resume {run_id}` restarts it")
    return update_run(session, run_id=run_id, status=RunStatus.CANCELLED)


def get_run(session: Session, *, run_id: int, tenant: str = DEFAULT_TENANT) -> RunRecord:
    """The run ``run_id`` of ``tenant``, or NotFoundError."""
    return get_run_record(session, run_id=run_id, tenant=tenant)


class RunContext:
    """Everything needed to execute a run's items, loaded once."""

    def __init__(self, session: Session, run: RunRecord) -> None:
        self.run_id: int = run.id
        self.config = run_config(run)
        self.rubric = load_rubric(self.config.rubric)
        self.rubric_hash = self.rubric.content_hash
        self.catalog: Catalog = load_catalog(session, set_id=run.set_id)
        self.items = load_run_items(session, run_id=self.run_id)
        self.by_key = {item.verdict_key: item for item in self.items}
        graders = grader_runs.grader_specs(self.config)
        self.golds = load_gold(session, set_id=run.set_id) if graders is not None else {}

    async def judge(self, client: JudgeClient, item: WorkItem) -> VerdictRecord:
        """Judge one item of this run (a deterministic grader grades it without calling any model)."""
        if grader_runs.is_grader(item.judge.model):
            gold = self.golds[(item.prompt_id, item.turn)]
            text = self.catalog.responses[(item.prompt_id, item.model_a)].turns[item.turn - 1]
            prompt = self.catalog.prompts[item.prompt_id].turns[item.turn - 1]
            return grader_runs.grade_row(item, text, gold.gold, gold.content_hash, prompt, run_id=self.run_id)
        task = self.catalog.task(self.rubric.mode, item.prompt_id, item.turn, item.model_a, item.model_b)
        return await judge_item(
            client, self.rubric, task, item, self.config, run_id=self.run_id, rubric_hash=self.rubric_hash
        )


class _Executor:
    """In-process execution of a run's items through the shared core (:class:`judge.runs.execution.KeyExecutor`:
    claim -> judge -> write -> settle), with progress, the run's cost budget and cancellation checks."""

    def __init__(
        self,
        engine: Engine,
        context: RunContext,
        client: JudgeClient | None,
        progress: RunProgress,
        on_progress: ProgressCallback | None,
        max_cost: float | None,
        interrupt: Interrupt | None = None,
    ) -> None:
        self.engine, self.context, self.client = engine, context, client
        self.progress, self.on_progress, self.max_cost = progress, on_progress, max_cost
        self.interrupt = interrupt
        self.cancelled = False
        self.started = time.monotonic()

    def budget_reached(self) -> bool:
        """Whether this execution has spent what is left of the run's budget."""
        return self.max_cost is not None and self.progress.cost_usd >= self.max_cost

    def _stop_reason(self) -> str | None:
        if self.cancelled:
            return RunStatus.CANCELLED.value
        if self.budget_reached():
            return budget_stop(self.context.config)
        return None

    def _record(self, verdict: VerdictRecord) -> None:
        count_verdict(self.progress, verdict)
        self._report()

    def _wrote(self, _verdicts: list[VerdictRecord], run_status: str | None) -> None:
        """After each write: the run was cancelled elsewhere (API, CLI) when its status says so."""
        self.cancelled = self.cancelled or run_status == RunStatus.CANCELLED
        self._report()

    def _report(self) -> None:
        self.progress.elapsed_s = time.monotonic() - self.started
        if self.on_progress is not None:
            self.on_progress(self.progress)

    async def execute(self, todo: list[WorkItem], concurrency: int) -> None:
        """Judge ``todo`` with ``concurrency`` calls in flight: in this process with the given client, else (no
        client) over the run's worker processes when it has enough keys for more than one
        (:mod:`judge.runs.processes`), else with the configured client."""
        from judge.runs import processes  # it imports this module

        requested = processes.requested_processes(self.context.config)
        workers = processes.process_count(requested, concurrency, len(todo), self.engine)
        if self.client is None and workers > 1:
            outcome = await processes.execute_in_processes(
                self.engine,
                self.context,
                todo,
                workers=workers,
                concurrency=concurrency,
                progress=self.progress,
                report=self._report,
                budget=None if self.max_cost is None else self.max_cost - self.progress.cost_usd,
                interrupt=self.interrupt,
            )
        else:
            self.client = self.client or default_client()
            core = KeyExecutor(
                self.engine,
                self.context,
                self.client,
                concurrency=concurrency,
                stop_reason=self._stop_reason,
                on_row=self._record,
                on_written=self._wrote,
                interrupt=self.interrupt,
            )
            outcome = await core.execute(todo)
        self.progress.cached += outcome.final  # done meanwhile by another executor (a concurrent run)
        self.progress.stopped = outcome.stopped
        self._report()


async def execute_run(
    engine: Engine,
    run_id: int,
    client: JudgeClient | None = None,
    *,
    on_progress: ProgressCallback | None = None,
    tenant: str = DEFAULT_TENANT,
    interrupt: Interrupt | None = None,
    batch_api: BatchApi | None = None,
) -> RunProgress:
    """Judge every item of run ``run_id`` that has no final verdict yet, in-process (a ``--batch`` run through
    ``batch_api``, default LiteLLM's, see :mod:`judge.runs.batching`); each verdict key is leased
    before its call, so concurrent and resumed runs never pay twice for one key. Verdicts an earlier execution
    saved to a recovery file are stored first. ``interrupt`` (the CLI's Ctrl-C) stops it: the run ends
    ``stopped``. Without a ``client`` the run spreads its calls over its ``processes``, each worker with the
    configured client (:mod:`judge.runs.processes`); a given ``client`` keeps the run in this process."""
    bound = get_settings().write_retry_max_s
    await retry_transient(functools.partial(store_recovered, engine, run_id), "store recovered verdicts", max_s=bound)
    context, done, spent_before = await retry_transient(
        functools.partial(_start_run, engine, run_id, tenant), f"start run {run_id}", max_s=bound
    )
    todo = [item for item in context.items if item.verdict_key not in done]
    progress = RunProgress(total=len(context.items), cached=len(context.items) - len(todo))
    if context.config.batch:  # through the provider's batch API (judge.runs.batching), never live calls
        await execute_batches(
            engine, context, progress, batch_api or LiteLLMBatchApi(), on_progress=on_progress, interrupt=interrupt
        )
        await retry_transient(
            functools.partial(finish_run, engine, run_id, stopped=progress.stopped),
            f"record the end of run {run_id}",
            max_s=bound,
        )
        return progress
    budget = context.config.max_cost_usd
    remaining = None if budget is None else budget - spent_before  # the budget is the run's, across resumes
    executor = _Executor(engine, context, client, progress, on_progress, remaining, interrupt)

    async def judge() -> bool:
        """Judge the run; whether it is complete without its missing verdicts (adaptive runs only)."""
        if context.config.adaptive:
            progress.cached = 0  # an adaptive run counts the reused verdicts of the waves it asks for
            return await _execute_adaptive(engine, context, executor, spent_before)
        await executor.execute(todo, context.config.concurrency)
        return False

    if interrupt is None:
        complete = await judge()
    else:
        with interrupt.handling_sigint():
            complete = await judge()
    await retry_transient(
        functools.partial(finish_run, engine, run_id, stopped=progress.stopped, complete=complete),
        f"record the end of run {run_id}",
        max_s=bound,
    )
    return progress


async def _execute_adaptive(engine: Engine, context: RunContext, executor: _Executor, spent_before: float) -> bool:
    """Judge an adaptive run wave by wave through the execution core (:mod:`judge.runs.adaptive`), recording its
    state with the run after each wave; whether every model stopped by the rule or ran out of prompts (the run
    is then complete, though it judged fewer verdicts than it planned)."""
    config, progress = context.config, executor.progress
    assert config.prompt_seed is not None
    selection = config.pair_selection
    schedule = AdaptiveSchedule(
        context.items,
        judges=[j.model for j in config.judges],
        rule=config.stopping_rule(),
        wave_size=config.wave_size,
        seed=config.prompt_seed,
        baseline=selection.baseline if selection.kind == "baseline" else None,
    )
    bound = get_settings().write_retry_max_s

    async def execute(items: list[WorkItem]) -> WaveResult:
        await executor.execute(items, config.concurrency)
        budget = executor.budget_reached()
        stopped = progress.stopped or (f"budget reached (${config.max_cost_usd:.4f} for the run)" if budget else None)
        return WaveResult(stopped=stopped, budget=budget)

    async def load(keys: list[str]) -> list[StoredVerdict]:
        found: list[StoredVerdict] = await retry_transient(
            functools.partial(_stored_for, engine, context, keys), "read a wave's verdicts", max_s=bound
        )
        return found

    async def afford(items: list[WorkItem]) -> str | None:
        budget = config.max_cost_usd
        priced = progress.done - progress.unknown_cost - progress.error
        if budget is None or priced <= 0:
            return None  # no price known yet: the execution core stops at the budget
        final = await retry_transient(
            functools.partial(_final_keys, engine, [i.verdict_key for i in items]), "read final keys", max_s=bound
        )
        new_calls = len({i.verdict_key for i in items} - final)
        spent = spent_before + progress.cost_usd
        estimate = new_calls * progress.cost_usd / priced
        if spent + estimate <= budget:
            return None
        return (
            f"budget: the next wave ({new_calls} calls, about ${estimate:.4f}) would take the run past its "
            f"${budget:.4f} (spent ${spent:.4f})"
        )

    async def save(state: AdaptiveSchedule) -> None:
        report = state.report()
        await retry_transient(
            functools.partial(_save_adaptive, engine, context.run_id, report), "record the adaptive state", max_s=bound
        )

    stopped = await drive(schedule, execute, load, afford=afford, save=save)
    if progress.stopped is None:
        progress.stopped = stopped
    return stopped is None and not schedule.active


def refuse_adaptive_on_celery(config: RunOptions) -> None:
    """Adaptive runs refit between waves in the process that drives them: the Celery backend, which enqueues a
    run's keys at once, refuses them (InputError)."""
    if config.adaptive:
        raise InputError(
            "adaptive runs (--until-ci, --until-separated) are judged in-process only: use --backend inprocess "
            "(the API: a server without JUDGE_BROKER_URL)",
            field="--backend",
        )


def _stored_for(engine: Engine, context: RunContext, keys: list[str]) -> list[StoredVerdict]:
    with session_scope(engine) as session:
        return [
            StoredVerdict(
                item=context.by_key[v.verdict_key],
                status=VerdictStatus(v.status),
                winner=Winner(v.winner) if v.winner else None,
                score=v.score,
            )
            for v in load_verdicts(session, keys=keys)
        ]


def _final_keys(engine: Engine, keys: list[str]) -> set[str]:
    with session_scope(engine) as session:
        return final_keys(session, keys=keys)


def _save_adaptive(engine: Engine, run_id: int, report: dict[str, Any]) -> None:
    with session_scope(engine) as session:
        found = find_run(session, run_id=run_id)
        if found is not None:
            update_run(session, run_id=run_id, config={**found.config, ADAPTIVE_STATE: report})


def default_client() -> JudgeClient:
    """The judge client of the in-process backend: the configured retries and rate limits (in memory)."""
    from judge.runs.backends.unit import make_client  # the backends import this module

    return make_client(shared=False)


def _start_run(engine: Engine, run_id: int, tenant: str) -> tuple[RunContext, set[str], float]:
    """Mark the run running; its context, the keys already final and what it has spent so far."""
    with session_scope(engine) as session:
        run = get_run(session, run_id=run_id, tenant=tenant)
        context = RunContext(session, run)
        done = final_keys(session, keys=[i.verdict_key for i in context.items])
        # one conditional UPDATE: a cancel committed meanwhile (the API's, racing this start) is never overwritten
        mark_running(session, run_id=run_id, unless_cancelled=True)
        return context, done, run.cost_usd


def finish_run(engine: Engine, run_id: int, *, stopped: str | None = None, complete: bool = False) -> None:
    """Settle a run, whichever backend executed it: recount its verdicts by status (aggregate queries) and set
    its final status and note. A cancelled run stays cancelled (note: ``stopped``, else ``cancelled``); any other
    ends ``stopped`` with the reason given (or the spent budget, when verdicts are missing), else ``completed``
    or ``incomplete``. ``complete``: the run needs none of its missing verdicts (an adaptive run whose models
    have all stopped)."""
    with session_scope(engine) as session:
        run = find_run(session, run_id=run_id)
        if run is None:
            return
        counts, items = verdict_status_counts(session, run_id=run_id)
        n_ok, n_unparseable, n_error = (
            counts.get(s.value, 0) for s in (VerdictStatus.OK, VerdictStatus.UNPARSEABLE, VerdictStatus.ERROR)
        )
        missing = 0 if complete else items - sum(counts.values())
        note: str | None = stopped or RunStatus.CANCELLED.value
        status = RunStatus.CANCELLED
        if run.status != RunStatus.CANCELLED:
            note = stopped or (budget_note(run) if missing else None)
            status = final_status(stopped=note, missing=missing)
        update_run(
            session,
            run_id=run_id,
            n_ok=n_ok,
            n_unparseable=n_unparseable,
            n_error=n_error,
            note=note,
            status=status,
            finished_at=utcnow(),
        )


def budget_note(run: RunRecord) -> str | None:
    """The stop note when the run's --max-cost budget is spent."""
    budget = run_config(run).max_cost_usd
    return f"budget of ${budget:.4f} reached" if budget is not None and run.cost_usd >= budget else None


def final_status(*, stopped: str | None, missing: int) -> RunStatus:
    """How a run that was not cancelled ended: ``stopped`` (with a reason), else ``completed`` when no planned
    verdict is missing, else ``incomplete``."""
    if stopped:
        return RunStatus.STOPPED
    return RunStatus.COMPLETED if missing == 0 else RunStatus.INCOMPLETE


def stored_verdicts(session: Session, *, run: RunRecord) -> list[StoredVerdict]:
    """A run's verdicts joined with the items that asked for them."""
    items = {i.verdict_key: i for i in load_run_items(session, run_id=run.id)}
    return [
        StoredVerdict(
            item=items[v.verdict_key],
            status=VerdictStatus(v.status),
            winner=Winner(v.winner) if v.winner else None,
            score=v.score,
        )
        for v in load_verdicts(session, keys=items)
    ]


class RunSummary(BaseModel):
    """A run's verdict counts, combined outcomes, judge diagnostics and cost, with its method card."""

    run_id: int
    status: RunStatus
    set_name: str
    planned: int
    ok: int
    unparseable: int
    error: int
    missing: int
    cost_usd: float
    note: str | None
    units: int
    combined: dict[str, int]
    inconsistent: int
    diagnostics: dict[str, Any]
    method: dict[str, Any]
    order_rule: OrderRule = OrderRule.AGREE
    repeats: dict[str, Any] | None = None
    adaptive: dict[str, Any] | None = None
    """An adaptive run's state (:meth:`judge.runs.adaptive.AdaptiveSchedule.report`): per model the verdicts its
    units needed, why and when it stopped, its 95% CI then and in the last fit."""
    batches: list[BatchSummary] | None = None
    """A ``--batch`` run's provider batches: id, status, lines answered and failed, cost, wall time."""


def _with_order_rule(card: dict[str, Any], rule: OrderRule) -> dict[str, Any]:
    """A run's stored method card naming the order rule its summary was combined by."""
    out = {**card, "order_rule": rule.value, "order_rule_means": ORDER_RULES[rule]}
    if rule is not OrderRule.AGREE and str(card.get("order_handling", "")).startswith("both orders"):
        out["order_handling"] = f"both orders, combined by order rule {rule.value}"
    return out


def summarize_run(
    session: Session, *, run: RunRecord, prompt_set: SetRecord, order_rule: OrderRule = OrderRule.AGREE
) -> RunSummary:
    """Everything ``judge run`` prints at the end, from the store; a judge's two orders are combined by
    ``order_rule`` (under ``separate`` each order is an outcome of its own), named in the method card."""
    verdicts = stored_verdicts(session, run=run)
    judges = [j.model for j in run_config(run).judges]
    outcomes = combine_run(verdicts, judges, order_rule)
    repeats = run_config(run).repeats
    combined = Counter(o.panel.winner.value if o.panel.winner else "incomplete" for o in outcomes)
    statuses = Counter(v.status for v in verdicts)
    assert run.id is not None
    return RunSummary(
        run_id=run.id,
        status=RunStatus(run.status),
        set_name=prompt_set.name,
        planned=run.n_planned,
        ok=statuses[VerdictStatus.OK],
        unparseable=statuses[VerdictStatus.UNPARSEABLE],
        error=statuses[VerdictStatus.ERROR],
        missing=run.n_planned - len(verdicts),
        cost_usd=run.cost_usd,
        note=run.note,
        units=len({o.unit for o in outcomes}),
        combined=dict(combined),
        inconsistent=sum(1 for o in outcomes for c in o.by_judge.values() if c.inconsistent),
        diagnostics={j: d.to_json() for j, d in diagnostics_by_judge(verdicts).items()},
        method=_with_order_rule(run.config.get("method", {}), order_rule),
        order_rule=order_rule,
        repeats=repeat_report(verdicts, order_rule, repeats) if repeats > 1 else None,
        adaptive=run.config.get(ADAPTIVE_STATE),
        batches=batch_summaries(session, run_id=run.id) if run_config(run).batch else None,
    )
