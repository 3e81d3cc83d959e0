"""The private arena over HTTP: JSON routes for any front end (voter token as ``Authorization: Bearer``), the
server-rendered voting page (voter token in an HttpOnly cookie, CSRF token in every form), live leaderboards,
and the tenant's invitation management (tenant API key).

A voter token opens its own set's arena routes and nothing else; nothing served before a vote names a model or
hints at the presentation order (unit ids are random).
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qs, quote

import numpy as np
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup
from pydantic import BaseModel, Field
from sqlalchemy.engine import Engine
from sqlmodel import Session

from judge.api.deps import RowId, State, Tenant, tenant_set
from judge.arena import service
from judge.arena.board import LiveRatings
from judge.arena.markdown import render_markdown
from judge.arena.throttle import Throttle
from judge.arena.tokens import csrf_ok, csrf_token, parse_duration
from judge.core.errors import (
    BudgetExceededError,
    InputError,
    JudgeError,
    NotFoundError,
    ProviderError,
    classify_failure,
)
from judge.core.types import Mode
from judge.settings import ArenaSettings, Settings
from judge.store.arena import retrying
from judge.store.engine import session_scope

COOKIE = "judge_arena"
TEMPLATES = Path(__file__).resolve().parent.parent / "arena" / "templates"
MAX_FORM_BYTES = 64 * 1024

router = APIRouter(tags=["arena"])


@dataclass
class ArenaState:
    """Shared by the arena routes of one app: settings, per-voter throttle, live boards, templates."""

    engine: Engine
    settings: ArenaSettings
    throttle: Throttle
    boards: dict[int, LiveRatings] = field(default_factory=dict)
    boards_lock: threading.Lock = field(default_factory=threading.Lock)
    sets: service.SetCache = field(default_factory=service.SetCache)
    templates: Environment = field(
        default_factory=lambda: Environment(
            loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(default=True), undefined=StrictUndefined
        )
    )

    def board(self, set_id: int) -> LiveRatings:
        with self.boards_lock:
            found = self.boards.get(set_id)
            if found is None:
                s = self.settings
                found = LiveRatings(k=s.elo_k, refit_votes=s.refit_votes, refit_s=s.refit_s, bootstrap=s.bootstrap)
                self.boards[set_id] = found
            return found


def install(app: FastAPI, engine: Engine, settings: ArenaSettings | None = None) -> None:
    """Add the arena routes and their state to ``app``."""
    settings = settings or Settings().arena
    app.state.arena = ArenaState(engine, settings, Throttle(settings.rate_per_minute, settings.burst))
    app.state.arena.templates.filters["md"] = lambda text: Markup(render_markdown(str(text)))
    app.add_exception_handler(PageProblem, _problem_page)
    app.include_router(router)


def arena_state(request: Request) -> ArenaState:
    state: ArenaState = request.app.state.arena
    return state


Arena = Annotated[ArenaState, Depends(arena_state)]


def _rng() -> np.random.Generator:
    return np.random.default_rng(secrets.randbits(64))


def _headers(nonce: str | None = None) -> dict[str, str]:
    headers = {
        "Cache-Control": "no-store",
        "Referrer-Policy": "no-referrer",
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
    }
    if nonce is not None:
        headers["Content-Security-Policy"] = (
            f"default-src 'none'; style-src 'nonce-{nonce}'; script-src 'nonce-{nonce}'; img-src 'self' data:; "
            "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
        )
    return headers


def _json(body: Any, status_code: int = 200) -> JSONResponse:
    return JSONResponse(body, status_code=status_code, headers=_headers())


def _throttled(arena: ArenaState, voter: service.Voter) -> None:
    wait = arena.throttle.retry_after(voter.id)
    if wait > 0:
        raise HTTPException(
            status_code=429,
            detail="too many requests for this voter token; slow down",
            headers={"Retry-After": str(max(1, int(wait + 0.999)))},
        )


def _voter(arena: ArenaState, token: str | None) -> service.Voter | None:
    if not token:
        return None
    with session_scope(arena.engine) as session:
        return service.authenticate_voter(session, token)


def bearer_voter(request: Request, arena: Arena) -> service.Voter:
    """The voter of ``Authorization: Bearer <voter token>``; 401 otherwise; 429 over the rate limit."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    voter = _voter(arena, token.strip() if scheme.lower() == "bearer" else None)
    if voter is None:
        raise HTTPException(
            status_code=401,
            detail="a valid voter token is required (Authorization: Bearer <token from the invitation URL>)",
            headers={"WWW-Authenticate": "Bearer"},
        )
    _throttled(arena, voter)
    return voter


BearerVoter = Annotated[service.Voter, Depends(bearer_voter)]


