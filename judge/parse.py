"""Reading a judge's reply into a verdict (pure), and mapping it back to the pair's orientation.

Rules, in order:

1. The reply (optionally inside one Markdown code fence) is a JSON object valid against the rubric's
   schema: its ``verdict`` (or ``score``) and ``reason`` are used (``parse_rule = json_schema``).
   A JSON object that breaks the schema is unparseable when the call asked for structured output;
   otherwise the reply is treated as prose.
2. The rubric's fallback regex is applied to the reply and the **last** match whose label is valid wins
   (``regex_last``): judges often quote labels, or a response, while reasoning, and state their own
   verdict last.
3. Nothing valid: ``unparseable``, with the raw text and the reason. A verdict is never defaulted.
"""

from __future__ import annotations

import functools
import json
import math
import re
from enum import StrEnum
from typing import Any

import jsonschema

from judge.errors import InputError
from judge.keys import canonical_json
from judge.rubrics import REASON_FIELD, Position, Rubric, RubricLabel, compile_regex
from judge.types import Correctness, Frozen, Mode, Order, VerdictStatus, Winner

_CODE_FENCE = re.compile(r"^```[A-Za-z0-9_-]*\s*\n(?P<body>.*)\n\s*```$", re.DOTALL)


class ParseRule(StrEnum):
    """Which rule produced a verdict."""

    JSON_SCHEMA = "json_schema"
    REGEX_LAST = "regex_last"


class ParsedOutput(Frozen):
    """A judge's reply, read: a label (or score) when ``status`` is ok, else the reason it could not be.

    ``position``/``strength`` are set for pairwise rubrics, ``correctness`` for correctness rubrics,
    ``score`` for single rubrics. ``raw`` is always the judge's text, unchanged.
    """

    status: VerdictStatus
    raw: str
    label: str | None = None
    position: Position | None = None
    strength: int | None = None
    score: float | None = None
    correctness: Correctness | None = None
    reason: str | None = None
    parse_rule: ParseRule | None = None
    error: str | None = None


def _unparseable(text: str, error: str) -> ParsedOutput:
    return ParsedOutput(status=VerdictStatus.UNPARSEABLE, raw=text, error=error)


def _score(rubric: Rubric, value: Any) -> float | None:
    """A score within the rubric's range, given as an integer (7, "7", 7.0); None otherwise."""
    assert rubric.score_range is not None
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        if not re.fullmatch(r"\s*[+-]?[0-9]+(?:\.0+)?\s*", value):
            return None
        value = float(value)
    if not isinstance(value, int | float) or not math.isfinite(value) or value != int(value):
        return None
    low, high = rubric.score_range.low, rubric.score_range.high
    return float(value) if low <= value <= high else None


def _verdict(rubric: Rubric, value: Any, text: str, reason: str | None, rule: ParseRule) -> ParsedOutput | None:
    """The verdict ``value`` names, or None when it is not a valid label (or score) of the rubric."""
    if rubric.mode is Mode.SINGLE:
        score = _score(rubric, value)
        if score is None:
            return None
        return ParsedOutput(
            status=VerdictStatus.OK,
            raw=text,
            label=str(int(score)),
            score=score,
            reason=reason,
            parse_rule=rule,
        )
    found: RubricLabel | None = rubric.find_label(value) if isinstance(value, str) else None
    if found is None:
        return None
    return ParsedOutput(
        status=VerdictStatus.OK,
        raw=text,
        label=found.value,
        position=found.position,
        strength=found.strength,
        correctness=found.correctness,
        reason=reason,
        parse_rule=rule,
    )


def _json_object(text: str) -> dict[str, Any] | None:
    body = text.strip()
    fenced = _CODE_FENCE.match(body)
    if fenced:
        body = fenced.group("body").strip()
    if not body.startswith("{"):
        return None
    try:
        value = json.loads(body)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


@functools.lru_cache(maxsize=64)
def _validator(schema_json: str) -> jsonschema.protocols.Validator:
    """A schema validator, built once per distinct schema (building one costs more than validating)."""
    validator: jsonschema.protocols.Validator = jsonschema.Draft202012Validator(json.loads(schema_json))
    return validator


def _from_json(rubric: Rubric, text: str, obj: dict[str, Any]) -> ParsedOutput | str:
    """The verdict of a schema-valid JSON reply, or the reason it is not one."""
    error = jsonschema.exceptions.best_match(_validator(canonical_json(rubric.json_schema)).iter_errors(obj))
    if error is not None:
        where = "/".join(str(part) for part in error.absolute_path) or "object"
        return f"JSON reply does not match the rubric's schema at {where}: {error.message}"
    reason = obj.get(REASON_FIELD)
    parsed = _verdict(
        rubric,
        obj[rubric.answer_field],
        text,
        reason if isinstance(reason, str) else None,
        ParseRule.JSON_SCHEMA,
    )
    return parsed if parsed is not None else f"JSON {rubric.answer_field} is not a valid verdict of the rubric"


def _from_regex(rubric: Rubric, text: str) -> ParsedOutput | None:
    """The verdict of the last valid fallback-regex match, reading from the end of the reply."""
    matches = list(compile_regex(rubric.fallback_regex).finditer(text))
    for match in reversed(matches):
        reason = text[: match.start()].strip() or None
        parsed = _verdict(rubric, match.group("label"), text, reason, ParseRule.REGEX_LAST)
        if parsed is not None:
            return parsed
    return None


def parse_output(rubric: Rubric, text: str, structured: bool) -> ParsedOutput:
    """Read the judge's reply ``text`` under ``rubric``; ``structured``: the call asked for JSON output."""
    if not text.strip():
        return _unparseable(text, "empty reply")
    obj = _json_object(text)
    if obj is not None:
        outcome = _from_json(rubric, text, obj)
        if isinstance(outcome, ParsedOutput):
            return outcome
        if structured:
            return _unparseable(text, outcome)
    parsed = _from_regex(rubric, text)
    if parsed is not None:
        return parsed
    if rubric.mode is Mode.SINGLE and rubric.score_range is not None:
        expected = f"a whole-number score {rubric.score_range.low}..{rubric.score_range.high}"
    else:
        expected = "one of " + ", ".join(label.value for label in rubric.labels)
    return _unparseable(text, f"no valid verdict found: expected {expected} matching the rubric's format")


def to_winner(parsed: ParsedOutput, order: Order) -> Winner | None:
    """The pairwise outcome in the pair's own orientation (under Order.BA the first answer is model_b's).

    None when the reply is not an ok pairwise verdict: nothing is coerced into a winner.
    """
    if order is Order.SINGLE:
        raise InputError("to_winner needs a pairwise order (ab or ba)", field="order")
    if parsed.status is not VerdictStatus.OK or parsed.position is None:
        return None
    if parsed.position is Position.TIE:
        return Winner.TIE
    winner = Winner.MODEL_A if parsed.position is Position.FIRST else Winner.MODEL_B
    return winner.swapped() if order is Order.BA else winner


def to_correctness(parsed: ParsedOutput) -> Correctness | None:
    """The correctness grade of an ok correctness verdict; None otherwise."""
    return parsed.correctness if parsed.status is VerdictStatus.OK else None
