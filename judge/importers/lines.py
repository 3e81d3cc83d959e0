"""Read JSONL, JSON-array and CSV files record by record, with ``file:line`` locations for every error."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from judge.core.errors import InputError

MAX_LINE_BYTES = 4 * 1024 * 1024
"""A single record larger than this is rejected (a judge prompt or answer never needs 4 MiB)."""


class Located(dict[str, Any]):
    """A record (a JSON object or CSV row) that remembers where it came from (``file:line``)."""

    location: str

    @classmethod
    def at(cls, data: dict[str, Any], location: str) -> Located:
        record = cls(data)
        record.location = location
        return record


def _decode(raw: bytes, location: str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(
            f"not valid UTF-8 (byte {exc.start}: {raw[exc.start : exc.start + 1]!r})", location=location
        ) from exc


def read_jsonl(path: Path) -> Iterator[Located]:
    """Each non-blank line of a JSONL file as a JSON object."""
    name = path.name
    with path.open("rb") as handle:
        for lineno, raw in enumerate(handle, start=1):
            location = f"{name}:{lineno}"
            if len(raw) > MAX_LINE_BYTES:
                raise InputError(
                    f"line is {len(raw):,} bytes, more than the limit of {MAX_LINE_BYTES:,}",
                    location=location,
                )
            text = _decode(raw, location).strip()
            if not text:
                continue
            try:
                value = json.loads(text)
            except json.JSONDecodeError as exc:
                raise InputError(f"invalid JSON: {exc.msg} (column {exc.colno})", location=location) from exc
            yield _object_at(value, location)


def _object_at(value: Any, location: str) -> Located:
    """A parsed JSON value as the record at ``location``: an object, else InputError."""
    if not isinstance(value, dict):
        raise InputError(f"expected a JSON object, got {type(value).__name__}", location=location)
    return Located.at(value, location)


def read_json_array(path: Path) -> Iterator[Located]:
    """Each element of a file holding one JSON array of objects (LLMBar's format); location is the index."""
    location = path.name
    text = _decode(path.read_bytes(), location)
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"invalid JSON: {exc.msg}", location=f"{location}:{exc.lineno}") from exc
    if not isinstance(value, list):
        raise InputError("expected a JSON array of objects", location=location)
    for index, item in enumerate(value):
        yield _object_at(item, f"{location}[{index}]")


def read_csv(path: Path) -> Iterator[Located]:
    """Each row of a CSV file with a header line; location is the row's line number."""
    name = path.name
    text = _decode(path.read_bytes(), name)
    reader = csv.DictReader(io.StringIO(text, newline=""))
    csv.field_size_limit(MAX_LINE_BYTES)
    try:
        for row in reader:
            location = f"{name}:{reader.line_num}"
            if None in row:
                raise InputError("more fields than the header has", location=location)
            yield Located.at({k: v for k, v in row.items() if v not in ("", None)}, location)
    except csv.Error as exc:
        raise InputError(f"invalid CSV: {exc}", location=f"{name}:{reader.line_num}") from exc


def read_records(path: Path) -> Iterator[Located]:
    """Records from a ``.jsonl``/``.json``/``.csv`` file, chosen by extension."""
    if not path.is_file():
        raise InputError("no such file", location=str(path))
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson"):
        return read_jsonl(path)
    if suffix == ".csv":
        return read_csv(path)
    if suffix == ".json":
        return read_json_array(path)
    raise InputError("unknown file type: expected .jsonl, .json or .csv", location=str(path))
