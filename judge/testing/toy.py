"""A toy prompt set for tests and benchmarks: two models, one clearly better, every answer marked
(and :func:`rated_bundle`: many models, answers marked for a simulated judge at known ratings).

Model ``good``'s answers contain ``MARKER-GOOD`` and ``bad``'s ``MARKER-BAD``, so the fake provider's
``prefer_marker`` behaviour can play a consistent judge. Categories alternate math (odd prompts) and writing
(even); every prompt has a reference answer; one human vote per prompt prefers ``good``, listed as model_a on odd
prompts and as model_b on even ones, so both orientations occur.
"""

from __future__ import annotations

from collections.abc import Sequence

from judge.core.types import Winner
from judge.importers.bundle import ImportBundle
from judge.importers.records import PromptRecord, ResponseRecord, VoteRecord

MODELS = ("good", "bad")


def toy_bundle(prompts: int, *, tag: str = "") -> ImportBundle:
    """``prompts`` prompts (ids ``p0``...), both models' answers and one vote each; ``tag`` varies the texts."""
    return ImportBundle(
        prompts=[
            PromptRecord(
                prompt_id=f"p{i}",
                category="math" if i % 2 else "writing",
                turns=[f"Question {tag}{i}?"],
                reference_turns=[f"Answer {i}"],
            )
            for i in range(prompts)
        ],
        responses=[
            ResponseRecord(prompt_id=f"p{i}", model=m, turns=[f"{m} says {tag}{i} MARKER-{m.upper()}"])
            for i in range(prompts)
            for m in MODELS
        ],
        votes=[
            VoteRecord(
                prompt_id=f"p{i}",
                model_a="good" if i % 2 else "bad",
                model_b="bad" if i % 2 else "good",
                winner=Winner.MODEL_A if i % 2 else Winner.MODEL_B,
                voter="expert_1",
            )
            for i in range(prompts)
        ],
    )


def rated_bundle(models: Sequence[str], prompts: int) -> ImportBundle:
    """``prompts`` prompts (ids ``p0``...) answered by every model of ``models``, no votes; each answer carries the
    marker ``[model:NAME prompt:ID]`` that the fake provider's ``bradley_terry`` behaviour reads, so a judge at
    known ratings can be simulated (each model's strength is the rating given for NAME)."""
    return ImportBundle(
        prompts=[PromptRecord(prompt_id=f"p{i}", turns=[f"Question {i}?"]) for i in range(prompts)],
        responses=[
            ResponseRecord(prompt_id=f"p{i}", model=m, turns=[f"[model:{m} prompt:p{i}] {m} answers question {i}."])
            for i in range(prompts)
            for m in models
        ],
        votes=[],
    )
