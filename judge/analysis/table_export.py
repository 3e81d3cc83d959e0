"""CSV tables that a spreadsheet opens as data, never as formulas (pure).

Every CSV the CLI or API writes goes through :func:`csv_text`, which passes each cell through :func:`safe_cell`:
a text cell that begins with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return gets a single quote in front
(the OWASP rule against CSV/formula injection), so ``=HYPERLINK(...)`` in a vote's voter name or a judge's reason
is shown as text. Numbers stay numbers: a cell whose whole text is a plain decimal number (``-0.25``, ``-3``,
``-1.5e-05``) is left alone, as it cannot evaluate anything (a formula needs an operator, a function or a
reference after the sign), and a negative rating, kappa or CI bound must stay numeric to be summed or sorted.
Lists and dicts are written as their JSON. JSON and JSON Lines exports keep the exact text and never pass here.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


def safe_cell(value: Any) -> Any:
    """``value`` as a CSV cell: None stays empty, numbers stay numbers, containers become JSON, and text that a
    spreadsheet would run as a formula gets a leading ``'``."""
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, list | tuple | dict):
        value = json.dumps(value, ensure_ascii=False, default=str)
    text = str(value)
    if text.startswith(FORMULA_PREFIXES) and not _PLAIN_NUMBER.fullmatch(text):
        return "'" + text
    return text


def csv_text(rows: Sequence[Mapping[str, Any]], columns: Iterable[str] | None = None) -> str:
    """``rows`` as CSV text with a header (the union of the rows' keys in first-seen order, or ``columns``),
    every cell (header included) neutralised by :func:`safe_cell`."""
    fields = list(columns) if columns is not None else list(dict.fromkeys(k for row in rows for k in row))
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([safe_cell(f) for f in fields])
    for row in rows:
        writer.writerow([safe_cell(row.get(f)) for f in fields])
    return buffer.getvalue()
