"""LiteLLM and the OpenAI SDK, imported on first use and configured once.

Importing LiteLLM takes seconds (it imports the OpenAI SDK and every provider's types), so the modules of
:mod:`judge.llm` import it only when a model is called or looked up: commands that never call a judge (imports,
leaderboards, ``judge --help``) never pay for it.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any


@functools.cache
def litellm() -> Any:
    """The ``litellm`` module, with its own retries, parameter dropping, message logging and chatter off."""
    import litellm as module

    module.suppress_debug_info = True
    module.drop_params = False  # a dropped response_format would be recorded as structured output
    module.num_retries = 0
    module.turn_off_message_logging = True
    for name in ("LiteLLM", "LiteLLM Router", "LiteLLM Proxy"):
        logging.getLogger(name).setLevel(logging.WARNING)
    return module


@functools.cache
def error_classes() -> dict[str, tuple[type[BaseException], ...]]:
    """LiteLLM's and the OpenAI SDK's exception classes as judge sorts them: ``fatal`` (400, 401, 403, 404, 422),
    ``retryable`` (429, timeouts, connection, 5xx), ``schema_rejection`` (what a refused ``response_format`` raises)
    and ``not_schema`` (400s that are not about the schema)."""
    import openai

    errors = litellm().exceptions
    return {
        "fatal": (
            errors.AuthenticationError,
            errors.BadRequestError,
            errors.NotFoundError,
            errors.PermissionDeniedError,
            errors.UnprocessableEntityError,
        ),
        "schema_rejection": (errors.BadRequestError, errors.UnprocessableEntityError),
        "not_schema": (errors.ContextWindowExceededError, errors.ContentPolicyViolationError),
        "retryable": (
            errors.RateLimitError,
            errors.Timeout,
            errors.APIConnectionError,
            errors.InternalServerError,
            errors.ServiceUnavailableError,
            errors.BadGatewayError,
            openai.APITimeoutError,
            openai.APIConnectionError,
        ),
    }


class _Deferred:
    """A module imported at the first read of one of its attributes (for code written against the module)."""

    def __init__(self, load: Callable[[], Any]) -> None:
        self._load = load

    def __getattr__(self, name: str) -> Any:
        return getattr(self._load(), name)


def _openai() -> Any:
    import openai

    return openai


LITELLM: Any = _Deferred(litellm)
"""``litellm`` (configured as :func:`litellm` does), imported at its first use."""
OPENAI: Any = _Deferred(_openai)
"""The ``openai`` SDK, imported at its first use."""


def preload() -> None:
    """Import and configure LiteLLM now (a worker's main process, before its pool forks)."""
    litellm()
    error_classes()