# --- JSON routes for front ends (voter token) ---------------------------------------------------------------


class VoteBody(BaseModel):
    unit_id: str = Field(min_length=1, max_length=100)
    choice: str = Field(description="A, B, tie or bothbad")


class SkipBody(BaseModel):
    unit_id: str = Field(min_length=1, max_length=100)


class PromptBody(BaseModel):
    prompt: str = Field(min_length=1, max_length=20_000)


@router.get("/v1/arena/next", responses={204: {"description": "no unit left for this voter"}})
def arena_next(voter: BearerVoter, arena: Arena) -> Response:
    """The voter's next unit: ``{unit_id, prompt, responses: [{label: A, text}, {label: B, text}]}`` (each
    response also has ``turns``); the same unit until it is voted on or skipped. 204 when none is left."""
    rng = _rng()
    unit = retrying(arena.engine, lambda session: service.next_unit(session, voter, rng, cache=arena.sets))
    if unit is None:
        return Response(status_code=204, headers=_headers())
    return _json(unit.to_json())


@router.post("/v1/arena/votes", status_code=201, responses={200: {"description": "already voted: the first reveal"}})
def arena_vote(body: VoteBody, voter: BearerVoter, arena: Arena) -> JSONResponse:
    """Vote on a unit you were served: 201 with the reveal (``model_a`` was shown as A, first; ``model_b`` as
    B); voting again on the same unit changes nothing and answers 200 with the same reveal."""
    reveal, created = retrying(arena.engine, lambda s: service.cast_vote(s, voter, body.unit_id, body.choice))
    return _json(reveal.to_json(), 201 if created else 200)


@router.post("/v1/arena/skip")
def arena_skip(body: SkipBody, voter: BearerVoter, arena: Arena) -> JSONResponse:
    """Skip a served unit: no vote, and it is not shown to you again."""
    retrying(arena.engine, lambda session: service.skip(session, voter, body.unit_id))
    return _json({"unit_id": body.unit_id, "skipped": True})


@router.post("/v1/arena/prompts", status_code=201)
async def arena_prompt(body: PromptBody, voter: BearerVoter, arena: Arena) -> JSONResponse:
    """Ask your own prompt (when the arena has live models): two models chosen by the pair selector answer it,
    the answers are stored as responses of the set, and the unit is served like ``/v1/arena/next``."""
    from judge.arena.live import ask

    try:
        unit = await ask(arena.engine, voter, body.prompt, _rng(), timeout_s=arena.settings.live_timeout_s)
    except BudgetExceededError as exc:
        raise HTTPException(status_code=403, detail=str(exc)) from exc
    except ProviderError as exc:
        raise HTTPException(status_code=502, detail=f"a live model failed: {classify_failure(exc)}") from exc
    return _json(unit.to_json(), 201)


@router.get("/v1/arena/leaderboard")
def arena_leaderboard_json(voter: BearerVoter, arena: Arena) -> JSONResponse:
    """The live leaderboard of the voter's arena (same as ``/arena/{set}/leaderboard.json``)."""
    return _json(live_board(arena, voter.set_id))


# --- Tenant routes: invitations and the board (tenant API key) -----------------------------------------------


class InviteBody(BaseModel):
    prompt_set_id: int = Field(ge=1, le=2**31 - 1)
    voter: str = Field(min_length=1, max_length=100)
    expires: str | None = Field(default=None, description="e.g. 7d, 12h, 30m")


def _voter_json(info: service.VoterInfo) -> dict[str, Any]:
    return {**info.model_dump(mode="json"), "status": info.status}


@router.post("/v1/arena/voters", status_code=201)
def create_invitation(body: InviteBody, request: Request, state: State, tenant: Tenant) -> dict[str, Any]:
    """Invite a voter to a set's arena: the token and invitation URL are shown once."""
    arena = arena_state(request)
    lifetime = parse_duration(body.expires) if body.expires else None
    with session_scope(state.engine) as session:
        prompt_set = tenant_set(session, body.prompt_set_id, tenant)
        invitation = service.invite(
            session, prompt_set=prompt_set, voter=body.voter, expires=lifetime, base_url=arena.settings.public_url
        )
    return invitation.model_dump(mode="json")


@router.get("/v1/arena/voters")
def list_invitations(
    state: State, tenant: Tenant, prompt_set_id: Annotated[int, Query(ge=1, le=2**31 - 1)]
) -> list[dict[str, Any]]:
    """A set's invitations (never the tokens) with status and vote counts."""
    with session_scope(state.engine) as session:
        return [_voter_json(v) for v in service.voters(session, prompt_set=tenant_set(session, prompt_set_id, tenant))]


