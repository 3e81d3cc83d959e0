"""Deterministic content keys: canonical JSON hashed with SHA-256."""

from __future__ import annotations

import hashlib
import json
from typing import Any


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no insignificant whitespace, so equal values give equal text."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def content_hash(value: Any) -> str:
    """SHA-256 hex digest of ``value``'s canonical JSON (a str is hashed as its JSON string)."""
    return hashlib.sha256(canonical_json(value).encode("utf-8")).hexdigest()
