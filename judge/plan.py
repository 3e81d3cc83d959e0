"""Plan a run: which verdicts it needs, each with its content-addressed verdict key (pure).

A verdict key hashes everything that decides a verdict: the judge model, the rubric's content hash, the mode,
the prompt (id and content), the turn, both responses (model and content hash), the presentation order and the
sampling parameters. Same key, same verdict: a rerun pays nothing; changing any of these makes a new one.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence

from judge.keys import content_hash
from judge.protocols.pairwise import pair_unit_key, plan_orders
from judge.rubrics import Rubric
from judge.run_config import JudgeSpec, RunConfig
from judge.types import Frozen, JudgeTask, Mode, Order


class PromptRow(Frozen):
    """A stored prompt, as the planner and executor need it."""

    id: int
    external_id: str
    category: str | None = None
    turns: tuple[str, ...]
    reference_turns: tuple[str, ...] | None = None


class ResponseRow(Frozen):
    """A stored response, as the planner and executor need it."""

    prompt_id: int
    model: str
    turns: tuple[str, ...]
    content_hash: str


class VotedUnit(Frozen):
    """A (prompt, pair, turn) that carries at least one vote."""

    prompt_id: int
    model_a: str
    model_b: str
    turn: int


class WorkItem(Frozen):
    """One verdict a run needs: one judge, one unit, one presentation order."""

    verdict_key: str
    judge: JudgeSpec
    prompt_id: int
    turn: int
    model_a: str
    model_b: str | None = None
    order: Order

    def unit(self) -> tuple[int, str, str | None, int]:
        """The unit this verdict is about, whatever the judge and order."""
        return (self.prompt_id, self.model_a, self.model_b, self.turn)


class Plan(Frozen):
    """The verdicts a run needs, and what could not be planned (with the reason)."""

    items: tuple[WorkItem, ...]
    n_units: int
    skipped: dict[str, int]


class Catalog:
    """The prompts and responses of a set, indexed for planning and for building judge tasks."""

    def __init__(self, prompts: Iterable[PromptRow], responses: Iterable[ResponseRow]) -> None:
        self.prompts = {p.id: p for p in prompts}
        self.responses = {(r.prompt_id, r.model): r for r in responses}
        self.models = sorted({r.model for r in self.responses.values()})

    def task(self, mode: Mode, prompt_id: int, turn: int, model_a: str, model_b: str | None) -> JudgeTask:
        """The JudgeTask for one unit (the executor's input)."""
        prompt = self.prompts[prompt_id]
        answer_b = self.responses[(prompt_id, model_b)].turns if model_b else None
        return JudgeTask(
            mode=mode,
            prompt_id=prompt.external_id,
            turn=turn,
            category=prompt.category,
            question_turns=prompt.turns,
            reference_turns=prompt.reference_turns,
            model_a=model_a,
            answer_a=self.responses[(prompt_id, model_a)].turns,
            model_b=model_b,
            answer_b=answer_b,
        )


def verdict_key(
    rubric: Rubric,
    rubric_hash: str,
    judge: JudgeSpec,
    prompt: PromptRow,
    turn: int,
    a: ResponseRow,
    b: ResponseRow | None,
    order: Order,
    config: RunConfig,
) -> str:
    """The content-addressed identity of one verdict."""
    return content_hash(
        {
            "judge": judge.model,
            "rubric": rubric_hash,
            "mode": rubric.mode.value,
            "prompt": [prompt.id, content_hash([prompt.turns, prompt.reference_turns])],
            "turn": turn,
            "a": [a.model, a.content_hash],
            "b": [b.model, b.content_hash] if b else None,
            "order": order.value,
            "sampling": config.sampling.recorded(),
            "reask": config.reask,
        }
    )


def _pair_units(config: RunConfig, catalog: Catalog, voted: Sequence[VotedUnit]) -> list[VotedUnit]:
    selection = config.pair_selection
    allowed = set(config.models) if config.models else set(catalog.models)
    if selection.kind == "human-voted":
        units = {
            VotedUnit(
                prompt_id=u.prompt_id, model_a=min(u.model_a, u.model_b), model_b=max(u.model_a, u.model_b), turn=u.turn
            )
            for u in voted
        }
        return sorted(
            (u for u in units if {u.model_a, u.model_b} <= allowed),
            key=lambda u: (u.prompt_id, u.model_a, u.model_b, u.turn),
        )
    models = sorted(allowed)
    if selection.kind == "baseline":
        assert selection.baseline is not None
        pairs = [(selection.baseline, m) for m in models if m != selection.baseline]
    else:
        pairs = list(itertools.combinations(models, 2))
    return [
        VotedUnit(prompt_id=p, model_a=a, model_b=b, turn=t)
        for p in sorted(catalog.prompts)
        for a, b in pairs
        for t in config.turns
    ]


def _spread(units: list[VotedUnit], limit: int | None) -> list[VotedUnit]:
    """The first ``limit`` units in a fixed hash order, so a small limit still spans prompts and models."""
    if limit is None or limit >= len(units):
        return units
    ordered = sorted(units, key=lambda u: content_hash([u.prompt_id, u.model_a, u.model_b, u.turn]))
    return sorted(ordered[:limit], key=lambda u: (u.prompt_id, u.model_a, u.model_b, u.turn))


def plan_run(rubric: Rubric, config: RunConfig, catalog: Catalog, voted: Sequence[VotedUnit]) -> Plan:
    """Every verdict ``config`` needs under ``rubric``, for every judge."""
    skipped: dict[str, int] = {}

    def skip(reason: str) -> None:
        skipped[reason] = skipped.get(reason, 0) + 1

    needs_reference = rubric.requires_reference or rubric.mode is Mode.CORRECTNESS
    rubric_hash = rubric.content_hash
    judgeable = []
    for unit in _pair_units(config, catalog, voted):
        prompt = catalog.prompts[unit.prompt_id]
        if unit.turn > len(prompt.turns):
            skip(f"prompt has no turn {unit.turn}")
        elif needs_reference and (prompt.reference_turns is None or len(prompt.reference_turns) < unit.turn):
            skip("no reference answer for the turn")
        else:
            judgeable.append(unit)
    items: list[WorkItem] = []
    planned_units: set[tuple[int, str, str | None, int]] = set()
    for unit in _spread(judgeable, config.limit):
        prompt = catalog.prompts[unit.prompt_id]
        if rubric.mode is Mode.PAIRWISE:
            targets: list[tuple[str, str | None]] = [(unit.model_a, unit.model_b)]
        else:
            targets = [(unit.model_a, None), (unit.model_b, None)]
        for model_a, model_b in targets:
            if (unit.prompt_id, model_a, model_b, unit.turn) in planned_units:
                continue
            a = catalog.responses.get((unit.prompt_id, model_a))
            b = catalog.responses.get((unit.prompt_id, model_b)) if model_b else None
            if a is None or (model_b is not None and b is None):
                skip("missing response")
                continue
            if len(a.turns) < unit.turn or (b is not None and len(b.turns) < unit.turn):
                skip(f"response has no turn {unit.turn}")
                continue
            planned_units.add((unit.prompt_id, model_a, model_b, unit.turn))
            if model_b is None:
                orders = [Order.SINGLE]
            else:
                orders = plan_orders(
                    config.order, config.seed, pair_unit_key(prompt.external_id, model_a, model_b, unit.turn)
                )
            for judge in config.judges:
                for order in orders:
                    key = verdict_key(rubric, rubric_hash, judge, prompt, unit.turn, a, b, order, config)
                    items.append(
                        WorkItem(
                            verdict_key=key,
                            judge=judge,
                            prompt_id=unit.prompt_id,
                            turn=unit.turn,
                            model_a=model_a,
                            model_b=model_b,
                            order=order,
                        )
                    )
    return Plan(items=tuple(items), n_units=len(planned_units), skipped=skipped)
