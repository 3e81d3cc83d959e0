"""The FastAPI application: routers, error mapping, the body size limit, the background run launcher."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from sqlalchemy.engine import Engine

from judge.api import analysis, arena, health, runs, sets
from judge.api.deps import AppState, State, Tenant
from judge.api.errors import install_error_handlers
from judge.api.limits import BodySizeLimit, NoNulInQuery
from judge.core.redaction import install_redaction
from judge.core.rubrics import list_rubrics
from judge.core.types import Frozen, Mode
from judge.runs.launcher import ClientFactory, default_client, make_launcher
from judge.settings import ApiSettings, Settings, get_settings
from judge.store import open_store

DESCRIPTION = """Post private prompts and responses, get verdicts, ratings and audits back.

Every request but `/healthz` needs an API key (`judge keys create --tenant NAME`) as `Authorization: Bearer KEY`
or `X-API-Key: KEY`. Everything is scoped to the key's tenant: another tenant's ids answer 404.
Runs execute on the Celery workers when the server has a broker (`JUDGE_BROKER_URL`), else in the server
process."""


class RubricView(Frozen):
    """A rubric a run may use (``judge rubrics show ID`` prints it in full)."""

    id: str
    mode: Mode
    version: int
    hash: str
    description: str


def create_app(
    source: Settings | Engine | None = None,
    *,
    api_settings: ApiSettings | None = None,
    client_factory: ClientFactory = default_client,
) -> FastAPI:
    """The API over the store of ``source`` (settings: their database, created or checked; an engine: used as
    is, already migrated); ``client_factory`` makes the judge client of each run."""
    engine = source if isinstance(source, Engine) else open_store((source or get_settings()).database_url)
    settings = api_settings or Settings().api
    launcher = make_launcher(engine, client_factory)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        install_redaction()
        yield
        await launcher.shutdown()

    app = FastAPI(title="judge", version="0.1.0", description=DESCRIPTION, lifespan=lifespan)
    app.state.judge = AppState(engine=engine, settings=settings, launcher=launcher)
    install_error_handlers(app)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(NoNulInQuery)
    for module in (sets, runs, analysis, health):
        app.include_router(module.router)
    arena.install(app, engine)

    @app.get("/v1/rubrics", tags=["runs"])
    def rubrics(_state: State, _tenant: Tenant) -> list[RubricView]:
        """The rubrics a run may use: id, mode, version, content hash and description."""
        return [
            RubricView(id=r.id, mode=r.mode, version=r.version, hash=r.content_hash, description=r.description)
            for r in list_rubrics()
        ]

    return app
