"""Runs: start one (202, executed in the background), follow it, page through its verdicts, cancel it."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query
from pydantic import Field, ValidationError, model_validator
from sqlmodel import Session, col, func, select
from starlette.concurrency import run_in_threadpool

from judge.api.deps import MAX_ID, AppState, RowId, State, Tenant, tenant_set
from judge.api.errors import validation_error
from judge.errors import InputError
from judge.grader_runs import is_grader
from judge.llm.client import SamplingParams
from judge.llm.endpoints import OPENAI_COMPATIBLE, UrlError, provider_of
from judge.logging import redact
from judge.protocols.pairwise import OrderMode
from judge.rubrics import list_rubrics
from judge.run import create_run, get_run, summarize_run
from judge.run_config import JudgeSpec, PairSelection, RunConfig
from judge.store.engine import session_scope
from judge.store.tables import Prompt, PromptSet, Run, RunItem, Verdict
from judge.types import Frozen
from judge.verdict_export import VERDICT_FIELDS

router = APIRouter(prefix="/v1/runs", tags=["runs"])
REDACTED_FIELDS = ("error", "raw_output", "reason")


class RunRequest(Frozen):
    """A run of judge model(s) with a rubric over a prompt set's pairs (or responses, for single grading)."""

    prompt_set_id: int = Field(ge=1, le=MAX_ID)
    judges: tuple[JudgeSpec, ...] = Field(min_length=1, max_length=8)
    rubric: str = Field(default="pairwise", description="A rubric id (GET /v1/rubrics)")
    pairs: str = Field(default="human-voted", description="human-voted, all, or baseline:MODEL")
    models: tuple[str, ...] | None = None
    turns: tuple[int, ...] = (1,)
    order: OrderMode = OrderMode.BOTH
    seed: int | None = None
    sampling: SamplingParams = Field(default_factory=SamplingParams)
    timeout_s: float = Field(default=60.0, gt=0, le=600)
    max_cost_usd: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    limit: int | None = Field(default=None, ge=1)
    concurrency: int = Field(default=16, ge=1, le=64)
    reask: bool = False
    voters: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _no_nul_bytes(cls, data: Any) -> Any:
        where = nul_path(data)
        if where is not None:
            raise ValueError(f"{where or 'body'}: text may not contain a NUL byte (\\u0000)")
        return data


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
    PairSelection.parse(request.pairs)
    if request.order is OrderMode.RANDOM and request.seed is None:
        raise InputError("order random needs a seed", field="seed")
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


def _create(state: AppState, tenant: str, request: RunRequest) -> dict[str, Any]:
    judges = _check(request, state)
    with session_scope(state.engine) as session:
        prompt_set = tenant_set(session, request.prompt_set_id, tenant)
        fields = request.model_dump(exclude={"prompt_set_id", "judges"})
        fields |= {"set_name": prompt_set.name, "judges": [j.model_dump() for j in judges], "tenant_api_bases": True}
        try:
            config = RunConfig.model_validate(fields)
        except ValidationError as exc:
            raise validation_error(exc) from exc
        cap = state.settings.max_planned_verdicts
        run, plan = create_run(session, config=config, tenant=tenant, max_planned=cap)
        return {
            "id": run.id,
            "status": run.status,
            "planned": len(plan.items),
            "units": plan.n_units,
            "skipped": plan.skipped,
        }


def run_json(session: Session, run: Run) -> dict[str, Any]:
    """A run's status, counts, cost, progress and method card."""
    prompt_set = session.get(PromptSet, run.set_id)
    assert prompt_set is not None
    summary = summarize_run(session, run=run, prompt_set=prompt_set)
    finished = summary.ok + summary.unparseable + summary.error
    return {
        "id": run.id,
        "prompt_set_id": run.set_id,
        **summary.model_dump(exclude={"run_id"}),
        "progress": {
            "finished": finished,
            "planned": run.n_planned,
            "fraction": finished / run.n_planned if run.n_planned else 1.0,
        },
        "created_at": run.created_at,
        "finished_at": run.finished_at,
    }


