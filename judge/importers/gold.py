"""Gold answers and correctness labels from JSONL or CSV, validated line by line (nothing is written here).

Gold answers (schema of ``data/mt_bench/gold_answers.jsonl``)::

    {"question_id": 111, "turn": 1, "type": "number", "answer": 3, "tolerance": 0.001, "explanation": "..."}

``question_id`` (or ``prompt_id``) is the prompt's external id in the set, ``turn`` defaults to 1 and
``category`` is informative only; every other field belongs to the gold answer (:class:`judge.core.graders.GoldAnswer`).
In a CSV, list fields (``answer`` of ``all_of``, ``choices``, ``variants``) are JSON arrays in their cells.

Correctness labels::

    {"prompt_id": "111", "model": "gpt-4", "turn": 1, "label": "incorrect", "note": "says 0"}

``label`` is one of ``correct``, ``partially_correct``, ``incorrect``, ``no_answer``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError, field_validator

from judge.core.errors import InputError
from judge.core.graders import KNOWN_ANSWER_TYPES, GoldAnswer
from judge.core.types import Correctness
from judge.importers.lines import Located, read_records
from judge.importers.records import ImportRecord, _as_id, _as_int, pick, validate_record

_NOT_GOLD_FIELDS = ("question_id", "prompt_id", "turn", "category")
_LIST_FIELDS = ("choices", "variants")
_BOOL_TEXT = {"true": True, "false": False, "1": True, "0": False, "yes": True, "no": False}


class GoldRecord(ImportRecord):
    """A gold answer for one prompt turn, with where it was read."""

    prompt_id: str = Field(min_length=1)
    turn: int = Field(default=1, ge=1)
    gold: GoldAnswer

    _ids = field_validator("prompt_id", mode="before")(_as_id)
    _turn = field_validator("turn", mode="before")(_as_int)


class LabelRecord(ImportRecord):
    """An imported correctness label of one response turn."""

    prompt_id: str = Field(min_length=1)
    model: str = Field(min_length=1)
    turn: int = Field(default=1, ge=1)
    label: Correctness
    note: str | None = None

    _ids = field_validator("prompt_id", mode="before")(_as_id)
    _turn = field_validator("turn", mode="before")(_as_int)

    @field_validator("label", mode="before")
    @classmethod
    def _label(cls, value: Any) -> Any:
        known = [c.value for c in Correctness]
        if isinstance(value, str) and value.strip().lower() in known:
            return Correctness(value.strip().lower())
        raise ValueError(f"expected one of {', '.join(known)}, got {value!r}")


def _json_list(value: Any) -> Any:
    """A JSON array written as text (a CSV cell) is a list; anything else is unchanged."""
    if isinstance(value, str) and value.lstrip().startswith("["):
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError:
            return value
        return parsed
    return value


def _csv_number(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return float(value) if any(c in value for c in ".eE") else int(value)
        except ValueError:
            return value
    return value


def _gold_fields(record: Located) -> dict[str, Any]:
    """The gold answer's own fields of a record, with CSV text cells read as the types they stand for."""
    data = {k: v for k, v in record.items() if k not in _NOT_GOLD_FIELDS}
    for name in _LIST_FIELDS:
        if name in data:
            data[name] = _json_list(data[name])
    if "answer" in data:
        data["answer"] = _json_list(data["answer"])
        if data.get("type") == "number":
            data["answer"] = _csv_number(data["answer"])
    if isinstance(data.get("tolerance"), str):
        data["tolerance"] = _csv_number(data["tolerance"])
    for name in ("accept_percent", "accept_fraction"):
        value = data.get(name)
        if isinstance(value, str) and value.strip().lower() in _BOOL_TEXT:
            data[name] = _BOOL_TEXT[value.strip().lower()]
    return data


def gold_from(record: Located) -> GoldRecord:
    """A GoldRecord from one raw record; an unknown answer type is refused with the list of known ones."""
    answer_type = record.get("type")
    if answer_type is None:
        raise InputError(
            f"missing answer type (one of {', '.join(KNOWN_ANSWER_TYPES)})", location=record.location, field="type"
        )
    if answer_type not in KNOWN_ANSWER_TYPES:
        raise InputError(
            f"unknown answer type {answer_type!r}; known types: {', '.join(KNOWN_ANSWER_TYPES)}",
            location=record.location,
            field="type",
        )
    try:
        gold = GoldAnswer.model_validate(_gold_fields(record))
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or None
        raise InputError(first["msg"].removeprefix("Value error, "), location=record.location, field=field) from None
    data = {"prompt_id": pick(record, "question_id", "prompt_id"), "turn": record.get("turn"), "gold": gold}
    return validate_record(GoldRecord, {k: v for k, v in data.items() if v is not None}, record.location)


def label_from(record: Located) -> LabelRecord:
    """A LabelRecord from one raw record."""
    data = {
        "prompt_id": pick(record, "prompt_id", "question_id"),
        "model": pick(record, "model", "model_id"),
        "turn": record.get("turn"),
        "label": record.get("label"),
        "note": record.get("note"),
    }
    return validate_record(LabelRecord, {k: v for k, v in data.items() if v is not None}, record.location)


def _check_unique(records: list[Any], key_fields: tuple[str, ...], field: str) -> None:
    seen: dict[tuple[Any, ...], str] = {}
    for record in records:
        key = tuple(getattr(record, name) for name in key_fields)
        if key in seen:
            raise InputError(f"duplicate of {seen[key]}", location=record.location, field=field)
        seen[key] = record.location


def read_gold(path: Path) -> list[GoldRecord]:
    """Every gold answer of a JSONL/CSV file, validated; the first bad line raises."""
    records = [gold_from(r) for r in read_records(path)]
    _check_unique(records, ("prompt_id", "turn"), "question_id")
    return records


def read_labels(path: Path) -> list[LabelRecord]:
    """Every correctness label of a JSONL/CSV file, validated; the first bad line raises."""
    records = [label_from(r) for r in read_records(path)]
    _check_unique(records, ("prompt_id", "model", "turn"), "model")
    return records


def gold_of_prompt(record: Located) -> GoldRecord | None:
    """The gold answer a prompt record carries in its ``gold`` field (an object; ``turn`` defaults to 1), if any."""
    gold = record.get("gold")
    if gold is None:
        return None
    location = f"{record.location}.gold"
    if not isinstance(gold, dict):
        raise InputError("expected a gold answer object {type, answer, ...}", location=location)
    prompt_id = pick(record, "prompt_id", "question_id", "id")
    return gold_from(Located.at({**gold, "prompt_id": prompt_id}, location))
