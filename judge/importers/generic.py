"""Generic importers: prompts, responses and votes from JSONL or CSV, with the field names of common formats.

Accepted aliases: ``prompt_id`` or ``question_id`` (or ``id`` for prompts); ``model`` or ``model_id``;
``turns`` or a single ``prompt``/``response`` text; MT-Bench's ``choices[0].turns``; ``voter`` or ``judge``;
Chatbot Arena battles' ``conversation_a``/``conversation_b`` (user and assistant messages).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from judge.core.errors import InputError
from judge.importers.lines import Located, read_records
from judge.importers.records import (
    PromptRecord,
    ResponseRecord,
    VoteRecord,
    pick,
    pick_turns,
    validate_record,
)


def _mtbench_choice_turns(record: Located) -> Any:
    choices = record.get("choices")
    if isinstance(choices, list) and choices and isinstance(choices[0], dict):
        return choices[0].get("turns")
    return choices


def _conversation_parts(value: Any, location: str, field: str) -> tuple[list[str], list[str]]:
    """(user turns, assistant turns) of an OpenAI-style message list."""
    if not isinstance(value, list):
        raise InputError("expected a list of {role, content} messages", location=location, field=field)
    users: list[str] = []
    assistants: list[str] = []
    for index, message in enumerate(value):
        if not isinstance(message, dict) or not isinstance(message.get("content"), str):
            raise InputError("expected {role, content} with text content", location=location, field=f"{field}.{index}")
        role = message.get("role")
        if role == "user":
            users.append(message["content"])
        elif role == "assistant":
            assistants.append(message["content"])
        else:
            raise InputError(f"unknown role {role!r}", location=location, field=f"{field}.{index}.role")
    return users, assistants


def prompt_from(record: Located) -> PromptRecord:
    """A PromptRecord from one raw record."""
    data = {
        "prompt_id": pick(record, "prompt_id", "question_id", "id"),
        "category": pick(record, "category"),
        "turns": pick_turns(record, "turns", "prompt", "question"),
        "reference_turns": pick_turns(record, "reference_turns", "reference", "reference_answer"),
    }
    return validate_record(PromptRecord, {k: v for k, v in data.items() if v is not None}, record.location)


def response_from(record: Located) -> ResponseRecord:
    """A ResponseRecord from one raw record."""
    turns = pick_turns(record, "turns", "response", "answer")
    if turns is None and "choices" in record:
        turns = _mtbench_choice_turns(record)
    data = {
        "prompt_id": pick(record, "prompt_id", "question_id"),
        "model": pick(record, "model", "model_id"),
        "turns": turns,
    }
    return validate_record(ResponseRecord, {k: v for k, v in data.items() if v is not None}, record.location)


def vote_from(record: Located) -> VoteRecord:
    """A VoteRecord from one raw record (our schema, MT-Bench human judgments or Arena battles)."""
    data: dict[str, Any] = {
        "prompt_id": pick(record, "prompt_id", "question_id"),
        "model_a": pick(record, "model_a"),
        "model_b": pick(record, "model_b"),
        "winner": pick(record, "winner"),
        "voter": pick(record, "voter", "judge"),
        "turn": pick(record, "turn"),
        "category": pick(record, "category"),
        "tstamp": pick(record, "tstamp"),
    }
    if "conversation_a" in record or "conversation_b" in record:
        users_a, data["answer_a"] = _conversation_parts(record.get("conversation_a"), record.location, "conversation_a")
        users_b, data["answer_b"] = _conversation_parts(record.get("conversation_b"), record.location, "conversation_b")
        if users_a != users_b:
            raise InputError(
                "the two conversations have different user turns",
                location=record.location,
                field="conversation_b",
            )
        data["prompt_turns"] = users_a
    return validate_record(VoteRecord, {k: v for k, v in data.items() if v is not None}, record.location)


def read_prompts(path: Path) -> list[PromptRecord]:
    """Every prompt of a JSONL/CSV file, validated; the first bad line raises."""
    return _unique([prompt_from(r) for r in read_records(path)], lambda p: (p.prompt_id,), "prompt_id")


def read_responses(path: Path) -> list[ResponseRecord]:
    """Every response of a JSONL/CSV file, validated; the first bad line raises."""
    return _unique([response_from(r) for r in read_records(path)], lambda r: (r.prompt_id, r.model), "model")


def read_votes(path: Path) -> list[VoteRecord]:
    """Every vote of a JSONL/CSV file, validated; the first bad line raises."""
    votes = [vote_from(r) for r in read_records(path)]
    for vote in votes:
        if vote.model_a == vote.model_b:
            raise InputError("model_a and model_b are the same model", location=vote.location, field="model_b")
    return votes


RecordT = TypeVar("RecordT", PromptRecord, ResponseRecord)


def _unique(records: list[RecordT], key: Callable[[RecordT], tuple[str, ...]], field: str) -> list[RecordT]:
    """``records`` unchanged, or an error at the second record with an already seen key."""
    seen: dict[tuple[str, ...], str] = {}
    for record in records:
        k = key(record)
        if k in seen:
            raise InputError(f"duplicate of {seen[k]}", location=record.location, field=field)
        seen[k] = record.location
    return records
