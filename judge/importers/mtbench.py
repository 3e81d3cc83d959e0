"""Import an MT-Bench directory (FastChat's ``llm_judge/data/mt_bench`` layout).

Expected layout::

    question.jsonl                      {"question_id", "category", "turns"}
    reference_answer/gpt-4.jsonl        or reference_answer_gpt-4.jsonl: {"question_id", "choices": [{"turns"}]}
    model_answer/<model>.jsonl          {"question_id", "model_id", "choices": [{"turns"}]}
    human_judgments*.jsonl              optional: {"question_id", "judge", "model_a", "model_b", "winner", "turn"?}
"""

from __future__ import annotations

from pathlib import Path

from judge.core.errors import InputError
from judge.importers.bundle import ImportBundle
from judge.importers.generic import read_prompts, read_responses, read_votes
from judge.importers.lines import read_jsonl
from judge.importers.records import VoteRecord, pick

PREFERRED_REFERENCE_MODEL = "gpt-4"


def _reference_files(directory: Path) -> list[Path]:
    nested = sorted((directory / "reference_answer").glob("*.jsonl"))
    flat = sorted(directory.glob("reference_answer*.jsonl"))
    return nested + flat


def pick_reference_file(directory: Path) -> Path | None:
    """The reference answer file: GPT-4's if present (FastChat's convention), else the only one."""
    files = _reference_files(directory)
    if not files:
        return None
    preferred = [f for f in files if f.stem.endswith(PREFERRED_REFERENCE_MODEL)]
    if preferred:
        return preferred[0]
    if len(files) == 1:
        return files[0]
    names = ", ".join(f.name for f in files)
    raise InputError(f"several reference answer files ({names}); keep one", location=str(directory))


def read_references(path: Path) -> dict[str, list[str]]:
    """Reference answer turns by prompt id."""
    references: dict[str, list[str]] = {}
    for record in read_jsonl(path):
        prompt_id = pick(record, "question_id", "prompt_id")
        choices = record.get("choices")
        if prompt_id is None:
            raise InputError("Field required", location=record.location, field="question_id")
        if not (isinstance(choices, list) and choices and isinstance(choices[0], dict)):
            raise InputError("expected a list of {turns}", location=record.location, field="choices")
        turns = choices[0].get("turns")
        if not (isinstance(turns, list) and all(isinstance(t, str) for t in turns)):
            raise InputError("expected a list of strings", location=record.location, field="choices.0.turns")
        references[str(prompt_id)] = turns
    return references


def read_mtbench(directory: Path, votes_file: Path | None = None) -> ImportBundle:
    """Prompts (with references), every model's answers and the human votes of an MT-Bench directory."""
    if not directory.is_dir():
        raise InputError("not a directory", location=str(directory))
    question_file = directory / "question.jsonl"
    if not question_file.is_file():
        raise InputError("question.jsonl not found", location=str(directory))
    prompts = read_prompts(question_file)
    reference_file = pick_reference_file(directory)
    if reference_file is not None:
        references = read_references(reference_file)
        prompts = [
            p.model_copy(update={"reference_turns": references.get(p.prompt_id, p.reference_turns)}) for p in prompts
        ]
    answer_files = sorted((directory / "model_answer").glob("*.jsonl"))
    if not answer_files:
        raise InputError("model_answer/*.jsonl not found", location=str(directory))
    responses = [r for f in answer_files for r in read_responses(f)]
    vote_files = [votes_file] if votes_file else sorted(directory.glob("human_judgments*.jsonl"))
    categories = {p.prompt_id: p.category for p in prompts}
    votes = [_with_category(v, categories) for f in vote_files for v in read_votes(f)]
    return ImportBundle(prompts=prompts, responses=responses, votes=votes)


def _with_category(vote: VoteRecord, categories: dict[str, str | None]) -> VoteRecord:
    if vote.category is not None:
        return vote
    return vote.model_copy(update={"category": categories.get(vote.prompt_id)})
