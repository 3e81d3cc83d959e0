"""Reading a judge's reply into a verdict (pure), and mapping it back to the pair's orientation.

The verdict is the one the judge states in the rubric's **verdict position**. A label anywhere else in the
reply (one quoted from a response, one weighed while reasoning, one written inside a JSON ``reason``) never
decides it. Rules, in order:

1. ``json_schema``: the reply opens (after whitespace and an optional Markdown code-fence line) with a
   complete JSON object. That first object alone is read: valid against the rubric's schema, its ``verdict``
   (or ``score``) field is the verdict; labels inside its other fields never count. A pairwise verdict field
   may name the assistant ("Assistant A" is ``A``). An object that breaks the schema, or that gives the
   verdict field twice with different values, is unparseable. When the call asked for structured output,
   any text after the object is ignored (it stays in the raw output), and a reply that opens a JSON object
   and never completes it is unparseable. Without structured output, the text after the object is read as
   in rule 2 and a verdict found there must agree with the object's, else the reply is unparseable.
2. Otherwise the reply is prose, and its verdict markers ``[[X]]`` (X in the label syntax of the rubric's
   ``fallback_regex``) are read in verdict positions only:

   - the final position (``final_marker``): the reply's last line when it ends with a marker, together with
     the marker-only lines ("[[A]]", "Verdict: [[A]]") directly above it;
   - explicit verdict lines (``verdict_line``, the rule named when the reply does not end with a marker): a
     line holding only a verdict keyword (verdict, final verdict, score, grade, rating, decision, judgment)
     and a marker in the rubric's label syntax, such as "Verdict: [[A]]" or "**Final verdict:** [[A]]",
     wherever it stands ("Score: [[10]]" is no verdict line of a pairwise rubric).

   Markers inside a sentence, and lines the judge quotes (Markdown ``>`` quotes, fenced code blocks), are not
   verdict positions. Every verdict position must name the same verdict: two different labels, or a marker
   in the final position that is no valid verdict of the rubric, make the reply unparseable; the judge's
   verdict cannot be told from a quoted one, so neither is taken.
3. Nothing in a verdict position: ``unparseable``, with the raw text and the reason. A verdict is never
   defaulted.

Every verdict records the rule that fired and its span: ``raw[span_start:span_end]`` is what the verdict
was read from (the marker ``[[X]]``, or the JSON field's value, inside its quotes for a string).
"""

from __future__ import annotations

import functools
import json
import math
import re
from enum import StrEnum
from typing import Any, NamedTuple

import jsonschema

from judge.core.errors import InputError
from judge.core.hashing import canonical_json
from judge.core.rubrics import REASON_FIELD, Position, Rubric, RubricLabel, compile_regex
from judge.core.types import Correctness, Frozen, Mode, Order, VerdictStatus, Winner

_DECODER = json.JSONDecoder()
_JSON_WS = re.compile(r"[ \t\n\r]*")
# Whitespace and an optional code-fence line (```json) before a JSON reply.
_JSON_LEAD = re.compile(r"\s*(?:```[A-Za-z0-9_-]*[ \t]*\r?\n\s*)?")
# A pairwise verdict field that names the assistant: "Assistant A", "answer B".
_ASSISTANT_PREFIX = re.compile(r"(?i)^\s*(?:assistant|answer|response)\s+(?P<rest>\S.*?)\s*$")

_MARKER = r"\[\[[^\[\]\n]{0,100}\]\]"
# A marker at the end of a line: only closing emphasis, a full stop or whitespace may follow it.
_LINE_END_MARKER = re.compile(rf"(?P<marker>{_MARKER})[*_`.! \t]*$")
# What may stand before the marker on a verdict line, once emphasis is dropped and spaces are collapsed:
# nothing or a bullet, then optionally a verdict keyword ("verdict:", "my final verdict is", "score =").
_BULLET = r"(?:[-+\u2022]|\d{1,2}[.)])"
_BARE_PREFIX = re.compile(rf"{_BULLET}?")
_KEYWORD_PREFIX = re.compile(
    rf"(?:{_BULLET} )?(?:(?:my|the|our) )?(?:(?:final|overall) )?"
    r"(?:verdict|score|grade|rating|decision|judge?ment)(?: is)? ?[:=\-\u2013\u2014]?"
)
_EMPHASIS = re.compile(r"[*_`#]+")
_VERDICT_LINE_MAX = 160  # longer lines are sentences, not verdict lines
_LINE_BREAKS = "\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029"  # what str.splitlines splits on
_QUOTE_LINE = re.compile(r"^[ \t]*>")
_CODE_FENCE_LINE = re.compile(r"^[ \t]*(?:```|~~~)")


