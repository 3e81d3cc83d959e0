"""``GET /healthz``: is the database reachable, and the broker when one is configured (no key needed)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from judge.api.deps import State
from judge.core.types import Frozen
from judge.runs.backends import broker_status
from judge.store.engine import database_status

router = APIRouter(tags=["health"])
BROKER_TIMEOUT_S = 2.0


class Health(Frozen):
    """``ok`` or ``unavailable``, with the state of the database and of the broker (``not configured``, ``ok``,
    ``unreachable: <reason>``)."""

    status: Literal["ok", "unavailable"]
    database: str
    broker: str


@router.get("/healthz", response_model=Health, responses={503: {"model": Health, "description": "Something is down"}})
def healthz(state: State) -> JSONResponse:
    """200 when the database (and the broker, if configured) answer; 503 naming what is down."""
    checks = {"database": database_status(state.engine), "broker": broker_status(BROKER_TIMEOUT_S)}
    healthy = all(v in ("ok", "not configured") for v in checks.values())
    health = Health(status="ok" if healthy else "unavailable", **checks)
    return JSONResponse(health.model_dump(), status_code=200 if healthy else 503)
