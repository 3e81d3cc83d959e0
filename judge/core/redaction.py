"""Secret redaction for every log record judge's process emits.

Provider API keys live only in the environment (LiteLLM reads them there); this module makes sure they never
reach a log line, whoever logs them: values of environment variables whose names end with
``_API_KEY``, ``_TOKEN``, ``_SECRET``, ``_PASSWORD`` or ``_KEY``, anything shaped like an ``sk-...`` key,
``Bearer`` tokens, judge's own ``jk_...`` API keys, passwords in URLs and key/token query parameters are
replaced by ``***``.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping

REDACTED = "***"
SECRET_ENV_SUFFIXES = ("_API_KEY", "_TOKEN", "_SECRET", "_PASSWORD", "_KEY")
# Environment values shorter than this are not treated as secrets (too likely to match ordinary text).
MIN_SECRET_LENGTH = 6
_PATTERNS = (
    (re.compile(r"\bsk-[A-Za-z0-9_\-]{6,}"), "sk-" + REDACTED),
    (re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9_\-\.=:/+]{6,}"), r"\1 " + REDACTED),
    (re.compile(r"(://[^/\s:@]*:)[^@\s/]+@"), r"\1" + REDACTED + "@"),
    (re.compile(r"\bjk_[A-Za-z0-9_\-]{8,}"), "jk_" + REDACTED),  # judge's own API keys
    (re.compile(r"(?i)([?&](?:api[_-]?key|key|token|access_token|secret|password)=)[^&\s\"]+"), r"\1" + REDACTED),
)
LOGGER_NAMES = ("LiteLLM", "LiteLLM Router", "LiteLLM Proxy", "httpx", "httpcore", "openai", "judge")


def secret_values(environ: Mapping[str, str] | None = None) -> list[str]:
    """Values of secret-named environment variables, longest first (so no secret is half-replaced)."""
    env = os.environ if environ is None else environ
    values = {v for k, v in env.items() if k.upper().endswith(SECRET_ENV_SUFFIXES) and len(v) >= MIN_SECRET_LENGTH}
    return sorted(values, key=len, reverse=True)


def redact(text: str, environ: Mapping[str, str] | None = None) -> str:
    """``text`` with every secret replaced by ``***``."""
    for value in secret_values(environ):
        text = text.replace(value, REDACTED)
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def _redacted_arg(value: object) -> object:
    """A log argument with secrets redacted: numbers and None as they are (``%d`` still formats), strings
    redacted, any other object kept when neither its str nor its repr holds a secret, else its redacted str."""
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, str):
        return redact(value)
    text, shown = str(value), repr(value)
    return value if redact(text) == text and redact(shown) == shown else redact(text)


def _blanked_arg(value: object) -> object:
    return value if value is None or isinstance(value, (bool, int, float)) else REDACTED


def _redact_args(record: logging.LogRecord) -> None:
    """Redact the template and each argument, keeping ``record.args`` in shape: formatters such as uvicorn's
    access log unpack them. When a secret only shows once the arguments are in the template (``"Bearer %s"``),
    every non-numeric argument is blanked; a record whose arguments do not format is flattened to its text."""
    msg, args = record.msg, record.args
    if isinstance(args, Mapping):
        record.args = {k: _redacted_arg(v) for k, v in args.items()}
    elif isinstance(args, tuple):
        record.args = tuple(_redacted_arg(v) for v in args)
    if isinstance(record.msg, str):
        record.msg = redact(record.msg)
    try:
        message = record.getMessage()
        if redact(message) != message and record.args:
            if isinstance(record.args, Mapping):
                record.args = {k: _blanked_arg(v) for k, v in record.args.items()}
            else:
                record.args = tuple(_blanked_arg(v) for v in record.args)
            message = record.getMessage()
        if redact(message) != message:
            raise ValueError("a secret survives in the formatted message")
    except (TypeError, ValueError, KeyError):
        try:
            text = str(msg) % args if args else str(msg)
        except (TypeError, ValueError, KeyError):
            text = f"{msg!s} {args!r}"
        record.msg = redact(text)
        record.args = None


class RedactionFilter(logging.Filter):
    """Rewrites a record's message, arguments, exception text and stack text with secrets redacted; never
    drops it. The arguments keep their shape (uvicorn's access formatter unpacks them)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "_judge_redacted", False):
            return True
        _redact_args(record)
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        setattr(record, "_judge_redacted", True)  # noqa: B010
        return True


_FILTER = RedactionFilter()
_installed_factory = False


def install_redaction() -> RedactionFilter:
    """Redact every log record: a record factory for all loggers, plus the filter on the root's handlers and
    on the LiteLLM, HTTP and judge loggers. Idempotent; call it again after adding handlers."""
    global _installed_factory
    if not _installed_factory:
        previous = logging.getLogRecordFactory()

        def factory(*args: object, **kwargs: object) -> logging.LogRecord:
            record = previous(*args, **kwargs)
            _FILTER.filter(record)
            return record

        logging.setLogRecordFactory(factory)
        _installed_factory = True
    targets: list[logging.Filterer] = [logging.getLogger()]
    targets += logging.getLogger().handlers
    for name in LOGGER_NAMES:
        logger = logging.getLogger(name)
        targets += [logger, *logger.handlers]
    for target in targets:
        if _FILTER not in target.filters:
            target.addFilter(_FILTER)
    return _FILTER