@router.post("/v1/arena/voters/{voter_id}/revoke")
def revoke_invitation(voter_id: RowId, state: State, tenant: Tenant) -> dict[str, Any]:
    """Revoke one invitation: its token stops working at once; its votes stay."""
    from judge.store.arena import revoke_voter_id

    with session_scope(state.engine) as session:
        row = revoke_voter_id(session, voter_id=voter_id, tenant=tenant)
    return {"id": row.id, "voter": row.voter, "status": "revoked"}


@router.get("/v1/arena/sets/{set_id}/leaderboard")
def tenant_leaderboard(set_id: RowId, request: Request, state: State, tenant: Tenant) -> dict[str, Any]:
    """The live leaderboard of one of the tenant's sets."""
    with session_scope(state.engine) as session:
        tenant_set(session, set_id, tenant)
    return live_board(arena_state(request), set_id)


def live_board(arena: ArenaState, set_id: int) -> dict[str, Any]:
    """Feed the set's new votes to its live ratings and return the board (judges' agreement included)."""
    board = arena.board(set_id)
    with board.lock, session_scope(arena.engine) as session:
        board.add(service.live_votes_since(session, set_id, board.last_id))
        return board.board(time.monotonic(), lambda: _judge_votes(session, set_id))


def _judge_votes(session: Session, set_id: int) -> dict[str, Any]:
    from judge.analysis.sources import judge_votes
    from judge.store.queries import set_by_id
    from judge.store.verdicts import judge_models

    prompt_set = set_by_id(session, set_id=set_id)
    return {
        f"judge:{m}": judge_votes(session, prompt_set=prompt_set, model=m, rubric=None)
        for m in judge_models(session, set_id=set_id, mode=Mode.PAIRWISE.value)
    }


# --- The voting page (voter token in a cookie) ---------------------------------------------------------------


