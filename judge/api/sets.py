"""Prompt sets: create one with its prompts, add responses and votes, read summaries (tenant-scoped)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, TypeVar

from fastapi import APIRouter, Query, Request
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from judge.api.deps import AppState, RowId, State, Tenant, tenant_set
from judge.api.uploads import (
    GoldUpload,
    LabelsUpload,
    PromptSetUpload,
    ResponsesUpload,
    VotesUpload,
    is_ndjson,
    json_body,
    json_records,
    ndjson_records,
    parse_prompts,
    parse_responses,
    parse_votes,
    text_param,
    upload_body,
)
from judge.core.errors import ConflictError, InputError
from judge.importers.bundle import ImportBundle
from judge.importers.gold import gold_from, gold_of_prompt, label_from
from judge.importers.lines import Located
from judge.store.correctness import CorrectnessImportCounts, write_gold, write_labels
from judge.store.engine import session_scope
from judge.store.ingest import ImportCounts, write_bundle
from judge.store.queries import SetSummary, create_set, list_sets, summarize_set
from judge.store.records import SetRecord

router = APIRouter(prefix="/v1/prompt-sets", tags=["prompt sets"])
T = TypeVar("T")
NameQuery = Annotated[str | None, Query(min_length=1, max_length=200, description="JSON Lines: the set's name")]
SourceQuery = Annotated[str | None, Query(min_length=1, max_length=100, description="JSON Lines: the votes' source")]


class SetView(SetSummary):
    """A prompt set: its id, name, description and row counts."""

    id: int
    description: str | None


class ImportView(ImportCounts):
    """What an upload added to set ``id`` (0 everywhere when the same rows are sent again)."""

    id: int


class CorrectnessImportView(CorrectnessImportCounts):
    """What a gold-answer or label upload changed in set ``id``."""

    id: int


def set_json(session: Session, prompt_set: SetRecord) -> SetView:
    """A set's id, name, description and row counts."""
    summary = summarize_set(session, prompt_set=prompt_set)
    return SetView(id=prompt_set.id, description=prompt_set.description, **summary.model_dump())


async def _upload(request: Request) -> tuple[bytes, bool]:
    """An upload's raw body and whether it is JSON Lines (else one JSON object)."""
    return await request.body(), is_ndjson(request.headers.get("content-type"))


async def _into_set(
    write: Callable[[AppState, int, str, bytes, bool, str, str | None], T],
    request: Request,
    state: AppState,
    set_id: int,
    tenant: str,
    kind: str,
    source: str | None,
) -> T:
    """Read an upload and write its ``kind`` records into the tenant's set ``set_id`` off the event loop."""
    raw, ndjson = await _upload(request)
    return await run_in_threadpool(write, state, set_id, tenant, raw, ndjson, kind, source)


def _records(
    raw: bytes, ndjson: bool, kind: str, source: str | None, *, source_in_body: bool, default_source: str | None
) -> tuple[list[Located], str | None]:
    """The records of an upload under key ``kind`` and its source name: ``?source=`` for JSON Lines, else the
    body's ``source`` where ``source_in_body``."""
    if ndjson:
        return ndjson_records(raw), source
    body = json_body(raw)
    records = json_records(body, kind)
    if source_in_body:
        source = text_param(body, "source", default=default_source, max_length=100)
    return records, source


def _add(
    state: AppState, set_id: int, tenant: str, raw: bytes, ndjson: bool, kind: str, source: str | None
) -> ImportView:
    """Parse and write responses or votes into the tenant's set ``set_id`` (checked first: 404 before 422)."""
    with session_scope(state.engine) as session:
        prompt_set = tenant_set(session, set_id, tenant)
        records, source = _records(raw, ndjson, kind, source, source_in_body=kind == "votes", default_source="api")
        if kind == "votes":
            bundle = ImportBundle(votes=parse_votes(records))
        else:
            bundle = ImportBundle(responses=parse_responses(records))
        counts = write_bundle(session, set_name=prompt_set.name, bundle=bundle, tenant=tenant, source=source or "api")
        return ImportView(id=set_id, **counts.model_dump())


