"""Vote sources for agreement, audits and ratings: imported human votes, a judge's verdicts, or a votes file.

A source is written ``human``, ``judge:MODEL`` or ``judge:MODEL@RUBRIC``, or a path to a votes JSONL/CSV file.
A judge's votes are its combined outcomes: both orders reconciled (agreeing → that winner, disagreeing → tie),
one vote per unit; units whose verdicts are incomplete (unparseable, error, missing order) are left out.
"""

from __future__ import annotations

import fnmatch
from collections import defaultdict
from pathlib import Path

from sqlmodel import Session

from judge.core.errors import InputError
from judge.core.graders import ACCEPTED_TYPES, grade, parse_grader
from judge.core.protocols.order_rules import OrderRule
from judge.core.protocols.pairwise import CombinedOutcome
from judge.core.types import Correctness, Frozen, Mode, PairVote, VerdictRecord, VerdictStatus
from judge.importers.generic import read_votes
from judge.metrics.audit import CorrectnessGrade
from judge.metrics.units import ResponseKey
from judge.runs.combine import Samples, StoredVerdict, combine_samples
from judge.runs.plan import PromptRow
from judge.store.correctness import load_gold, load_labels
from judge.store.queries import load_pair_votes, load_prompts
from judge.store.records import SetRecord
from judge.store.verdicts import item_of, load_catalog, set_verdicts


class Source(Frozen):
    """A parsed source specification."""

    kind: str
    model: str | None = None
    rubric: str | None = None
    path: Path | None = None

    @classmethod
    def parse(cls, text: str) -> Source:
        if text == "human":
            return cls(kind="human")
        if text.startswith("judge:"):
            model, _, rubric = text.removeprefix("judge:").partition("@")
            if not model:
                raise InputError(f"expected judge:MODEL[@RUBRIC], got {text!r}", field="source")
            return cls(kind="judge", model=model, rubric=rubric or None)
        path = Path(text)
        if not path.is_file():
            raise InputError(f"expected human, judge:MODEL[@RUBRIC] or a votes file; no file {text!r}", field="source")
        return cls(kind="file", path=path)

    def __str__(self) -> str:
        if self.kind == "judge":
            return f"judge:{self.model}" + (f"@{self.rubric}" if self.rubric else "")
        return str(self.path) if self.kind == "file" else "human"


def _prompt_index(session: Session, prompt_set: SetRecord) -> dict[int, PromptRow]:
    return load_prompts(session, set_id=prompt_set.id)


def _judge_rows(
    session: Session, prompt_set: SetRecord, model: str, rubric: str | None, mode: Mode
) -> list[VerdictRecord]:
    rows = set_verdicts(session, set_id=prompt_set.id, mode=mode.value, judge_model=model)
    rubrics = sorted({v.rubric_id for v in rows})
    if rubric is None and len(rubrics) > 1:
        raise InputError(
            f"{model} has {mode.value} verdicts under several rubrics ({', '.join(rubrics)}): "
            f"say which with judge:{model}@RUBRIC",
            field="source",
        )
    if rubric is not None:
        rows = [v for v in rows if v.rubric_id == rubric]
    if not rows:
        raise InputError(
            f"no {mode.value} verdicts by {model}"
            + (f" under rubric {rubric}" if rubric else "")
            + f" in set {prompt_set.name!r}: run `judge run` first",
            field="source",
        )
    newest: dict[tuple[int, str, str | None, int, str, int], VerdictRecord] = {}
    for v in rows:  # oldest first: the newest per key stays
        newest[(v.prompt_id, v.model_a, v.model_b, v.turn, v.order, item_of(v).sample)] = v
    return list(newest.values())


def judge_verdicts(session: Session, *, prompt_set: SetRecord, model: str, rubric: str | None) -> list[StoredVerdict]:
    """A judge's newest pairwise verdict per (unit, order, sample) in a set (sample: of a run with repeats)."""
    return [
        StoredVerdict(item=item_of(v), status=v.status, winner=v.winner)
        for v in _judge_rows(session, prompt_set, model, rubric, Mode.PAIRWISE)
    ]