class ParseRule(StrEnum):
    """Which rule produced a verdict (stored as ``verdict.parse_rule``).

    Verdicts stored before these rules may carry ``regex_last`` (the retired "last valid label anywhere").
    """

    JSON_SCHEMA = "json_schema"
    FINAL_MARKER = "final_marker"
    VERDICT_LINE = "verdict_line"


class ParsedOutput(Frozen):
    """A judge's reply, read: a label (or score) when ``status`` is ok, else the reason it could not be.

    ``position``/``strength`` are set for pairwise rubrics, ``correctness`` for correctness rubrics,
    ``score`` for single rubrics. ``raw`` is always the judge's text, unchanged; ``raw[span_start:span_end]``
    is where the verdict was read (set with ``parse_rule`` on every ok verdict).
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
    span_start: int | None = None
    span_end: int | None = None
    error: str | None = None


class _Value(NamedTuple):
    """A valid verdict value of a rubric: its label (or score)."""

    label: RubricLabel | None
    score: float | None

    @property
    def key(self) -> str:
        return self.label.value if self.label is not None else f"{self.score:g}"


def _unparseable(text: str, error: str) -> ParsedOutput:
    return ParsedOutput(status=VerdictStatus.UNPARSEABLE, raw=text, error=error)


def _expected(rubric: Rubric) -> str:
    if rubric.mode is Mode.SINGLE and rubric.score_range is not None:
        return f"a whole-number score {rubric.score_range.low}..{rubric.score_range.high}"
    return "one of " + ", ".join(label.value for label in rubric.labels)


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


def _find_label(rubric: Rubric, text: str) -> RubricLabel | None:
    """The label ``text`` names; a pairwise label may be given as "Assistant A"."""
    found = rubric.find_label(text)
    if found is None and rubric.mode is Mode.PAIRWISE:
        named = _ASSISTANT_PREFIX.match(text)
        found = rubric.find_label(named.group("rest")) if named else None
    return found


def _value(rubric: Rubric, value: Any) -> _Value | None:
    """The verdict ``value`` names, or None when it is not a valid label (or score) of the rubric."""
    if rubric.mode is Mode.SINGLE:
        score = _score(rubric, value)
        return None if score is None else _Value(None, score)
    found = _find_label(rubric, value) if isinstance(value, str) else None
    return None if found is None else _Value(found, None)


def _ok(text: str, value: _Value, reason: str | None, rule: ParseRule, span: tuple[int, int]) -> ParsedOutput:
    label = value.label
    if label is None:
        assert value.score is not None
    return ParsedOutput(
        status=VerdictStatus.OK,
        raw=text,
        label=label.value if label is not None else str(int(value.score)),  # type: ignore[arg-type]
        position=label.position if label is not None else None,
        strength=label.strength if label is not None else None,
        score=value.score,
        correctness=label.correctness if label is not None else None,
        reason=reason,
        parse_rule=rule,
        span_start=span[0],
        span_end=span[1],
    )


# --- rule 1: the first JSON object ------------------------------------------------------------------------


@functools.lru_cache(maxsize=64)
def _validator(schema_json: str) -> jsonschema.protocols.Validator:
    """A schema validator, built once per distinct schema (building one costs more than validating)."""
    validator: jsonschema.protocols.Validator = jsonschema.Draft202012Validator(json.loads(schema_json))
    return validator


def _leading_json(text: str) -> tuple[int, int] | str | None:
    """Where the JSON object opening the reply starts and ends; a reason when it opens one it never
    completes; None when the reply does not open with ``{``."""
    start = _JSON_LEAD.match(text).end()  # type: ignore[union-attr]  # the pattern matches the empty string
    if not text.startswith("{", start):
        return None
    try:
        _, end = _DECODER.raw_decode(text, start)
    except json.JSONDecodeError as exc:
        return f"the reply opens a JSON object that is not complete ({exc.msg} at character {exc.pos})"
    except (ValueError, RecursionError) as exc:  # an integer too long to convert, nesting too deep
        return f"the reply opens a JSON object that cannot be read ({type(exc).__name__})"
    return start, end


def _members(text: str, start: int) -> list[tuple[str, int, int]]:
    """``(key, value_start, value_end)`` of each top-level member of the (valid) JSON object at ``start``."""
    members: list[tuple[str, int, int]] = []
    at = _JSON_WS.match(text, start + 1).end()  # type: ignore[union-attr]
    while text[at] == '"':
        key, at = json.decoder.scanstring(text, at + 1)  # type: ignore[attr-defined]
        at = _JSON_WS.match(text, at).end()  # type: ignore[union-attr]
        at = _JSON_WS.match(text, at + 1).end()  # type: ignore[union-attr]  # past the ':'
        _, end = _DECODER.raw_decode(text, at)
        members.append((key, at, end))
        at = _JSON_WS.match(text, end).end()  # type: ignore[union-attr]
        if text[at] == ",":
            at = _JSON_WS.match(text, at + 1).end()  # type: ignore[union-attr]
    return members


def _from_json(rubric: Rubric, text: str, start: int, end: int) -> tuple[ParsedOutput, _Value | None]:
    """The verdict of the JSON object ``text[start:end]`` (and its value), or why it is none."""
    obj: dict[str, Any] = json.loads(text[start:end])
    field = rubric.answer_field
    answers = [(s, e) for key, s, e in _members(text, start) if key == field]
    given = [json.loads(text[s:e]) for s, e in answers]
    if any(value != given[0] for value in given[1:]):
        return _unparseable(text, f"the JSON object gives {field!r} {len(answers)} times with different values"), None
    checked = dict(obj)
    if rubric.mode is not Mode.SINGLE and isinstance(obj.get(field), str):
        named = _find_label(rubric, obj[field])
        if named is not None:
            checked[field] = named.value
    error = jsonschema.exceptions.best_match(_validator(canonical_json(rubric.json_schema)).iter_errors(checked))
    if error is not None:
        where = "/".join(str(part) for part in error.absolute_path) or "object"
        return _unparseable(text, f"JSON reply does not match the rubric's schema at {where}: {error.message}"), None
    value = _value(rubric, checked[field])
    if value is None:
        return _unparseable(text, f"JSON {field} is not a valid verdict: expected {_expected(rubric)}"), None
    s, e = answers[0]
    span = (s + 1, e - 1) if text[s] == '"' else (s, e)
    reason = obj.get(REASON_FIELD)
    return _ok(text, value, reason if isinstance(reason, str) else None, ParseRule.JSON_SCHEMA, span), value


# --- rule 2: verdict markers in verdict positions ---------------------------------------------------------


class _Line(NamedTuple):
    start: int
    text: str
    quoted: bool


class _Marker(NamedTuple):
    start: int
    end: int
    text: str
    value: _Value | None  # None: not a valid verdict of the rubric


def _lines(text: str, offset: int) -> list[_Line]:
    """The non-blank lines of ``text[offset:]`` with their offsets; ``quoted``: a ``>`` quote or in a code fence."""
    lines: list[_Line] = []
    in_code = False
    at = offset
    for raw in text[offset:].splitlines(keepends=True):
        line = raw.rstrip(_LINE_BREAKS)
        fence = _CODE_FENCE_LINE.match(line) is not None
        if line.strip():
            lines.append(_Line(at, line, in_code or fence or _QUOTE_LINE.match(line) is not None))
        if fence:
            in_code = not in_code
        at += len(raw)
    return lines


def _marker(rubric: Rubric, line: _Line, match: re.Match[str]) -> _Marker:
    text = match.group("marker")
    shaped = compile_regex(rubric.fallback_regex).fullmatch(text)
    value = _value(rubric, shaped.group("label")) if shaped is not None else None
    return _Marker(line.start + match.start("marker"), line.start + match.end("marker"), text, value)


def _verdict_line(line: _Line) -> tuple[re.Match[str], bool] | None:
    """The line's marker when the line is a verdict line (an optional bullet, an optional verdict keyword and
    the marker, nothing else), with whether it names a keyword; None for any other line."""
    if len(line.text.strip()) > _VERDICT_LINE_MAX:
        return None
    ending = _ending_marker(line)
    if ending is None:
        return None
    prefix = " ".join(_EMPHASIS.sub(" ", line.text[: ending.start()]).split()).casefold()
    if _BARE_PREFIX.fullmatch(prefix):
        return ending, False
    return (ending, True) if _KEYWORD_PREFIX.fullmatch(prefix) else None


def _ending_marker(line: _Line) -> re.Match[str] | None:
    """The marker that ends the line (only closing emphasis or a full stop after it), or None."""
    last = line.text.rfind("[[")
    return _LINE_END_MARKER.match(line.text, last) if last >= 0 else None


def _label_shaped(rubric: Rubric, marker: _Marker) -> bool:
    return compile_regex(rubric.fallback_regex).fullmatch(marker.text) is not None


def _positions(rubric: Rubric, text: str, offset: int = 0) -> tuple[list[_Marker], list[_Marker]]:
    """The markers of ``text[offset:]`` in the final position (last first) and on explicit verdict lines."""
    lines = _lines(text, offset)
    final: list[_Marker] = []
    tail_from = len(lines)
    for index in range(len(lines) - 1, -1, -1):
        line = lines[index]
        if line.quoted:
            break
        whole = _verdict_line(line)
        if whole is not None:
            final.append(_marker(rubric, line, whole[0]))
            tail_from = index
            continue
        if index == len(lines) - 1:
            ending = _ending_marker(line)
            if ending is not None:
                final.append(_marker(rubric, line, ending))
                tail_from = index
        break
    explicit: list[_Marker] = []
    for line in lines[:tail_from]:
        whole = None if line.quoted else _verdict_line(line)
        if whole is not None and whole[1]:
            found = _marker(rubric, line, whole[0])
            if _label_shaped(rubric, found):  # "Score: [[10]]" is no pairwise verdict line
                explicit.append(found)
    return final, explicit


def _from_prose(rubric: Rubric, text: str) -> ParsedOutput:
    final, explicit = _positions(rubric, text)
    found = final + explicit
    if not found:
        return _unparseable(
            text,
            f"no verdict in verdict position: expected {_expected(rubric)} as a [[...]] marker ending the reply "
            "or on a 'Verdict: [[...]]' line",
        )
    invalid = [m for m in found if m.value is None]
    if invalid:
        m = invalid[0]
        return _unparseable(
            text, f"the verdict {m.text} at characters {m.start}-{m.end} is not valid: expected {_expected(rubric)}"
        )
    if len({m.value.key for m in found if m.value is not None}) > 1:
        listed = ", ".join(f"{m.text} at {m.start}-{m.end}" for m in sorted(found))
        return _unparseable(text, f"different verdicts in verdict positions, so none is taken: {listed}")
    chosen, rule = (final[0], ParseRule.FINAL_MARKER) if final else (explicit[-1], ParseRule.VERDICT_LINE)
    assert chosen.value is not None
    return _ok(text, chosen.value, text[: chosen.start].strip() or None, rule, (chosen.start, chosen.end))


def parse_output(rubric: Rubric, text: str, structured: bool) -> ParsedOutput:
    """Read the judge's reply ``text`` under ``rubric``; ``structured``: the call asked for JSON output."""
    if not text.strip():
        return _unparseable(text, "empty reply")
    leading = _leading_json(text)
    if isinstance(leading, tuple):
        parsed, value = _from_json(rubric, text, *leading)
        if structured or value is None:
            return parsed
        final, explicit = _positions(rubric, text, leading[1])
        differing = [m for m in final + explicit if m.value is None or m.value.key != value.key]
        if differing:
            m = differing[0]
            return _unparseable(
                text, f"the JSON verdict and {m.text} at characters {m.start}-{m.end} differ, so none is taken"
            )
        return parsed
    if isinstance(leading, str) and structured:
        return _unparseable(text, leading)
    return _from_prose(rubric, text)


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
