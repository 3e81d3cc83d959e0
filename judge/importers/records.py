"""Validated import records: prompts, responses and votes, whatever file format they came from."""

from __future__ import annotations

import json
import math
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from judge.core.errors import InputError
from judge.core.types import PairVote, Winner
from judge.importers.lines import Located

WINNER_SPELLINGS: dict[str, Winner] = {
    "model_a": Winner.MODEL_A,
    "model_b": Winner.MODEL_B,
    "tie": Winner.TIE,
    "tie (bothbad)": Winner.TIE_BOTHBAD,
    "tie_bothbad": Winner.TIE_BOTHBAD,
}
"""Accepted ``winner`` values: ours, and Chatbot Arena's ``tie (bothbad)``."""


MAX_STORED_INT = 2**31 - 1
"""Integers are stored in 32-bit columns (turns, on PostgreSQL); a larger one is an input error, not a 500."""


def storable(value: Any) -> Any:
    """``value`` when the store can hold it as given; ValueError for text with a NUL byte (PostgreSQL refuses it)
    or a NaN or infinite number anywhere in it (lists, dicts, models), or an integer outside 32 bits."""
    _storable_json(value.model_dump() if isinstance(value, BaseModel) else value)
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_STORED_INT:
        raise ValueError(f"expected an integer of at most {MAX_STORED_INT:,}, got {value}")
    return value


def _storable_json(value: Any) -> None:
    """ValueError for a NUL byte in any text, or a NaN or infinite number, anywhere in ``value`` (nested
    lists and dicts too, e.g. a gold answer's fields)."""
    if isinstance(value, str) and "\x00" in value:
        raise ValueError("text may not contain a NUL byte (\\u0000)")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"expected a finite number, got {value}")
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        _storable_json(key)
        _storable_json(item)


class ImportRecord(BaseModel):
    """Base of the import records: strict types, unknown fields ignored, location kept for errors; every field
    checked :func:`storable`."""

    model_config = ConfigDict(frozen=True, extra="ignore", strict=True, populate_by_name=True)

    location: str = ""

    @field_validator("*", mode="after")
    @classmethod
    def _storable(cls, value: Any) -> Any:
        return storable(value)


def _as_turns(value: Any) -> Any:
    """A single string is one turn."""
    return [value] if isinstance(value, str) else value


def _as_id(value: Any) -> Any:
    """Prompt ids may be ints in the source (MT-Bench); they are stored as text."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


def _as_int(value: Any) -> Any:
    """CSV cells are text; ``"2"`` is the integer 2."""
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return value


class PromptRecord(ImportRecord):
    """A prompt: user turns, optional category and reference answer turns."""

    prompt_id: str = Field(min_length=1)
    category: str | None = None
    turns: list[str] = Field(min_length=1)
    reference_turns: list[str] | None = None

    _ids = field_validator("prompt_id", mode="before")(_as_id)
    _turns = field_validator("turns", "reference_turns", mode="before")(_as_turns)


class ResponseRecord(ImportRecord):
    """One model's answer turns to one prompt."""

    prompt_id: str = Field(min_length=1)
    model: str = Field(min_length=1)
    turns: list[str] = Field(min_length=1)

    _ids = field_validator("prompt_id", mode="before")(_as_id)
    _turns = field_validator("turns", mode="before")(_as_turns)


class VoteRecord(ImportRecord):
    """A pairwise preference on one prompt and turn, optionally carrying both conversations (Arena)."""

    prompt_id: str = Field(min_length=1)
    model_a: str = Field(min_length=1)
    model_b: str = Field(min_length=1)
    winner: Winner
    voter: str = "anonymous"
    turn: int = Field(default=1, ge=1)
    category: str | None = None
    tstamp: float | None = None
    prompt_turns: list[str] | None = None
    answer_a: list[str] | None = None
    answer_b: list[str] | None = None

    _ids = field_validator("prompt_id", mode="before")(_as_id)
    _turn = field_validator("turn", mode="before")(_as_int)

    def pair_vote(self) -> PairVote:
        """This vote as the analyses' PairVote (the conversations stay behind)."""
        return PairVote(
            prompt_id=self.prompt_id,
            model_a=self.model_a,
            model_b=self.model_b,
            winner=self.winner,
            voter=self.voter,
            turn=self.turn,
            category=self.category,
        )

    @field_validator("winner", mode="before")
    @classmethod
    def _winner(cls, value: Any) -> Any:
        if isinstance(value, str) and value in WINNER_SPELLINGS:
            return WINNER_SPELLINGS[value]
        allowed = ", ".join(repr(k) for k in WINNER_SPELLINGS if k != "tie_bothbad")
        raise ValueError(f"expected one of {allowed}, got {value!r}")

    @field_validator("tstamp", mode="before")
    @classmethod
    def _tstamp(cls, value: Any) -> Any:
        if isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                return value
        return value


R = TypeVar("R", bound=ImportRecord)


def validate_record(model: type[R], data: dict[str, Any], location: str) -> R:
    """Build ``model`` from ``data`` or raise an InputError naming the location and the first bad field."""
    try:
        return model.model_validate({**data, "location": location})
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or None
        message = first["msg"].removeprefix("Value error, ")
        raise InputError(message, location=location, field=field) from None


def pick_turns(record: Located, list_key: str, *text_keys: str) -> Any:
    """Turns from ``list_key`` (a list, or a JSON array written as text in a CSV cell) or one text field."""
    value = record.get(list_key)
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError:
            return value
        return parsed if isinstance(parsed, list) else value
    if value is not None:
        return value
    return pick(record, *text_keys)


def pick(record: Located, *names: str) -> Any:
    """The value of the first of ``names`` present in ``record`` (aliases across formats), else None."""
    for name in names:
        if name in record:
            return record[name]
    return None