UnitKey = tuple[str, str, str, int]
"""(external prompt id, model_a, model_b, turn)."""


def rule_outcomes(
    session: Session, *, prompt_set: SetRecord, model: str, rubric: str | None, rule: OrderRule = OrderRule.AGREE
) -> dict[UnitKey, list[CombinedOutcome]]:
    """Each unit's outcomes under order ``rule`` (one for agree and sum, one per usable order for separate); a run
    with repeats: each sample's orders combined, then the majority over the samples. Sorted by unit."""
    prompts = _prompt_index(session, prompt_set)
    samples: dict[UnitKey, Samples] = defaultdict(lambda: defaultdict(dict))
    for v in judge_verdicts(session, prompt_set=prompt_set, model=model, rubric=rubric):
        item = v.item
        assert item.model_b is not None
        key = (prompts[item.prompt_id].external_id, item.model_a, item.model_b, item.turn)
        samples[key][item.sample][item.order] = v.winner if v.status is VerdictStatus.OK else None
    return {key: combine_samples(by_sample, rule) for key, by_sample in sorted(samples.items())}


def judge_outcomes(
    session: Session, *, prompt_set: SetRecord, model: str, rubric: str | None
) -> dict[UnitKey, CombinedOutcome]:
    """Each unit's combined outcome (orders reconciled; several samples: their majority)."""
    outcomes = rule_outcomes(session, prompt_set=prompt_set, model=model, rubric=rubric)
    return {key: unit_outcomes[0] for key, unit_outcomes in outcomes.items()}


def judge_votes(
    session: Session, *, prompt_set: SetRecord, model: str, rubric: str | None, rule: OrderRule = OrderRule.AGREE
) -> list[PairVote]:
    """A judge's outcomes under order ``rule`` as votes; units without an outcome are left out."""
    categories = {p.external_id: p.category for p in _prompt_index(session, prompt_set).values()}
    return [
        PairVote(
            prompt_id=pid,
            model_a=a,
            model_b=b,
            winner=outcome.winner,
            voter=f"judge:{model}",
            turn=turn,
            category=categories.get(pid),
        )
        for (pid, a, b, turn), unit_outcomes in rule_outcomes(
            session, prompt_set=prompt_set, model=model, rubric=rubric, rule=rule
        ).items()
        for outcome in unit_outcomes
        if outcome.winner is not None
    ]


def load_source_votes(
    session: Session, *, source: Source, prompt_set: SetRecord | None, voters: str | None = None
) -> list[PairVote]:
    """The votes of ``source``; ``voters`` (a glob) filters human and file votes."""
    if source.kind == "file":
        assert source.path is not None
        return [
            v.pair_vote() for v in read_votes(source.path) if voters is None or fnmatch.fnmatchcase(v.voter, voters)
        ]
    if prompt_set is None:
        raise InputError(f"source {source} needs --set", field="--set")
    if source.kind == "human":
        return load_pair_votes(session, prompt_set=prompt_set, voters=voters)
    assert source.model is not None
    return judge_votes(session, prompt_set=prompt_set, model=source.model, rubric=source.rubric)


def response_texts(session: Session, *, prompt_set: SetRecord) -> dict[ResponseKey, str]:
    """Every response turn's text, keyed (external prompt id, model, turn)."""
    catalog = load_catalog(session, set_id=prompt_set.id)
    return {
        (catalog.prompts[prompt_id].external_id, model, turn): text
        for (prompt_id, model), response in catalog.responses.items()
        for turn, text in enumerate(response.turns, start=1)
    }


def prompt_texts(session: Session, *, prompt_set: SetRecord) -> dict[tuple[str, int], str]:
    """Every prompt turn's text, keyed (external prompt id, turn)."""
    return {
        (p.external_id, turn): text
        for p in _prompt_index(session, prompt_set).values()
        for turn, text in enumerate(p.turns, start=1)
    }


LABELS_PREFIX = "labels:"


