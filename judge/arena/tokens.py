"""Voter tokens: random, shown once in the invitation URL, stored as SHA-256; CSRF tokens derived from them."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import timedelta

from judge.core.errors import InputError

TOKEN_PREFIX = "av_"
SHOWN_CHARS = 8
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_DURATION = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")


def new_token() -> str:
    """A fresh voter token (256 random bits)."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    """SHA-256 hex digest of a plain voter token (what the store keeps)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def csrf_token(token: str) -> str:
    """The CSRF token of a voter's forms: an HMAC keyed by the voter token, so only its holder can make it."""
    return hmac.new(token.encode("utf-8"), b"arena-csrf", hashlib.sha256).hexdigest()


def csrf_ok(token: str, submitted: str) -> bool:
    """Whether ``submitted`` is the CSRF token of ``token`` (constant-time comparison)."""
    return hmac.compare_digest(csrf_token(token), submitted)


def new_unit_id() -> str:
    """An opaque unit id: random, so it says nothing about the prompt, the models or their order."""
    return secrets.token_urlsafe(16)


def parse_duration(text: str) -> timedelta:
    """``7d``, ``12h``, ``30m``, ``90s``, ``2w`` as a timedelta; anything else is an InputError."""
    match = _DURATION.match(text)
    if match is None or int(match.group(1)) == 0:
        raise InputError(f"expected a duration like 7d, 12h or 30m, got {text!r}", field="expires")
    return timedelta(seconds=int(match.group(1)) * _UNITS[match.group(2)])
