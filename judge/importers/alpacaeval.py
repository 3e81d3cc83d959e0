"""Import AlpacaEval ``annotations.json`` files as published (tatsu-lab/alpaca_eval ``results/<model>/...``).

Each element ``{instruction, output_1, generator_1, output_2, generator_2, annotator, preference, dataset?}``
becomes a prompt (id ``ae-`` + a hash of the instruction, category = ``dataset``), the two outputs become
responses of ``generator_1``/``generator_2``, and the preference a vote by the annotator: 1 → generator_1
wins, 2 → generator_2 wins, 1.5 (and 0 in older files) → a draw, null → no vote. Continuous preferences of
AlpacaEval 2's weighted annotators are not votes and are rejected.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from judge.core.errors import InputError
from judge.core.hashing import content_hash
from judge.core.types import Winner
from judge.importers.bundle import ImportBundle
from judge.importers.jsonarray import read_located
from judge.importers.lines import Located
from judge.importers.records import PromptRecord, ResponseRecord, VoteRecord, validate_record

SOURCE = "alpacaeval"
DEFAULT_ANNOTATOR = "alpaca_eval"
REQUIRED = ("instruction", "output_1", "generator_1", "output_2", "generator_2", "preference")
_DRAWS = (1.5, 0.0)


def instruction_id(instruction: str, occurrence: int = 1) -> str:
    """The prompt id of an instruction: the same text gets the same id in every file (``-N`` for repeats)."""
    base = "ae-" + content_hash(instruction)[:16]
    return base if occurrence == 1 else f"{base}-{occurrence}"


def preference_winner(value: Any, location: str) -> Winner | None:
    """The vote a preference stands for; None for a null preference (dropped, as AlpacaEval drops it)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InputError(f"expected a number or null, got {value!r}", location=location, field="preference")
    number = float(value)
    if number == 1.0:
        return Winner.MODEL_A
    if number == 2.0:
        return Winner.MODEL_B
    if number in _DRAWS:
        return Winner.TIE
    raise InputError(
        f"expected 1, 2, 1.5 or 0 (draw) or null, got {value!r}: a weighted annotator's continuous "
        "preference is not a vote",
        location=location,
        field="preference",
    )


def _text(record: Located, field: str) -> str:
    value = record.get(field)
    if not isinstance(value, str) or (field.startswith("generator") and not value.strip()):
        raise InputError(f"expected text, got {type(value).__name__}", location=record.location, field=field)
    return value


class _Reader:
    """Collects one import across files, checking each record before anything is returned."""

    def __init__(self) -> None:
        self.prompts: dict[str, PromptRecord] = {}
        self.responses: dict[tuple[str, str], ResponseRecord] = {}
        self.votes: list[VoteRecord] = []

    def add(self, record: Located, occurrences: dict[str, int]) -> None:
        for field in REQUIRED:
            if field not in record:
                raise InputError("Field required", location=record.location, field=field)
        instruction = _text(record, "instruction")
        occurrences[instruction] = occurrences.get(instruction, 0) + 1
        prompt_id = instruction_id(instruction, occurrences[instruction])
        dataset = record.get("dataset")
        if dataset is not None and not isinstance(dataset, str):
            raise InputError("expected text", location=record.location, field="dataset")
        if prompt_id not in self.prompts:
            self.prompts[prompt_id] = validate_record(
                PromptRecord, {"prompt_id": prompt_id, "turns": [instruction], "category": dataset}, record.location
            )
        models = []
        for index in (1, 2):
            model = _text(record, f"generator_{index}")
            output = _text(record, f"output_{index}")
            models.append(model)
            seen = self.responses.get((prompt_id, model))
            if seen is not None and seen.turns != [output]:
                raise InputError(
                    f"{model!r} already has a different output to this instruction at {seen.location}",
                    location=record.location,
                    field=f"output_{index}",
                )
            if seen is None:
                self.responses[(prompt_id, model)] = validate_record(
                    ResponseRecord, {"prompt_id": prompt_id, "model": model, "turns": [output]}, record.location
                )
        winner = preference_winner(record.get("preference"), record.location)
        annotator = record.get("annotator", DEFAULT_ANNOTATOR)
        if not isinstance(annotator, str) or not annotator:
            raise InputError("expected text", location=record.location, field="annotator")
        if models[0] == models[1]:
            if winner is not None and not winner.is_tie:
                raise InputError(
                    f"{models[0]!r} is compared with itself", location=record.location, field="generator_2"
                )
            return
        if winner is not None:
            self.votes.append(
                validate_record(
                    VoteRecord,
                    {
                        "prompt_id": prompt_id,
                        "model_a": models[0],
                        "model_b": models[1],
                        "winner": winner.value,
                        "voter": annotator,
                        "category": dataset,
                    },
                    record.location,
                )
            )


def read_alpacaeval(paths: Sequence[Path]) -> ImportBundle:
    """Prompts, outputs and annotator votes of one or more ``annotations.json`` files, all validated."""
    if not paths:
        raise InputError("no annotations file given", field="FILE")
    reader = _Reader()
    for path in paths:
        occurrences: dict[str, int] = {}
        for record in read_located(path):
            reader.add(record, occurrences)
    return ImportBundle(
        prompts=list(reader.prompts.values()), responses=list(reader.responses.values()), votes=reader.votes
    )
