"""Upload bodies (a JSON object with a list, or JSON Lines) parsed into the importers' validated records.

Errors name the record as a field path: ``prompts.3: winner: ...`` for JSON, ``line 3: winner: ...`` for JSONL.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from judge.core.errors import InputError
from judge.importers.generic import prompt_from, response_from, vote_from
from judge.importers.lines import Located
from judge.importers.records import PromptRecord, ResponseRecord, VoteRecord

NDJSON_TYPES = ("application/x-ndjson", "application/jsonl", "application/x-jsonlines")


class PromptIn(BaseModel):
    """A prompt: id, user turns (or one text), optional category and reference answer turns."""

    model_config = ConfigDict(extra="allow")

    prompt_id: str | int
    turns: list[str] | str
    category: str | None = None
    reference_turns: list[str] | str | None = None
    gold: dict[str, Any] | None = Field(
        default=None, description="A gold answer {type, answer, turn?, tolerance?, choices?, variants?, ...}"
    )


class ResponseIn(BaseModel):
    """One model's answer turns (or one text) to one prompt."""

    model_config = ConfigDict(extra="allow")

    prompt_id: str | int
    model: str
    turns: list[str] | str


class VoteIn(BaseModel):
    """A pairwise preference: ``winner`` is model_a, model_b, tie or ``tie (bothbad)``."""

    model_config = ConfigDict(extra="allow")

    prompt_id: str | int
    model_a: str
    model_b: str
    winner: str
    voter: str = "anonymous"
    turn: int = 1
    category: str | None = None


class PromptSetUpload(BaseModel):
    """A new prompt set and its prompts (``name`` is unique per tenant)."""

    name: str = Field(min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=2000)
    prompts: list[PromptIn]


class ResponsesUpload(BaseModel):
    """Responses to a set's prompts."""

    responses: list[ResponseIn]


class VotesUpload(BaseModel):
    """Votes on a set's prompts; ``source`` tags them (votes are deduplicated by content and source)."""

    source: str = Field(default="api", min_length=1, max_length=100)
    votes: list[VoteIn]


def inline_schema(model: type[BaseModel]) -> dict[str, Any]:
    """``model``'s JSON schema with its ``$defs`` references inlined (for a hand-written requestBody)."""
    schema = model.model_json_schema()
    defs = schema.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                return resolve(defs[ref.removeprefix("#/$defs/")])
            return {k: resolve(v) for k, v in node.items()}
        if isinstance(node, list):
            return [resolve(v) for v in node]
        return node

    resolved: dict[str, Any] = resolve(schema)
    return resolved


def upload_body(model: type[BaseModel], what: str) -> dict[str, Any]:
    """The OpenAPI ``requestBody`` of an upload: JSON (``model``) or JSON Lines (one record per line)."""
    return {
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": inline_schema(model)},
                "application/x-ndjson": {
                    "schema": {"type": "string", "description": f"one {what} JSON object per line"}
                },
            },
        }
    }


def is_ndjson(content_type: str | None) -> bool:
    return (content_type or "").split(";")[0].strip().lower() in NDJSON_TYPES


def _json(text: str, location: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"invalid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})", location=location) from exc


def _decode(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"not valid UTF-8 (byte {exc.start})") from exc


def ndjson_records(raw: bytes) -> list[Located]:
    """Each non-blank line of a JSON Lines body as a record located ``line N``."""
    records = []
    for lineno, line in enumerate(_decode(raw).splitlines(), start=1):
        if not line.strip():
            continue
        location = f"line {lineno}"
        value = _json(line, location)
        if not isinstance(value, dict):
            raise InputError(f"expected a JSON object, got {type(value).__name__}", location=location)
        records.append(Located.at(value, location))
    return records


def json_body(raw: bytes) -> dict[str, Any]:
    """A JSON object body."""
    value = _json(_decode(raw), "body") if raw.strip() else None
    if not isinstance(value, dict):
        raise InputError("expected a JSON object")
    return value


def json_records(body: dict[str, Any], key: str) -> list[Located]:
    """The objects of ``body[key]``, located ``key.N``."""
    items = body.get(key)
    if not isinstance(items, list):
        raise InputError(f"expected a list of {key}", field=key)
    records = []
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise InputError(f"expected a JSON object, got {type(item).__name__}", location=f"{key}.{index}")
        records.append(Located.at(item, f"{key}.{index}"))
    return records


def parse_prompts(records: list[Located]) -> list[PromptRecord]:
    return [prompt_from(r) for r in records]


def parse_responses(records: list[Located]) -> list[ResponseRecord]:
    return [response_from(r) for r in records]


def parse_votes(records: list[Located]) -> list[VoteRecord]:
    votes = [vote_from(r) for r in records]
    for vote in votes:
        if vote.model_a == vote.model_b:
            raise InputError("model_a and model_b are the same model", location=vote.location, field="model_b")
    return votes


def text_param(body: dict[str, Any], key: str, default: str | None = None, max_length: int = 200) -> str | None:
    """An optional string field of a JSON body, checked."""
    value = body.get(key, default)
    if value is not None and (not isinstance(value, str) or not value.strip() or len(value) > max_length):
        raise InputError(f"expected a non-empty string of at most {max_length} characters", field=key)
    if value is not None and "\x00" in value:
        raise InputError("text may not contain a NUL byte (\\u0000)", field=key)
    return value


class GoldUpload(BaseModel):
    """Gold answers to a set's prompts (schema of ``judge import gold``)."""

    gold: list[dict[str, Any]]


class LabelsUpload(BaseModel):
    """Imported correctness labels of a set's responses, under a source name (``labels:NAME``)."""

    source: str = Field(min_length=1, max_length=100)
    labels: list[dict[str, Any]]
