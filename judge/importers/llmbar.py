"""Import gold-labelled pair sets in LLMBar's format: ``[{input, output_1, output_2, label: 1|2}]``.

Each item becomes a prompt (id = its index), two responses by the pseudo-models ``output_1`` and ``output_2``,
and one vote by the voter ``gold`` for the response the label marks as correct.
"""

from __future__ import annotations

from pathlib import Path

from judge.core.errors import InputError
from judge.core.types import Winner
from judge.importers.bundle import ImportBundle
from judge.importers.lines import read_records
from judge.importers.records import PromptRecord, ResponseRecord, VoteRecord, validate_record

GOLD_VOTER = "gold"
FIRST_OUTPUT = "output_1"
SECOND_OUTPUT = "output_2"


def read_llmbar(path: Path) -> ImportBundle:
    """Prompts, response pairs and gold votes from one LLMBar file."""
    prompts: list[PromptRecord] = []
    responses: list[ResponseRecord] = []
    votes: list[VoteRecord] = []
    for index, record in enumerate(read_records(path)):
        prompt_id = str(index)
        for field in ("input", "output_1", "output_2", "label"):
            if field not in record:
                raise InputError("Field required", location=record.location, field=field)
        label = record["label"]
        if label not in (1, 2) or isinstance(label, bool):
            raise InputError(f"expected 1 or 2, got {label!r}", location=record.location, field="label")
        prompts.append(
            validate_record(PromptRecord, {"prompt_id": prompt_id, "turns": record["input"]}, record.location)
        )
        for model, field in ((FIRST_OUTPUT, "output_1"), (SECOND_OUTPUT, "output_2")):
            responses.append(
                validate_record(
                    ResponseRecord,
                    {"prompt_id": prompt_id, "model": model, "turns": record[field]},
                    record.location,
                )
            )
        winner = Winner.MODEL_A if label == 1 else Winner.MODEL_B
        votes.append(
            validate_record(
                VoteRecord,
                {
                    "prompt_id": prompt_id,
                    "model_a": FIRST_OUTPUT,
                    "model_b": SECOND_OUTPUT,
                    "winner": winner.value,
                    "voter": GOLD_VOTER,
                },
                record.location,
            )
        )
    return ImportBundle(prompts=prompts, responses=responses, votes=votes)
