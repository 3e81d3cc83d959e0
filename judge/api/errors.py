"""judge's exceptions as HTTP answers: bad input 422 with field paths, unknown ids 404, store down 503."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from sqlalchemy.exc import SQLAlchemyError

from judge.core.errors import (
    BrokerError,
    ConflictError,
    InputError,
    NotFoundError,
    RubricError,
    StatisticsError,
    StoreError,
    classify_failure,
)
from judge.core.redaction import redact

log = logging.getLogger("judge.api")


def _path_part(part: str) -> str | int:
    return int(part) if part.isdigit() else part


def error_loc(exc: InputError, where: str) -> list[str | int]:
    """``[where, *location, *field]``: a dotted location (``prompts.3``) and field (``turns.0``) split into parts;
    CLI option names (``--pairs``) lose their dashes."""
    loc: list[str | int] = [where]
    for text in (exc.location, exc.field):
        if text:
            loc += [_path_part(p.removeprefix("--").replace("-", "_")) for p in text.split(".")]
    return loc


def validation_error(exc: ValidationError, where: str = "body") -> RequestValidationError:
    """A pydantic error raised by our own validation, as FastAPI's 422 with ``[where, ...]`` paths."""
    return RequestValidationError(
        [
            {"loc": (where, *e["loc"]), "msg": e["msg"], "type": e["type"]}
            for e in exc.errors(include_url=False, include_input=False, include_context=False)
        ]
    )


def _detail(message: str) -> dict[str, Any]:
    return {"detail": redact(message)}


async def _input_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, InputError)
    where = "query" if request.method == "GET" else "body"
    detail = [{"loc": error_loc(exc, where), "msg": redact(str(exc)), "type": "input_error"}]
    return JSONResponse({"detail": detail}, status_code=422)


async def _not_found(_request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse(_detail(str(exc)), status_code=404)


async def _conflict(_request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse(_detail(str(exc)), status_code=409)


async def _unprocessable(_request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse(_detail(str(exc)), status_code=422)


async def _unavailable(_request: Request, exc: Exception) -> JSONResponse:
    """Store, broker or database down or busy: a short classified reason; the detail goes to the server log."""
    log.error("service unavailable: %s", redact(f"{type(exc).__name__}: {exc}"))
    return JSONResponse(_detail(classify_failure(exc)), status_code=503)


async def _request_invalid(_request: Request, exc: Exception) -> JSONResponse:
    """FastAPI's 422 without the ``input`` echo: a rejected body may carry secrets (a provider key)."""
    assert isinstance(exc, RequestValidationError)
    detail = [{"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in exc.errors()]
    return JSONResponse({"detail": detail}, status_code=422)


def install_error_handlers(app: FastAPI) -> None:
    """Register the mapping from judge's exception tree to status codes."""
    app.add_exception_handler(RequestValidationError, _request_invalid)
    app.add_exception_handler(InputError, _input_error)
    app.add_exception_handler(NotFoundError, _not_found)
    app.add_exception_handler(ConflictError, _conflict)
    app.add_exception_handler(StatisticsError, _unprocessable)
    app.add_exception_handler(RubricError, _unprocessable)
    app.add_exception_handler(StoreError, _unavailable)
    app.add_exception_handler(BrokerError, _unavailable)
    app.add_exception_handler(SQLAlchemyError, _unavailable)  # e.g. SQLite locked: 503 "database busy", no SQL
