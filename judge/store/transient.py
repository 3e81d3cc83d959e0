"""Which database errors are worth waiting out (locked, busy, deadlock, connection lost), and the short reason a
user is told instead of the driver's message (which carries SQL and parameters)."""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from judge.core.errors import classify_failure


def is_transient(exc: BaseException) -> bool:
    """True for errors a retry may cure: SQLite ``database is locked``, PostgreSQL deadlocks, serialization
    failures, lost or refused connections, an exhausted connection pool."""
    if isinstance(exc, (OperationalError, InterfaceError, PoolTimeoutError)):
        return True
    return isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)


def db_reason(exc: BaseException) -> str:
    """A short, classified reason for a database error (``database busy``, ``database unavailable``,
    ``database error``: :func:`judge.core.errors.classify_failure`); never the statement or its parameters."""
    return classify_failure(exc)
