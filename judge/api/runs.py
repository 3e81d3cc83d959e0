"""Runs: start one (202, executed in the background), follow it, page through its verdicts, cancel it."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Self

from fastapi import APIRouter, Query
from pydantic import Field, ValidationError, model_validator
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from judge.analysis.verdict_export import VERDICT_FIELDS
from judge.api.deps import MAX_ID, AppState, RowId, State, Tenant, tenant_set
from judge.api.errors import validation_error
from judge.core.errors import InputError
from judge.core.protocols.order_rules import OrderRule
from judge.core.redaction import redact
from judge.core.rubrics import list_rubrics
from judge.core.types import Frozen, RunStatus, VerdictRecord
from judge.llm.endpoints import OPENAI_COMPATIBLE, UrlError, provider_of
from judge.runs.grading import is_grader
from judge.runs.launcher import CeleryLauncher
from judge.runs.request import JudgeSpec, RunConfig, RunOptions, default_concurrency, default_timeout_s
from judge.runs.service import (
    RunSummary,
    cancel_run,
    create_run,
    get_run,
    refuse_adaptive_on_celery,
    run_config,
    summarize_run,
)
from judge.settings import get_settings
from judge.store.engine import session_scope
from judge.store.queries import set_by_id
from judge.store.records import RunRecord
from judge.store.runs import list_runs as stored_runs
from judge.store.runs import verdict_page

router = APIRouter(prefix="/v1/runs", tags=["runs"])
REDACTED_FIELDS = ("error", "raw_output", "reason")


API_MAX_JUDGES = 8
API_MAX_CONCURRENCY = 64
API_MAX_TIMEOUT_S = 600.0


class RunRequest(RunOptions):
    """A run of judge model(s) with a rubric over a prompt set's pairs (or responses, for single grading): the
    options of :class:`~judge.runs.request.RunOptions` (defaults from the server's settings) plus the set and the
    judges. This server takes at most 8 judges, 64 calls in flight, 600 s per call and its own ``JUDGE_PROCESSES``
    worker processes."""

    prompt_set_id: int = Field(ge=1, le=MAX_ID)
    judges: tuple[JudgeSpec, ...] = Field(min_length=1, max_length=API_MAX_JUDGES)

    @model_validator(mode="before")
    @classmethod
    def _no_nul_bytes(cls, data: Any) -> Any:
        where = nul_path(data)
        if where is not None:
            raise ValueError(f"{where or 'body'}: text may not contain a NUL byte (\\u0000)")
        return data

    @model_validator(mode="before")
    @classmethod
    def _server_defaults(cls, data: Any) -> Any:
        """Settings defaults above this server's limits are lowered to them (explicit values are checked after)."""
        if isinstance(data, dict):
            data = {"concurrency": min(default_concurrency(), API_MAX_CONCURRENCY)} | data
            data = {"timeout_s": min(default_timeout_s(), API_MAX_TIMEOUT_S)} | data
        return data

    @model_validator(mode="after")
    def _within_server_limits(self) -> Self:
        if self.concurrency > API_MAX_CONCURRENCY:
            raise InputError(f"at most {API_MAX_CONCURRENCY} calls in flight on this server", field="concurrency")
        if self.timeout_s > API_MAX_TIMEOUT_S:
            raise InputError(f"at most {API_MAX_TIMEOUT_S:g} s per call on this server", field="timeout_s")
        if self.processes > get_settings().processes:
            raise InputError(f"at most {get_settings().processes} worker processes on this server", field="processes")
        return self

    def to_config(self, set_name: str, judges: tuple[JudgeSpec, ...]) -> RunConfig:
        """The run's configuration: these options on set ``set_name`` with the checked ``judges``."""
        options = self.model_dump(exclude={"prompt_set_id", "judges"})
        return RunConfig.model_validate(
            options | {"set_name": set_name, "judges": [j.model_dump() for j in judges], "tenant_api_bases": True}
        )


class RunCreated(Frozen):
    """A run planned and started: its id, its status, how many verdicts and units it planned, what it skipped."""

    id: int
    status: RunStatus
    planned: int
    units: int
    skipped: dict[str, int]


class RunListed(Frozen):
    """One run in the list of a tenant's runs."""

    id: int
    prompt_set_id: int
    status: RunStatus
    planned: int
    cost_usd: float
    judges: list[str]
    rubric: str
    created_at: datetime


class RunProgressView(Frozen):
    """Verdicts stored (any status) out of those planned."""

    finished: int
    planned: int
    fraction: float


class RunView(RunSummary):
    """A run's status, counts, combined outcomes, judge diagnostics, cost, progress, method card, and the resolved
    request it was created with (concurrency, timeout, sampling, judges, rubric, budget...)."""

    id: int
    prompt_set_id: int
    progress: RunProgressView
    created_at: datetime
    finished_at: datetime | None
    request: RunConfig


class VerdictView(VerdictRecord):
    """One stored verdict of a run with its provenance; ``prompt_id`` is the prompt's id in its set, ``run_id`` the
    run asked about (a verdict reused from an earlier run is shown under this one). Secrets in ``raw_output``,
    ``reason`` and ``error`` are redacted (the parse span is then dropped)."""

    id: int
    prompt_id: str  # type: ignore[assignment]
    created_at: datetime


class VerdictPage(Frozen):
    """One page of verdicts; ``next`` is the cursor of the next page (``after``), null on the last."""

    items: list[VerdictView]
    total: int
    next: int | None


class RunCancelled(Frozen):
    """A cancelled run."""

    id: int
    status: RunStatus


def nul_path(value: Any, path: str = "") -> str | None:
    """The dotted path of the first string in ``value`` (JSON: dicts, lists) holding a NUL byte, else None."""
    if isinstance(value, str):
        return path if "\x00" in value else None
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        if isinstance(key, str) and "\x00" in key:
            return f"{path}.{key!r}".lstrip(".")
        found = nul_path(item, f"{path}.{key}".lstrip("."))
        if found is not None:
            return found
    return None


def _check(request: RunRequest, state: AppState) -> tuple[JudgeSpec, ...]:
    rubrics = {r.id for r in list_rubrics()}
    if request.rubric not in rubrics:
        raise InputError(f"unknown rubric {request.rubric!r} (available: {', '.join(sorted(rubrics))})", field="rubric")
    return tuple(_checked_judge(index, judge, state) for index, judge in enumerate(request.judges))


def _checked_judge(index: int, judge: JudgeSpec, state: AppState) -> JudgeSpec:
    """``judge`` with its api_base normalised, when this server may call it (see the README's Security)."""
    settings = state.settings
    if is_grader(judge.model):  # a deterministic grader calls nothing (unknown graders are refused when planning)
        return judge.model_copy(update={"api_base": None})
    if judge.api_base is None:
        provider = provider_of(judge.model)
        if provider is None or provider not in settings.allowed_providers:
            allowed = ", ".join(settings.allowed_providers) or "none"
            raise InputError(
                f"this server does not call provider {provider or 'unknown'!r} without an allowed api_base "
                f"(JUDGE_API_ALLOWED_PROVIDERS: {allowed})",
                field=f"judges.{index}.model",
            )
        return judge
    field = f"judges.{index}.api_base"
    try:
        base = settings.api_base_allowed(judge.api_base)
    except UrlError as exc:
        raise InputError(str(exc), field=field) from None
    if base is None:
        raise InputError(
            "this server does not send judge calls to that api_base (JUDGE_API_ALLOWED_API_BASES)", field=field
        )
    if not judge.model.startswith(f"{OPENAI_COMPATIBLE}/"):
        raise InputError("an api_base needs an OpenAI-compatible judge: openai/NAME", field=f"judges.{index}.model")
    return judge.model_copy(update={"api_base": str(base)})


def _create(state: AppState, tenant: str, request: RunRequest) -> RunCreated:
    judges = _check(request, state)
    if isinstance(state.launcher, CeleryLauncher):
        refuse_adaptive_on_celery(request)
    with session_scope(state.engine) as session:
        prompt_set = tenant_set(session, request.prompt_set_id, tenant)
        try:
            config = request.to_config(prompt_set.name, judges)
        except ValidationError as exc:
            raise validation_error(exc) from exc
        cap = state.settings.max_planned_verdicts
        run, plan = create_run(session, config=config, tenant=tenant, max_planned=cap)
        assert run.id is not None
        return RunCreated(
            id=run.id, status=run.status, planned=len(plan.items), units=plan.n_units, skipped=plan.skipped
        )


def run_view(session: Session, run: RunRecord, order_rule: OrderRule = OrderRule.AGREE) -> RunView:
    """A run's status, counts, cost, progress, method card and resolved request; a judge's two orders combined by
    ``order_rule``."""
    prompt_set = set_by_id(session, set_id=run.set_id)
    summary = summarize_run(session, run=run, prompt_set=prompt_set, order_rule=order_rule)
    finished = summary.ok + summary.unparseable + summary.error
    return RunView(
        **summary.model_dump(),
        id=run.id,
        prompt_set_id=run.set_id,
        progress=RunProgressView(
            finished=finished, planned=run.n_planned, fraction=finished / run.n_planned if run.n_planned else 1.0
        ),
        created_at=run.created_at,
        finished_at=run.finished_at,
        request=run_config(run),
    )


@router.post("", status_code=202)
async def start_run(request: RunRequest, state: State, tenant: Tenant) -> RunCreated:
    """Plan a run and start judging it in the background; 202 with its id. Poll GET /v1/runs/{id}."""
    created = await run_in_threadpool(_create, state, tenant, request)
    state.launcher.launch(created.id, tenant)
    return created


@router.get("")
def list_runs(state: State, tenant: Tenant) -> list[RunListed]:
    """The caller's runs, newest first (status and counts; GET /v1/runs/{id} has the details)."""
    with session_scope(state.engine) as session:
        listed = []
        for r in stored_runs(session, tenant=tenant):
            config = run_config(r)
            listed.append(
                RunListed(
                    id=r.id,
                    prompt_set_id=r.set_id,
                    status=r.status,
                    planned=r.n_planned,
                    cost_usd=r.cost_usd,
                    judges=[j.model for j in config.judges],
                    rubric=config.rubric,
                    created_at=r.created_at,
                )
            )
        return listed


@router.get("/{run_id}")
def get_run_status(
    run_id: RowId,
    state: State,
    tenant: Tenant,
    order_rule: Annotated[
        OrderRule, Query(description="How a judge's two orders combine: agree, sum or separate")
    ] = OrderRule.AGREE,
) -> RunView:
    """Status, verdict counts, combined outcomes (orders combined by ``order_rule``), judge diagnostics, cost,
    progress, the method card, the resolved request (concurrency, timeout, sampling, judges, rubric, budget,
    repeats) and, for a run with repeats, its samples' self-consistency and spread."""
    with session_scope(state.engine) as session:
        return run_view(session, get_run(session, run_id=run_id, tenant=tenant), order_rule)


@router.get("/{run_id}/verdicts")
def list_verdicts(
    run_id: RowId,
    state: State,
    tenant: Tenant,
    limit: Annotated[int | None, Query(ge=1, description="Page size (default and maximum: server settings)")] = None,
    after: Annotated[int, Query(ge=0, le=MAX_ID, description="Cursor: the `next` of the previous page")] = 0,
    status: Annotated[str | None, Query(description="ok, unparseable or error")] = None,
    judge_model: str | None = None,
    model: Annotated[str | None, Query(description="Either side of the pair")] = None,
    order: Annotated[str | None, Query(description="ab, ba or single")] = None,
    turn: Annotated[int | None, Query(ge=1, le=1000)] = None,
    prompt_id: Annotated[str | None, Query(description="The prompt's id in its set")] = None,
) -> VerdictPage:
    """One page of a run's verdicts, oldest first, with their provenance; ``next`` is null on the last page."""
    page = limit or min(state.settings.default_page_size, state.settings.max_page_size)
    if page > state.settings.max_page_size:
        raise InputError(f"at most {state.settings.max_page_size} verdicts per page", field="limit")
    with session_scope(state.engine) as session:
        run = get_run(session, run_id=run_id, tenant=tenant)
        filters = {"status": status, "judge_model": judge_model, "order": order, "turn": turn, "prompt_id": prompt_id}
        total, rows = verdict_page(session, run_id=run.id, after=after, limit=page, filters=filters, model=model)
    items = []
    for row in rows[:page]:
        verdict = row.verdict
        item = {"id": row.id, "prompt_id": row.prompt_id, **{f: getattr(verdict, f) for f in VERDICT_FIELDS}}
        item["run_id"] = run_id
        for field in REDACTED_FIELDS:
            if item[field] is not None:
                item[field] = redact(item[field])
        if item["raw_output"] != verdict.raw_output:  # a secret was cut out: the span no longer indexes the text
            item["parse_span_start"] = item["parse_span_end"] = None
        items.append(VerdictView.model_validate(item))
    more = len(rows) > page
    return VerdictPage(items=items, total=total, next=items[-1].id if more else None)


def _cancel(state: AppState, tenant: str, run_id: int) -> RunCancelled:
    with session_scope(state.engine) as session:
        run = cancel_run(session, run_id=run_id, tenant=tenant)
        return RunCancelled(id=run_id, status=run.status)


@router.post("/{run_id}/cancel", responses={409: {"description": "The run has already ended"}})
async def cancel(run_id: RowId, state: State, tenant: Tenant) -> RunCancelled:
    """Stop a run: no new judge calls; stored verdicts stay. Cancelling a cancelled run changes nothing; 409 when
    it has ended otherwise (completed, incomplete, stopped, failed)."""
    cancelled = await run_in_threadpool(_cancel, state, tenant, run_id)
    state.launcher.cancel(run_id)
    return cancelled
