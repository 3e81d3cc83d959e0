"""What every route needs: the app's state (engine, settings, launcher) and the caller's tenant."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, cast

from fastapi import Depends, HTTPException, Path, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.engine import Engine
from sqlmodel import Session

from judge.api.throttle import AuthThrottle
from judge.runs.launcher import InProcessLauncher
from judge.settings import ApiSettings
from judge.store.api_keys import authenticate
from judge.store.engine import session_scope
from judge.store.queries import set_by_id
from judge.store.records import SetRecord

MAX_ID = 2**31 - 1
"""Row ids are 32-bit integers in the store; larger ids in a request are invalid (422), not a database error."""
RowId = Annotated[int, Path(ge=1, le=MAX_ID)]


@dataclass
class AppState:
    """Shared by every request of one app."""

    engine: Engine
    settings: ApiSettings
    launcher: InProcessLauncher
    auth_throttle: AuthThrottle = field(default_factory=AuthThrottle)


def app_state(request: Request) -> AppState:
    return cast(AppState, request.app.state.judge)


State = Annotated[AppState, Depends(app_state)]

_bearer = HTTPBearer(auto_error=False, description="`Authorization: Bearer <API key>` (`judge keys create`)")
_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="The API key, as an alternative header")


def current_tenant(
    request: Request,
    state: State,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
    header: Annotated[str | None, Security(_header)],
) -> str:
    """The tenant of the request's API key; 401 when it is missing, unknown or revoked; 429 (Retry-After) while
    the client's address has had ``auth_failures_per_minute`` failures in the last minute."""
    address = request.client.host if request.client is not None else "unknown"
    wait = state.auth_throttle.retry_after(address, state.settings.auth_failures_per_minute)
    if wait is not None:
        raise HTTPException(
            status_code=429,
            detail=f"too many failed authentications from this address; retry in {wait} s",
            headers={"Retry-After": str(wait)},
        )
    key = bearer.credentials if bearer is not None else header
    tenant = None
    if key:
        with session_scope(state.engine) as session:
            tenant = authenticate(session, key)
    if tenant is None:
        state.auth_throttle.failed(address)
        raise HTTPException(
            status_code=401,
            detail="missing or invalid API key" if key else "an API key is required",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return tenant


Tenant = Annotated[str, Depends(current_tenant)]


def tenant_set(session: Session, set_id: int, tenant: str) -> SetRecord:
    """Prompt set ``set_id`` if it belongs to ``tenant``; any other id (another tenant's too) is 404."""
    return set_by_id(session, set_id=set_id, tenant=tenant)