def _page(arena: ArenaState, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    nonce = secrets.token_urlsafe(16)
    html = arena.templates.get_template(template).render(nonce=nonce, **context)
    return HTMLResponse(html, status_code=status_code, headers=_headers(nonce))


def _problem(arena: ArenaState, status_code: int, message: str) -> HTMLResponse:
    return _page(arena, "problem.html.j2", status_code, title="Arena", message=message)


def _base(set_name: str) -> str:
    return f"/arena/{quote(set_name, safe='')}"


class PageProblem(Exception):
    """A request the arena page cannot serve: its problem page is the answer."""

    def __init__(self, response: HTMLResponse) -> None:
        super().__init__(response.status_code)
        self.response = response


async def _problem_page(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, PageProblem)
    return exc.response


def _cookie_voter(request: Request, arena: ArenaState, set_name: str) -> tuple[service.Voter, str]:
    """The voter of the request's cookie and their token; PageProblem (401, 403, 429) when there is none."""
    token = request.cookies.get(COOKIE)
    voter = _voter(arena, token)
    if voter is None or token is None:
        raise PageProblem(
            _problem(arena, 401, "This arena needs a valid invitation link (it may have expired or been revoked).")
        )
    if voter.set_name != set_name:
        raise PageProblem(_problem(arena, 403, "Your invitation is for another arena."))
    wait = arena.throttle.retry_after(voter.id)
    if wait > 0:
        page = _problem(arena, 429, "Too many requests: wait a few seconds, then reload.")
        page.headers["Retry-After"] = str(max(1, int(wait + 0.999)))
        raise PageProblem(page)
    return voter, token


async def _form(request: Request) -> dict[str, str]:
    raw = await request.body()
    if len(raw) > MAX_FORM_BYTES:
        raise InputError("form too large", field="body")
    parsed = parse_qs(raw.decode("utf-8", errors="replace"), keep_blank_values=True, max_num_fields=20)
    return {k: v[0] for k, v in parsed.items()}


def _live_enabled(arena: ArenaState, set_id: int) -> bool:
    from judge.store.arena import get_config

    with session_scope(arena.engine) as session:
        return bool(get_config(session, set_id=set_id).live_models)


@router.get("/arena/{set_name}/join", include_in_schema=False)
def join(set_name: str, request: Request, arena: Arena, token: str = "") -> Response:
    """The invitation URL: trades the token in the URL for an HttpOnly cookie, then shows the arena."""
    voter = _voter(arena, token)
    if voter is None:
        return _problem(arena, 401, "This invitation link is invalid, expired or revoked.")
    if voter.set_name != set_name:
        return _problem(arena, 403, "This invitation is for another arena.")
    response = RedirectResponse(_base(set_name), status_code=303, headers=_headers())
    response.set_cookie(
        COOKIE,
        token,
        path=_base(set_name),
        httponly=True,
        samesite="lax",
        secure=arena.settings.secure_cookies,
        max_age=400 * 86400,
    )
    return response


@router.get("/arena/{set_name}", include_in_schema=False)
def page(set_name: str, request: Request, arena: Arena) -> Response:
    """The voting page: the prompt, answers A and B, and the buttons (or: nothing left to vote on)."""
    voter, token = _cookie_voter(request, arena, set_name)
    rng = _rng()
    unit = retrying(arena.engine, lambda session: service.next_unit(session, voter, rng, cache=arena.sets))
    return _page(
        arena,
        "vote.html.j2",
        title=f"Arena · {set_name}",
        base=_base(set_name),
        unit=unit,
        csrf=csrf_token(token),
        live=_live_enabled(arena, voter.set_id),
        voter=voter.name,
    )


async def _posted_form(
    request: Request, arena: ArenaState, set_name: str, reload_hint: str
) -> tuple[service.Voter, dict[str, str]]:
    """The cookie's voter and the form the arena page posted (its CSRF token checked), or PageProblem."""
    voter, token = _cookie_voter(request, arena, set_name)
    form = await _form(request)
    if not csrf_ok(token, form.get("csrf", "")):
        raise PageProblem(_problem(arena, 403, f"This form is stale or was not sent by the arena page: {reload_hint}"))
    return voter, form


@router.post("/arena/{set_name}/vote", include_in_schema=False)
async def page_vote(set_name: str, request: Request, arena: Arena) -> Response:
    """A vote from the page's form: the reveal (the same one again on a repeated post)."""
    voter, form = await _posted_form(request, arena, set_name, "reload and vote again.")
    try:

        def vote(session: Session) -> tuple[service.Reveal, bool, service.ServedUnit]:
            reveal, created = service.cast_vote(session, voter, form.get("unit_id", ""), form.get("choice", ""))
            return reveal, created, service.show_unit(session, voter, reveal.unit_id)

        reveal, created, served = retrying(arena.engine, vote)
    except (InputError, NotFoundError) as exc:
        return _problem(arena, 422 if isinstance(exc, InputError) else 404, str(exc))
    return _page(
        arena,
        "reveal.html.j2",
        201 if created else 200,
        title=f"Arena · {set_name}",
        base=_base(set_name),
        unit=served,
        reveal=reveal,
        voter=voter.name,
    )


@router.post("/arena/{set_name}/skip", include_in_schema=False)
async def page_skip(set_name: str, request: Request, arena: Arena) -> Response:
    """Skip the shown unit and go to the next one."""
    voter, form = await _posted_form(request, arena, set_name, "reload.")
    try:
        retrying(arena.engine, lambda session: service.skip(session, voter, form.get("unit_id", "")))
    except NotFoundError as exc:
        return _problem(arena, 404, str(exc))
    return RedirectResponse(_base(set_name), status_code=303, headers=_headers())


@router.post("/arena/{set_name}/prompt", include_in_schema=False)
async def page_prompt(set_name: str, request: Request, arena: Arena) -> Response:
    """A voter's own prompt from the page: two models answer it, then the page shows them."""
    from judge.arena.live import ask

    voter, form = await _posted_form(request, arena, set_name, "reload.")
    text = form.get("prompt", "").strip()
    try:
        if not text or len(text) > 20_000:
            raise InputError("a prompt needs 1 to 20,000 characters", field="prompt")
        await ask(arena.engine, voter, text, _rng(), timeout_s=arena.settings.live_timeout_s)
    except JudgeError as exc:
        return _problem(arena, 422, f"Your prompt could not be answered: {classify_failure(exc)}")
    return RedirectResponse(_base(set_name), status_code=303, headers=_headers())


@router.get("/arena/{set_name}/leaderboard", include_in_schema=False)
def page_leaderboard(set_name: str, request: Request, arena: Arena) -> Response:
    """The live leaderboard page."""
    voter, _ = _cookie_voter(request, arena, set_name)
    return _page(
        arena,
        "leaderboard.html.j2",
        title=f"Arena leaderboard · {set_name}",
        base=_base(set_name),
        board=live_board(arena, voter.set_id),
    )


@router.get("/arena/{set_name}/leaderboard.json", include_in_schema=False)
def page_leaderboard_json(set_name: str, request: Request, arena: Arena) -> Response:
    """The live leaderboard as JSON (voter cookie)."""
    voter, _ = _cookie_voter(request, arena, set_name)
    return _json(live_board(arena, voter.set_id))


def reconfigure(app: FastAPI, settings: ArenaSettings) -> None:
    """Replace the arena settings of ``app`` (throttle and live boards start afresh)."""
    state: ArenaState = app.state.arena
    state.settings = settings
    state.throttle = Throttle(settings.rate_per_minute, settings.burst)
    state.boards.clear()
    state.sets = service.SetCache()
