"""Import JudgeBench pairs (ScalerLab/JudgeBench ``data/*.jsonl``, or its ``outputs/*.jsonl`` with judgments).

Each line ``{pair_id, original_id, source, question, response_model, response_A, response_B, label}`` becomes a
prompt (id = ``pair_id``, category = ``source``), two responses by the pseudo-models ``response_A`` and
``response_B``, and one vote by the voter ``gold`` for the response the label (``A>B`` or ``B>A``) marks as
correct — the shape :mod:`judge.importers.llmbar` gives a gold set, so ``judge agreement --gold`` reads it.
"""

from __future__ import annotations

from pathlib import Path

from judge.core.errors import InputError
from judge.core.types import Winner
from judge.importers.bundle import ImportBundle
from judge.importers.jsonarray import read_located
from judge.importers.llmbar import GOLD_VOTER
from judge.importers.records import PromptRecord, ResponseRecord, VoteRecord, validate_record

FIRST = "response_A"
SECOND = "response_B"
REQUIRED = ("pair_id", "source", "question", "response_A", "response_B", "label")
LABELS = {"A>B": Winner.MODEL_A, "B>A": Winner.MODEL_B}


def read_judgebench(path: Path) -> ImportBundle:
    """Prompts, response pairs and gold votes of one JudgeBench file, all validated."""
    prompts: list[PromptRecord] = []
    responses: list[ResponseRecord] = []
    votes: list[VoteRecord] = []
    seen: dict[str, str] = {}
    for record in read_located(path):
        for field in REQUIRED:
            if field not in record:
                raise InputError("Field required", location=record.location, field=field)
        pair_id = record["pair_id"]
        if not isinstance(pair_id, str) or not pair_id:
            raise InputError("expected text", location=record.location, field="pair_id")
        if pair_id in seen:
            raise InputError(f"duplicate of {seen[pair_id]}", location=record.location, field="pair_id")
        seen[pair_id] = record.location
        label = record["label"]
        if label not in LABELS:
            raise InputError(f"expected 'A>B' or 'B>A', got {label!r}", location=record.location, field="label")
        source = record["source"]
        if not isinstance(source, str) or not source:
            raise InputError("expected text", location=record.location, field="source")
        prompts.append(
            validate_record(
                PromptRecord,
                {"prompt_id": pair_id, "turns": record["question"], "category": source},
                record.location,
            )
        )
        for model in (FIRST, SECOND):
            responses.append(
                validate_record(
                    ResponseRecord, {"prompt_id": pair_id, "model": model, "turns": record[model]}, record.location
                )
            )
        votes.append(
            validate_record(
                VoteRecord,
                {
                    "prompt_id": pair_id,
                    "model_a": FIRST,
                    "model_b": SECOND,
                    "winner": LABELS[label].value,
                    "voter": GOLD_VOTER,
                    "category": source,
                },
                record.location,
            )
        )
    if not prompts:
        raise InputError("no pairs in the file", location=path.name)
    return ImportBundle(prompts=prompts, responses=responses, votes=votes)