def _create(state: AppState, tenant: str, raw: bytes, ndjson: bool, name: str | None) -> SetView:
    description = None
    if ndjson:
        if name is None:
            raise InputError("a JSON Lines upload names its set with ?name=", field="name")
        records = ndjson_records(raw)
    else:
        body = json_body(raw)
        name = text_param(body, "name")
        if name is None:
            raise InputError("field required", field="name")
        description = text_param(body, "description", max_length=2000)
        records = json_records(body, "prompts")
    bundle = ImportBundle(prompts=parse_prompts(records))
    golds = [g for g in (gold_of_prompt(r) for r in records) if g is not None]
    try:
        with session_scope(state.engine) as session:
            prompt_set = create_set(session, name=name, tenant=tenant, description=description)
            write_bundle(session, set_name=name, bundle=bundle, tenant=tenant)
            if golds:
                write_gold(session, prompt_set=prompt_set, records=golds)
            return set_json(session, prompt_set)
    except IntegrityError as exc:  # a concurrent upload of the same name won the race
        raise ConflictError(f"a prompt set named {name!r} exists") from exc


@router.post("", status_code=201, openapi_extra=upload_body(PromptSetUpload, "prompt"))
async def create_prompt_set(request: Request, state: State, tenant: Tenant, name: NameQuery = None) -> SetView:
    """Create a prompt set with its prompts (all or nothing). JSON body, or JSON Lines with ``?name=``."""
    raw, ndjson = await _upload(request)
    return await run_in_threadpool(_create, state, tenant, raw, ndjson, name)


@router.get("")
def list_prompt_sets(state: State, tenant: Tenant) -> list[SetView]:
    """The caller's prompt sets with their row counts."""
    with session_scope(state.engine) as session:
        return [set_json(session, s) for s in list_sets(session, tenant=tenant)]


@router.get("/{set_id}")
def get_prompt_set(set_id: RowId, state: State, tenant: Tenant) -> SetView:
    """One prompt set's row counts."""
    with session_scope(state.engine) as session:
        return set_json(session, tenant_set(session, set_id, tenant))


@router.post("/{set_id}/responses", openapi_extra=upload_body(ResponsesUpload, "response"))
async def add_responses(set_id: RowId, request: Request, state: State, tenant: Tenant) -> ImportView:
    """Add model responses to the set's prompts (all or nothing); counts of what was new."""
    return await _into_set(_add, request, state, set_id, tenant, "responses", None)


@router.post("/{set_id}/votes", openapi_extra=upload_body(VotesUpload, "vote"))
async def add_votes(
    set_id: RowId, request: Request, state: State, tenant: Tenant, source: SourceQuery = None
) -> ImportView:
    """Add pairwise votes on the set's prompts and models (all or nothing); the same vote twice counts once.
    JSON body (``source`` in it), or JSON Lines with ``?source=``."""
    return await _into_set(_add, request, state, set_id, tenant, "votes", source)


def _add_correctness(
    state: AppState, set_id: int, tenant: str, raw: bytes, ndjson: bool, kind: str, source: str | None
) -> CorrectnessImportView:
    """Parse and write gold answers or labels into the tenant's set ``set_id`` (all or nothing)."""
    with session_scope(state.engine) as session:
        prompt_set = tenant_set(session, set_id, tenant)
        records, source = _records(raw, ndjson, kind, source, source_in_body=kind == "labels", default_source=None)
        if kind == "gold":
            counts = write_gold(session, prompt_set=prompt_set, records=[gold_from(r) for r in records])
        else:
            if source is None:
                raise InputError("labels need a source name (JSON: source; JSON Lines: ?source=)", field="source")
            labels = [label_from(r) for r in records]
            counts = write_labels(session, prompt_set=prompt_set, source=source, records=labels)
        return CorrectnessImportView(id=set_id, **counts.model_dump())


@router.post("/{set_id}/gold", openapi_extra=upload_body(GoldUpload, "gold answer"))
async def add_gold(set_id: RowId, request: Request, state: State, tenant: Tenant) -> CorrectnessImportView:
    """Add gold answers to the set's prompts (all or nothing): {prompt_id, turn?, type, answer, ...} each."""
    return await _into_set(_add_correctness, request, state, set_id, tenant, "gold", None)


@router.post("/{set_id}/labels", openapi_extra=upload_body(LabelsUpload, "correctness label"))
async def add_labels(
    set_id: RowId, request: Request, state: State, tenant: Tenant, source: SourceQuery = None
) -> CorrectnessImportView:
    """Add imported correctness labels {prompt_id, model, turn?, label, note?} under a source name (use it as
    ``grader=labels:NAME``); JSON body (``source`` in it), or JSON Lines with ``?source=``."""
    return await _into_set(_add_correctness, request, state, set_id, tenant, "labels", source)
