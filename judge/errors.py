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


class StatisticsError(JudgeError):
    """A statistic is undefined for the given input (empty, disconnected, degenerate)."""


class ProviderError(JudgeError):
    """A judge model call failed."""

    def __init__(self, message: str, *, status_code: int | None = None) -> None:
        self.status_code = status_code
        super().__init__(message)


class RetryableProviderError(ProviderError):
    """Rate limit, 5xx, timeout or connection error: worth retrying after a wait.

    ``retry_after`` is the server's Retry-After in seconds, when it sent one.
    """

    def __init__(self, message: str, *, status_code: int | None = None, retry_after: float | None = None) -> None:
        self.retry_after = retry_after
        super().__init__(message, status_code=status_code)


class FatalProviderError(ProviderError):
    """Authentication, bad request, unknown model: retrying cannot help."""


class BudgetExceededError(JudgeError):
    """The run reached its --max-cost budget; no new calls are scheduled."""


class BrokerError(JudgeError):
    """The task broker (Redis, for the Celery backend) could not be reached or written."""
