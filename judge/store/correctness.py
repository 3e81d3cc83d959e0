"""Gold answers and imported correctness labels: writes (all or nothing, in the caller's transaction) and reads."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel
from sqlmodel import Session, col, select

from judge.core.errors import InputError
from judge.core.graders import GoldAnswer
from judge.core.hashing import content_hash
from judge.core.types import Correctness, Frozen
from judge.importers.gold import GoldRecord, LabelRecord
from judge.store.records import SetRecord
from judge.store.tables import CorrectnessLabel, Prompt, Response
from judge.store.tables import GoldAnswer as GoldAnswerRow

GoldKey = tuple[int, int]
"""(stored prompt id, turn)."""


class StoredGold(Frozen):
    """A stored gold answer with its content hash (part of every grader verdict key)."""

    gold: GoldAnswer
    content_hash: str


class StoredLabel(Frozen):
    """A stored imported label of one response turn."""

    label: Correctness
    note: str | None = None


class CorrectnessImportCounts(BaseModel):
    """What a gold or label import changed (0 everywhere when the same file is imported again)."""

    added: int = 0
    replaced: int = 0
    unchanged: int = 0


def gold_spec(gold: GoldAnswer) -> dict[str, object]:
    """The JSON stored for a gold answer (its hash identifies it)."""
    return gold.model_dump(mode="json")


def _prompts_by_external(session: Session, prompt_set: SetRecord) -> dict[str, Prompt]:
    return {p.external_id: p for p in session.exec(select(Prompt).where(col(Prompt.set_id) == prompt_set.id))}


def _prompt_for(prompts: dict[str, Prompt], prompt_set: SetRecord, external_id: str, location: str) -> Prompt:
    prompt = prompts.get(external_id)
    if prompt is None:
        raise InputError(
            f"unknown prompt {external_id!r} in set {prompt_set.name!r} (import the prompts first)",
            location=location,
            field="question_id",
        )
    return prompt


def write_gold(
    session: Session, *, prompt_set: SetRecord, records: Sequence[GoldRecord], replace: bool = False
) -> CorrectnessImportCounts:
    """Store gold answers; a different gold answer already stored for a prompt turn is an error unless
    ``replace``. Raises InputError (the caller rolls back) before anything is flushed."""
    prompts = _prompts_by_external(session, prompt_set)
    existing = {
        (g.prompt_id, g.turn): g
        for g in session.exec(select(GoldAnswerRow).join(Prompt).where(col(Prompt.set_id) == prompt_set.id))
    }
    counts = CorrectnessImportCounts()
    rows: list[GoldAnswerRow] = []
    for record in records:
        prompt = _prompt_for(prompts, prompt_set, record.prompt_id, record.location)
        assert prompt.id is not None
        if record.turn > len(prompt.turns):
            raise InputError(
                f"prompt {record.prompt_id!r} has {len(prompt.turns)} turn(s), no turn {record.turn}",
                location=record.location,
                field="turn",
            )
        spec = gold_spec(record.gold)
        digest = content_hash(spec)
        stored = existing.get((prompt.id, record.turn))
        if stored is None:
            rows.append(
                GoldAnswerRow(
                    prompt_id=prompt.id,
                    turn=record.turn,
                    answer_type=record.gold.type.value,
                    spec=spec,
                    content_hash=digest,
                )
            )
            counts.added += 1
        elif stored.content_hash == digest:
            counts.unchanged += 1
        elif not replace:
            raise InputError(
                f"prompt {record.prompt_id!r} turn {record.turn} already has a different gold answer "
                "(pass --replace to overwrite it)",
                location=record.location,
                field="answer",
            )
        else:
            stored.answer_type, stored.spec, stored.content_hash = record.gold.type.value, spec, digest
            rows.append(stored)
            counts.replaced += 1
    session.add_all(rows)
    session.flush()
    return counts


def load_gold(session: Session, *, set_id: int) -> dict[GoldKey, StoredGold]:
    """Every gold answer of a set, keyed (stored prompt id, turn)."""
    rows = session.exec(select(GoldAnswerRow).join(Prompt).where(col(Prompt.set_id) == set_id))
    return {
        (g.prompt_id, g.turn): StoredGold(gold=GoldAnswer.model_validate(g.spec), content_hash=g.content_hash)
        for g in rows
    }


def write_labels(
    session: Session, *, prompt_set: SetRecord, source: str, records: Sequence[LabelRecord]
) -> CorrectnessImportCounts:
    """Store imported labels under ``source``; importing the same label again changes nothing, a different
    label for the same response turn and source replaces it (a re-graded response)."""
    if not source or ":" in source:
        raise InputError(f"a label source is a plain name (no ':'), got {source!r}", field="--source")
    prompts = _prompts_by_external(session, prompt_set)
    responses = {
        (r.prompt_id, r.model): r
        for r in session.exec(select(Response).join(Prompt).where(col(Prompt.set_id) == prompt_set.id))
    }
    existing = {
        (lab.prompt_id, lab.model, lab.turn): lab
        for lab in session.exec(
            select(CorrectnessLabel).where(
                col(CorrectnessLabel.set_id) == prompt_set.id, col(CorrectnessLabel.source) == source
            )
        )
    }
    counts = CorrectnessImportCounts()
    for record in records:
        prompt = prompts.get(record.prompt_id)
        if prompt is None:
            raise InputError(
                f"unknown prompt {record.prompt_id!r} in set {prompt_set.name!r}",
                location=record.location,
                field="prompt_id",
            )
        assert prompt.id is not None
        response = responses.get((prompt.id, record.model))
        if response is None:
            raise InputError(
                f"no response of {record.model!r} to prompt {record.prompt_id!r} in set {prompt_set.name!r}",
                location=record.location,
                field="model",
            )
        if record.turn > len(response.turns):
            raise InputError(
                f"the response has {len(response.turns)} turn(s), no turn {record.turn}",
                location=record.location,
                field="turn",
            )
        stored = existing.get((prompt.id, record.model, record.turn))
        if stored is None:
            session.add(
                CorrectnessLabel(
                    set_id=prompt_set.id,
                    prompt_id=prompt.id,
                    model=record.model,
                    turn=record.turn,
                    source=source,
                    label=record.label.value,
                    note=record.note,
                )
            )
            counts.added += 1
        elif stored.label == record.label.value and stored.note == record.note:
            counts.unchanged += 1
        else:
            stored.label, stored.note = record.label.value, record.note
            session.add(stored)
            counts.replaced += 1
    session.flush()
    return counts


def load_labels(session: Session, *, prompt_set: SetRecord, source: str) -> dict[tuple[str, str, int], StoredLabel]:
    """The labels of ``source`` in a set, keyed (external prompt id, model, turn); NotFound-style InputError
    listing the sources there are when it has none."""
    rows = session.exec(
        select(CorrectnessLabel, Prompt.external_id)
        .join(Prompt, col(CorrectnessLabel.prompt_id) == col(Prompt.id))
        .where(col(CorrectnessLabel.set_id) == prompt_set.id, col(CorrectnessLabel.source) == source)
    ).all()
    if not rows:
        known = label_sources(session, set_id=prompt_set.id)
        raise InputError(
            f"no labels from source {source!r} in set {prompt_set.name!r} "
            f"(label sources: {', '.join(known) or 'none; import with `judge import labels`'})",
            field="grader",
        )
    return {
        (external_id, lab.model, lab.turn): StoredLabel(label=Correctness(lab.label), note=lab.note)
        for lab, external_id in rows
    }


def label_sources(session: Session, *, set_id: int) -> list[str]:
    """The label sources imported into a set."""
    stmt = select(CorrectnessLabel.source).where(col(CorrectnessLabel.set_id) == set_id).distinct()
    return sorted(session.exec(stmt).all())