def _graded_now(session: Session, prompt_set: SetRecord, grader: str) -> dict[ResponseKey, CorrectnessGrade]:
    """Every response turn with a gold answer graded now by a deterministic grader (pure, no model)."""
    spec = parse_grader(grader)
    golds = load_gold(session, set_id=prompt_set.id)
    if not golds:
        raise InputError(
            f"set {prompt_set.name!r} has no gold answers: import them with `judge import gold FILE --set "
            f"{prompt_set.name}`",
            field="grader",
        )
    catalog = load_catalog(session, set_id=prompt_set.id)
    grades: dict[ResponseKey, CorrectnessGrade] = {}
    for (prompt_id, model), response in sorted(catalog.responses.items()):
        for turn, text in enumerate(response.turns, start=1):
            stored = golds.get((prompt_id, turn))
            if stored is None or stored.gold.type not in ACCEPTED_TYPES[spec.name]:
                continue
            prompt = catalog.prompts[prompt_id]
            question = prompt.turns[turn - 1] if turn <= len(prompt.turns) else None
            result = grade(spec, text, stored.gold, prompt=question)
            grades[(catalog.prompts[prompt_id].external_id, model, turn)] = CorrectnessGrade(
                label=Correctness(result.outcome.value),
                reason=f"extracted by {result.extraction_rule}" if result.extraction_rule else "nothing answer-like",
                extracted_answer=result.extracted_answer,
                extraction_rule=result.extraction_rule,
            )
    return grades


def correctness_source_kind(grader: str) -> str:
    """``labels`` (imported labels), ``grader`` (a deterministic grader) or ``judge`` (an LLM grader's verdicts)."""
    if grader.startswith(LABELS_PREFIX):
        return "labels"
    return "grader" if grader.startswith("grader:") else "judge"


def correctness_grades(
    session: Session, *, prompt_set: SetRecord, grader: str, rubric: str | None = None
) -> dict[ResponseKey, CorrectnessGrade]:
    """Each response turn's correctness from one source, the one resolver for every ``--grader``:

    - ``labels:NAME``: the labels imported with ``judge import labels --source NAME``;
    - ``grader:NAME[@RULE]``: that deterministic grader's newest stored verdicts (``judge run --judge grader:...``),
      or, when it has none in the set, every gold-answered response graded now (the same pure function);
    - anything else (``MODEL`` or ``judge:MODEL[@RUBRIC]``): that judge model's newest ok correctness verdicts.
    """
    kind = correctness_source_kind(grader)
    if kind == "labels":
        name = grader.removeprefix(LABELS_PREFIX)
        return {
            key: CorrectnessGrade(label=stored.label, reason=stored.note or "")
            for key, stored in load_labels(session, prompt_set=prompt_set, source=name).items()
        }
    if kind == "grader":
        spec = parse_grader(grader)
        prompts = _prompt_index(session, prompt_set)
        rows = set_verdicts(session, set_id=prompt_set.id, mode=Mode.CORRECTNESS.value, judge_model=spec.id)
        if not rows:
            return _graded_now(session, prompt_set, grader)
        newest: dict[ResponseKey, VerdictRecord] = {}
        for v in rows:  # oldest first: the newest per key stays
            if v.status == VerdictStatus.OK.value and v.label is not None:
                newest[(prompts[v.prompt_id].external_id, v.model_a, v.turn)] = v
        return {
            key: CorrectnessGrade(
                label=Correctness(v.label or ""),
                reason=v.reason or "",
                extracted_answer=v.extracted_answer,
                extraction_rule=v.extraction_rule,
            )
            for key, v in newest.items()
        }
    model, _, named_rubric = grader.removeprefix("judge:").partition("@")
    prompts = _prompt_index(session, prompt_set)
    grades: dict[ResponseKey, CorrectnessGrade] = {}
    for v in _judge_rows(session, prompt_set, model, rubric or named_rubric or None, Mode.CORRECTNESS):
        if v.status == VerdictStatus.OK.value and v.label is not None:
            grades[(prompts[v.prompt_id].external_id, v.model_a, v.turn)] = CorrectnessGrade(
                label=Correctness(v.label), reason=v.reason or ""
            )
    return grades
