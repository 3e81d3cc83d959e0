"""Read a file holding one JSON array of objects, each element located by the line it starts on.

Published evaluation files (AlpacaEval's ``annotations.json``, JudgeBench, Arena battle logs) are single,
pretty-printed JSON arrays; an error in one of them is reported as ``file:line`` of the offending element.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from judge.core.errors import InputError
from judge.importers.lines import Located, read_jsonl

_WHITESPACE = " \t\r\n"


def _skip(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in _WHITESPACE:
        pos += 1
    return pos


def read_located_array(path: Path) -> Iterator[Located]:
    """Each element of the JSON array in ``path`` as a record located ``name:line`` (the line it starts on)."""
    if not path.is_file():
        raise InputError("no such file", location=str(path))
    name = path.name
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise InputError(f"not valid UTF-8 (byte {exc.start})", location=f"{name}:{line}") from exc
    decoder = json.JSONDecoder()
    pos = _skip(text, 0)
    if pos >= len(text) or text[pos] != "[":
        raise InputError("expected a JSON array of objects", location=f"{name}:{text.count(chr(10), 0, pos) + 1}")
    pos = _skip(text, pos + 1)
    if pos < len(text) and text[pos] == "]":
        return
    line, counted = 1, 0
    while True:
        line += text.count("\n", counted, pos)
        counted = pos
        location = f"{name}:{line}"
        try:
            value, end = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            raise InputError(f"invalid JSON: {exc.msg}", location=f"{name}:{exc.lineno}") from exc
        if not isinstance(value, dict):
            raise InputError(f"expected a JSON object, got {type(value).__name__}", location=location)
        yield Located.at(value, location)
        pos = _skip(text, end)
        if pos < len(text) and text[pos] == ",":
            pos = _skip(text, pos + 1)
            continue
        if pos < len(text) and text[pos] == "]":
            if _skip(text, pos + 1) != len(text):
                raise InputError("text after the closing ]", location=f"{name}:{text.count(chr(10), 0, pos) + 1}")
            return
        raise InputError("expected , or ] between array elements", location=f"{name}:{text.count(chr(10), 0, pos) + 1}")


def read_located(path: Path) -> Iterator[Located]:
    """Records of a JSON array file (located by line) or of a JSONL file (one object per line)."""
    if path.suffix.lower() in (".jsonl", ".ndjson"):
        return read_jsonl(path)
    return read_located_array(path)
