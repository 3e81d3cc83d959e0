"""Markdown style features of one response: length, headers, list items, bold spans.

The one definition of style in judge (the audit and style-controlled ratings both use it). Length is in tokens:
runs of word characters and single punctuation marks (``Hello, world!`` is 4). Headers, list items and bold
spans are counted outside fenced code blocks (```` ``` ```` or ``~~~``), so code comments and bullet-like code
lines do not count as style.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from judge.core.types import Frozen

STYLE_FEATURES: tuple[str, ...] = ("length", "headers", "list_items", "bold")

_TOKEN = re.compile(r"\w+|[^\w\s]")
_FENCE = re.compile(r"^\s*(```|~~~)")
_HEADER = re.compile(r"^\s{0,3}#{1,6}\s+\S")
_LIST_ITEM = re.compile(r"^\s*(?:[-*+]|\d{1,3}[.)])\s+\S")
_BOLD = re.compile(r"\*\*(?=\S)(.+?)(?<=\S)\*\*|__(?=\S)(.+?)(?<=\S)__")


class StyleFeatures(Frozen):
    """Counts of the style features of one response text."""

    length: int
    headers: int
    list_items: int
    bold: int

    def value(self, feature: str) -> int:
        """The count of one feature named in :data:`STYLE_FEATURES`."""
        counts: dict[str, Any] = self.model_dump()
        return int(counts[feature])


StyleFunction = Callable[[str], StyleFeatures]


def _prose_lines(text: str) -> list[str]:
    lines: list[str] = []
    in_code = False
    for line in text.splitlines():
        if _FENCE.match(line):
            in_code = not in_code
        elif not in_code:
            lines.append(line)
    return lines


def style_features(text: str) -> StyleFeatures:
    """Style feature counts of one response (see module docstring)."""
    lines = _prose_lines(text)
    return StyleFeatures(
        length=len(_TOKEN.findall(text)),
        headers=sum(bool(_HEADER.match(line)) for line in lines),
        list_items=sum(bool(_LIST_ITEM.match(line)) for line in lines),
        bold=sum(len(_BOLD.findall(line)) for line in lines),
    )
