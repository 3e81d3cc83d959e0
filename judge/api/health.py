"""``GET /healthz``: is the database reachable, and the broker when one is configured (no key needed)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from judge.api.deps import State
from judge.settings import get_settings

router = APIRouter(tags=["health"])
BROKER_TIMEOUT_S = 2.0


def database_status(state_engine: Any) -> str:
    try:
        with state_engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # any driver or network failure means "down"
        return f"unreachable: {type(exc).__name__}"
    return "ok"


def broker_status() -> str:
    url = get_settings().broker_url
    if url is None:
        return "not configured"
    import redis

    try:
        client = redis.Redis.from_url(
            url.get_secret_value(), socket_timeout=BROKER_TIMEOUT_S, socket_connect_timeout=BROKER_TIMEOUT_S
        )
        try:
            client.ping()
        finally:
            client.close()
    except Exception as exc:  # any client or network failure means "down"
        return f"unreachable: {type(exc).__name__}"
    return "ok"


@router.get("/healthz")
def healthz(state: State) -> JSONResponse:
    """200 when the database (and the broker, if configured) answer; 503 naming what is down."""
    checks = {"database": database_status(state.engine), "broker": broker_status()}
    healthy = all(v in ("ok", "not configured") for v in checks.values())
    return JSONResponse({"status": "ok" if healthy else "unavailable", **checks}, status_code=200 if healthy else 503)
