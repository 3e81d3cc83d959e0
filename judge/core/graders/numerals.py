"""Numbers in response text: integers, decimals, thousands separators, signs, fractions, LaTeX ``\\frac``,
percents and small number words, each with its span and whether it stands alone (pure).

A number that is part of an expression (``2z``, ``4.5*sqrt(2)``, ``f(2)``, a coordinate ``(3, 3)``, a multiplier
``1/2 the``) is found but marked ``standalone=False``: it is never taken as an answer value by itself.
"""

from __future__ import annotations

import math
import re
from typing import NamedTuple

NUMBER_WORDS: dict[str, int] = {
    "zero": 0,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "thirteen": 13,
    "fourteen": 14,
    "fifteen": 15,
    "sixteen": 16,
    "seventeen": 17,
    "eighteen": 18,
    "nineteen": 19,
    "twenty": 20,
}

_BODY = r"(?:\d{1,3}(?:,\d{3})+(?![\d,]\d)|\d+)(?:\.\d+)?|\.\d+"
_WORDS = "|".join(NUMBER_WORDS)

NUMBER_PATTERN = re.compile(
    rf"(?P<latex>\\[dt]?frac\s*\{{\s*(?P<ln>-?(?:{_BODY}))\s*\}}\s*\{{\s*(?P<ld>-?(?:{_BODY}))\s*\}})"
    rf"|(?P<frac>(?P<fn>{_BODY})[ \t]?/[ \t]?(?P<fd>{_BODY}))(?P<fpct>[ \t]?(?:\\?%|percent\b))?"
    rf"|(?P<num>{_BODY})(?P<pct>[ \t]?(?:\\?%|percent\b))?"
    rf"|\b(?:has|have|had)\s(?P<none>no)(?=\s+[a-z])"
    rf"|(?P<word>\b(?:{_WORDS})\b)",
    re.IGNORECASE,
)
_TUPLE = re.compile(rf"\(\s*-?(?:{_BODY})\s*(?:,\s*-?(?:{_BODY})\s*)+\)")
_ORDINAL_SUFFIX = re.compile(r"(?:st|nd|rd|th)\b", re.IGNORECASE)
_TIMES_AFTER = re.compile(r"\s*(?:[*×·^(]|[x]\s+[\d$(])")
_OPERAND_BEFORE = re.compile(r"(?:[\w)\]|.]\s*[*×·^/]|\()\s*\$?$")
_FUNCTION_BEFORE = re.compile(r"[A-Za-z]\($")
_MULTIPLIER_AFTER = re.compile(r"\s+(?:the|times)\b", re.IGNORECASE)
_ASIDE = re.compile(r"\(\s*$")
_BINARY_BEFORE = re.compile(r"[\w)|]\s*[-+−]\s*\$?$")
_BINARY_AFTER = re.compile(r"\s*[-+−]\s*[\w($|]")
_WORD_STOP_AFTER = frozenset(
    [
        "of",
        "another",
        "or",
        "and",
        "to",
        "more",
        "less",
        "than",
        "on",
        "at",
        "by",
        "in",
        "is",
        "was",
        "who",
        "that",
        "which",
        "if",
        "way",
        "for",
        "each",
        "per",
        "after",
    ]
)
_WORD_STOP_BEFORE = frozenset(
    ["no", "each", "any", "every", "which", "this", "that", "someone", "anyone", "the", "these", "those", "all", "both"]
)
_NEXT_WORD = re.compile(r"\s+([A-Za-z]+)")
_PREV_WORD = re.compile(r"([A-Za-z]+)\s+$")


class Numeral(NamedTuple):
    """One number found in a text: span, value, kind and role.

    ``kind`` is ``int``, ``decimal``, ``fraction``, ``latex_fraction``, ``percent`` or ``word``. ``role`` is
    ``value`` (can be an answer by itself), ``operand`` (a term of a symbolic expression such as ``2z``,
    ``4.5*sqrt(2)``, ``32 - 18``) or ``reference`` (a function argument ``f(2)``, a coordinate ``(3, 3)``, a
    multiplier ``1/2 the``, an aside ``(6)``): never an answer.
    """

    start: int
    end: int
    value: float
    kind: str
    role: str

    @property
    def standalone(self) -> bool:
        """Whether this number can be an answer by itself."""
        return self.role == "value"