@router.post("", status_code=202)
async def start_run(request: RunRequest, state: State, tenant: Tenant) -> dict[str, Any]:
    """Plan a run and start judging it in the background; 202 with its id. Poll GET /v1/runs/{id}."""
    created = await run_in_threadpool(_create, state, tenant, request)
    state.launcher.launch(created["id"], tenant)
    return created


@router.get("")
def list_runs(state: State, tenant: Tenant) -> list[dict[str, Any]]:
    """The caller's runs, newest first (status and counts; GET /v1/runs/{id} has the details)."""
    with session_scope(state.engine) as session:
        runs = session.exec(select(Run).where(col(Run.tenant) == tenant).order_by(col(Run.id).desc()))
        return [
            {
                "id": r.id,
                "prompt_set_id": r.set_id,
                "status": r.status,
                "planned": r.n_planned,
                "cost_usd": r.cost_usd,
                "judges": [j["model"] for j in r.config["judges"]],
                "rubric": r.config["rubric"],
                "created_at": r.created_at,
            }
            for r in runs
        ]


@router.get("/{run_id}")
def get_run_status(run_id: RowId, state: State, tenant: Tenant) -> dict[str, Any]:
    """Status, verdict counts, combined outcomes, judge diagnostics, cost, progress and the method card."""
    with session_scope(state.engine) as session:
        return run_json(session, get_run(session, run_id=run_id, tenant=tenant))


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
) -> dict[str, Any]:
    """One page of a run's verdicts, oldest first, with their provenance; ``next`` is null on the last page."""
    page = limit or min(state.settings.default_page_size, state.settings.max_page_size)
    if page > state.settings.max_page_size:
        raise InputError(f"at most {state.settings.max_page_size} verdicts per page", field="limit")
    with session_scope(state.engine) as session:
        run = get_run(session, run_id=run_id, tenant=tenant)
        conditions = [col(RunItem.run_id) == run.id]
        for column, value in (
            (Verdict.status, status),
            (Verdict.judge_model, judge_model),
            (Verdict.order, order),
            (Verdict.turn, turn),
            (Prompt.external_id, prompt_id),
        ):
            if value is not None:
                conditions.append(col(column) == value)
        if model is not None:
            conditions.append((col(Verdict.model_a) == model) | (col(Verdict.model_b) == model))
        base = (
            select(Verdict, Prompt.external_id)
            .join(RunItem, col(RunItem.verdict_key) == col(Verdict.verdict_key))
            .join(Prompt, col(Prompt.id) == col(Verdict.prompt_id))
            .where(*conditions)
        )
        total = int(session.exec(select(func.count()).select_from(base.subquery())).one())
        rows = list(session.exec(base.where(col(Verdict.id) > after).order_by(col(Verdict.id)).limit(page + 1)))
    items = []
    for verdict, external_id in rows[:page]:
        item = {"id": verdict.id, "prompt_id": external_id, **{f: getattr(verdict, f) for f in VERDICT_FIELDS}}
        for field in REDACTED_FIELDS:
            if item[field] is not None:
                item[field] = redact(item[field])
        items.append(item)
    more = len(rows) > page
    return {"items": items, "total": total, "next": items[-1]["id"] if more else None}


def _mark_cancelled(state: AppState, tenant: str, run_id: int) -> None:
    with session_scope(state.engine) as session:
        run = get_run(session, run_id=run_id, tenant=tenant)
        if run.status not in ("created", "running", "cancelled"):
            raise HTTPException(status_code=409, detail=f"run {run_id} has already ended ({run.status})")
        run.status = "cancelled"


@router.post("/{run_id}/cancel")
async def cancel_run(run_id: RowId, state: State, tenant: Tenant) -> dict[str, Any]:
    """Stop a run: no new judge calls; stored verdicts stay. 409 when it has already ended."""
    await run_in_threadpool(_mark_cancelled, state, tenant, run_id)
    state.launcher.cancel(run_id)
    return {"id": run_id, "status": "cancelled"}
