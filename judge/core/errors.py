"""One exception tree for judge.

Every error a user can see says what was wrong and where (file:line, field).
"""

from __future__ import annotations


class JudgeError(Exception):
    """Root of every error raised by judge."""


class InputError(JudgeError):
    """Bad user input: a file, a line, a field, a CLI option.

    ``location`` is ``file:line`` (or a field path) and ``field`` the offending field, when known.
    """

    def __init__(self, message: str, *, location: str | None = None, field: str | None = None) -> None:
        self.message = message
        self.location = location
        self.field = field
        super().__init__(str(self))

    def __str__(self) -> str:
        parts = [p for p in (self.location, self.field) if p]
        prefix = ": ".join(parts)
        return f"{prefix}: {self.message}" if prefix else self.message


class RubricError(JudgeError):
    """A rubric file is invalid (bad YAML, missing field, template error)."""


class StoreError(JudgeError):
    """The verdict store could not be reached, migrated or written."""


class NotFoundError(JudgeError):
    """A referenced row (prompt set, run, model, prompt) does not exist."""


class ConflictError(JudgeError):
    """The request conflicts with the current state of what it names (e.g. cancelling a run that has ended)."""


class StatisticsError(JudgeError):
    """A statistic is undefined for the given input (empty, disconnected, degenerate)."""


class ProviderError(JudgeError):
    """A judge model call failed.

    ``reason`` is the short classified reason a tenant may see (:func:`classify_failure` of the provider's own
    exception), when the client knew it; the message holds the detail, for the server log.
    """

    def __init__(self, message: str, *, status_code: int | None = None, reason: str | None = None) -> None:
        self.status_code = status_code
        self.reason = reason
        super().__init__(message)


class RetryableProviderError(ProviderError):
    """Rate limit, 5xx, timeout or connection error: worth retrying after a wait.

    ``retry_after`` is the server's Retry-After in seconds, when it sent one.
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        retry_after: float | None = None,
        reason: str | None = None,
    ) -> None:
        self.retry_after = retry_after
        super().__init__(message, status_code=status_code, reason=reason)


class FatalProviderError(ProviderError):
    """Authentication, bad request, unknown model: retrying cannot help."""


class BudgetExceededError(JudgeError):
    """The run reached its --max-cost budget; no new calls are scheduled."""


class MissingExtraError(JudgeError):
    """A feature needs an optional part of judge that is not installed (``pip install 'judge[EXTRA]'``)."""


def require_extra(extra: str, *modules: str) -> None:
    """MissingExtraError unless every module of the extra ``extra`` (``worker``, ``api``...) can be imported."""
    import importlib

    for module in modules:
        try:
            importlib.import_module(module)
        except ImportError:
            raise MissingExtraError(
                f"this needs the {extra!r} extra ({module} is not installed): pip install 'judge[{extra}]'"
            ) from None


class BrokerError(JudgeError):
    """The task broker (Redis, for the Celery backend) could not be reached or written."""


# --- What a tenant may see of a failure --------------------------------------------------------------------------
# Exception class names (anywhere in the MRO, most specific first) of LiteLLM, the OpenAI SDK, SQLAlchemy and the
# database drivers, matched by name so that this module imports none of them.
_BY_CLASS_NAME: dict[str, str] = {
    "UnsupportedParamsError": "unsupported parameter",
    "ContextWindowExceededError": "context window exceeded",
    "ContentPolicyViolationError": "content policy",
    "RateLimitError": "provider 429",
    "Timeout": "timeout",
    "APITimeoutError": "timeout",
    "TimeoutError": "timeout",
    "APIConnectionError": "connection failed",
    "AuthenticationError": "auth failed",
    "PermissionDeniedError": "auth failed",
    "NotFoundError": "model not found",
    "BadRequestError": "bad request",
    "UnprocessableEntityError": "bad request",
    "InternalServerError": "provider 5xx",
    "ServiceUnavailableError": "provider 5xx",
    "BadGatewayError": "provider 5xx",
    "APIStatusError": "provider error",
}
_DB_MODULES = ("sqlalchemy", "sqlite3", "psycopg", "psycopg2", "asyncpg")
_DB_BUSY_HINTS = ("locked", "busy", "lock timeout", "could not obtain lock", "deadlock", "canceling statement")


def _reason_for_status(status: int) -> str:
    if status == 429:
        return "provider 429"
    if status >= 500:
        return "provider 5xx"
    if status in (401, 403):
        return "auth failed"
    if status == 404:
        return "model not found"
    if status == 408:
        return "timeout"
    if 400 <= status < 500:
        return "bad request"
    return f"provider {status}"


def _database_reason(exc: BaseException) -> str | None:
    names = [cls.__name__ for cls in type(exc).__mro__ if cls.__module__.split(".")[0] in _DB_MODULES]
    if not names:
        return None
    if "OperationalError" in names:
        text = str(exc).lower()
        return "database busy" if any(hint in text for hint in _DB_BUSY_HINTS) else "database unavailable"
    return "database error"


def classify_failure(exc: BaseException) -> str:
    """A short reason for ``exc`` that is safe to show a tenant: ``database busy``, ``provider 429``,
    ``provider 5xx``, ``timeout``, ``auth failed``, ``bad request``, ``unsupported parameter``, ...

    Never SQL, parameters, tracebacks, server paths or provider messages: log the full detail (redacted) on the
    server instead. User-input errors (:class:`InputError`, :class:`NotFoundError`) keep their message, which is
    written for the user; anything unknown is ``internal error``.
    """
    if isinstance(exc, ProviderError):
        if exc.reason:
            return exc.reason
        if exc.status_code is not None:
            return _reason_for_status(exc.status_code)
        return "provider error"
    if isinstance(exc, (InputError, NotFoundError)):
        return str(exc)
    if isinstance(exc, BudgetExceededError):
        return "budget reached"
    if isinstance(exc, BrokerError):
        return "broker unavailable"
    if isinstance(exc, RubricError):
        return "invalid rubric"
    database = _database_reason(exc)
    if database is not None:
        return database
    if isinstance(exc, StoreError):
        return "database unavailable"
    for cls in type(exc).__mro__:
        if cls.__name__ in _BY_CLASS_NAME:
            return _BY_CLASS_NAME[cls.__name__]
    status = getattr(exc, "status_code", None)
    if isinstance(status, int):
        return _reason_for_status(status)
    if type(exc).__name__ == "CancelledError":
        return "cancelled"
    return "internal error"