def _to_float(text: str) -> float:
    return float(text.replace(",", ""))


def parse_number_text(text: str) -> float | None:
    """The value of a short numeric text: ``"12,000"``, ``"-3"``, ``"35/36"``, ``"\\frac{35}{36}"``, ``"19%"``
    (as 0.19), ``"three"``; ``None`` when the text is not exactly one number."""
    found = find_numerals(text.strip())
    if len(found) != 1:
        return None
    only = found[0]
    stripped = text.strip()
    if only.start != 0 or only.end != len(stripped):
        return None
    return only.value / 100.0 if only.kind == "percent" else only.value


def _sign_start(text: str, start: int) -> int:
    """Include a leading minus sign when it is a sign (not a binary minus between two terms)."""
    if start > 0 and text[start - 1] in "-−":
        before = text[start - 2] if start >= 2 else " "
        if before.isspace() or before in "(=[,:<>{$":
            return start - 1
    return start


def find_numerals(text: str) -> list[Numeral]:
    """Every number in ``text``, in order."""
    tuple_spans = [(m.start(), m.end()) for m in _TUPLE.finditer(text)]
    found: list[Numeral] = []
    for match in NUMBER_PATTERN.finditer(text):
        start, end = match.start(), match.end()
        if match["none"] is not None:
            start = match.start("none")
        if start > 0 and (text[start - 1].isalnum() or text[start - 1] in "_."):
            continue
        try:
            if match["latex"] is not None:
                denominator = _to_float(match["ld"])
                if denominator == 0:
                    continue
                value = _to_float(match["ln"]) / denominator
                kind = "latex_fraction"
            elif match["frac"] is not None:
                denominator = _to_float(match["fd"])
                if denominator == 0:
                    continue
                value = _to_float(match["fn"]) / denominator
                kind = "percent" if match["fpct"] else "fraction"
            elif match["num"] is not None:
                value = _to_float(match["num"])
                kind = "percent" if match["pct"] else ("decimal" if "." in match["num"] else "int")
            elif match["none"] is not None:
                value, kind = 0.0, "word"
            else:
                word = match["word"]
                value, kind = float(NUMBER_WORDS[word.lower()]), "word"
                if not _word_number_stands(text, start, end):
                    continue
        except ValueError:
            continue
        if not math.isfinite(value):
            continue
        if kind != "word":
            signed = _sign_start(text, start)
            if signed != start:
                value, start = -value, signed
        found.append(Numeral(start, end, value, kind, _role(text, start, end, kind, tuple_spans)))
    return found


def _role(text: str, start: int, end: int, kind: str, tuple_spans: list[tuple[int, int]]) -> str:
    after = text[end : end + 12]
    before = text[max(0, start - 12) : start]
    if (
        _FUNCTION_BEFORE.search(before)
        or any(s <= start and end <= e for s, e in tuple_spans)
        or (kind != "word" and _MULTIPLIER_AFTER.match(after))
        or (_ASIDE.search(before) and after.lstrip()[:1] == ")")
    ):
        return "reference"
    glued_letter = after[:1].isalpha() and kind in ("int", "decimal") and not _ORDINAL_SUFFIX.match(after)
    if (
        glued_letter
        or _TIMES_AFTER.match(after)
        or _OPERAND_BEFORE.search(before)
        or _BINARY_BEFORE.search(before)
        or _BINARY_AFTER.match(after)
    ):
        return "operand"
    return "value"


def _word_number_stands(text: str, start: int, end: int) -> bool:
    """A number word counts only where it reads as a count: not ``one of``, ``one-on-one``, ``each one``, nor
    ``the three points`` (a set the question already named)."""
    after = text[end : end + 40]
    if after[:1] == "-":
        return False
    previous = _PREV_WORD.search(text[max(0, start - 30) : start])
    if previous is not None and previous.group(1).lower() in _WORD_STOP_BEFORE:
        return False
    following = _NEXT_WORD.match(after)
    if following is not None:
        return following.group(1).lower() not in _WORD_STOP_AFTER
    return after[:1] in ("", ".", ",", ";", "!", "?", ")", "\n", " ", "*")
