"""Plan a run: which verdicts it needs, each with its content-addressed verdict key (pure).

A verdict key hashes everything that decides a verdict: the judge (model and, when given, its normalised
api_base: two servers answering to one model name are two judges), the rubric's content hash, the mode, the
prompt (id and content), the turn, both responses (model and content hash), the presentation order, the
sampling parameters the judge is sent (:func:`judge.llm.params.supported_sampling`) and, with ``repeats``, the
sample index (1, 2, ...; sample 0 is hashed as before). Same key, same verdict: a
rerun pays nothing; changing any of these makes a new one.
A judge without an api_base (or with one naming its provider's own endpoint) keeps the key it had before api_bases
were part of it, so stored verdicts stay reused.
A panel naming one judge twice (same model, same normalised api_base) is refused.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Iterable, Sequence

from judge.core.errors import InputError
from judge.core.hashing import content_hash
from judge.core.protocols.pairwise import pair_unit_key, plan_orders
from judge.core.rubrics import Rubric
from judge.core.types import Frozen, JudgeTask, Mode, Order
from judge.llm.endpoints import UrlError, effective_api_base, normalise_url
from judge.llm.params import supported_sampling
from judge.runs.request import JudgeSpec, RunConfig


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
    sample: int = 0
    """Which of the run's ``repeats`` samples of this (judge, unit, order) it is; 0 for a run without repeats."""

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


def normalise_api_base(api_base: str | None) -> str | None:
    """One spelling per server (:func:`judge.llm.endpoints.normalise_url`: scheme and host lower-cased, a default
    port dropped, empty path segments removed); a base that is not a plain http(s) URL is kept as written, and
    None (the provider's own endpoint) stays None."""
    if api_base is None:
        return None
    try:
        return str(normalise_url(api_base.strip()))
    except UrlError:
        return api_base.strip()


@functools.lru_cache(maxsize=1024)
def keyed_api_base(model: str, api_base: str | None) -> str | None:
    """The api_base hashed into ``model``'s verdict keys: None when there is none or when it names the provider's
    own endpoint (:func:`judge.llm.endpoints.effective_api_base`), so such judges keep their keys."""
    base = normalise_api_base(api_base)
    return None if base is None or base == effective_api_base(model, None) else base


def judge_identity(judge: JudgeSpec) -> tuple[str, str | None]:
    """What makes two judges the same judge: the model string and where its calls go (the keyed api_base)."""
    return judge.model, keyed_api_base(judge.model, judge.api_base)


def check_panel(judges: Sequence[JudgeSpec]) -> None:
    """Refuse a panel that names the same judge (model and normalised api_base) twice."""
    seen: dict[tuple[str, str | None], int] = {}
    for index, judge in enumerate(judges):
        identity = judge_identity(judge)
        if identity in seen:
            where = f" at {identity[1]}" if identity[1] else ""
            raise InputError(
                f"judge {identity[0]}{where} is named twice in the panel (judges {seen[identity] + 1} and "
                f"{index + 1}); one judge votes once",
                field=f"judges.{index}",
            )
        seen[identity] = index


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
    sample: int = 0,
) -> str:
    """The content-addressed identity of one verdict (``api_base`` only hashed when the judge has one, ``sample``
    only when it is not 0: a run's first sample keeps the key a run without repeats gives, so caches survive)."""
    api_base = keyed_api_base(judge.model, judge.api_base)
    return content_hash(
        {
            "judge": judge.model,
            **({"api_base": api_base} if api_base is not None else {}),
            "rubric": rubric_hash,
            "mode": rubric.mode.value,
            "prompt": [prompt.id, content_hash([prompt.turns, prompt.reference_turns])],
            "turn": turn,
            "a": [a.model, a.content_hash],
            "b": [b.model, b.content_hash] if b else None,
            "order": order.value,
            "sampling": supported_sampling(judge.model, config.sampling).recorded(),  # what is sent (and dropped)
            "reask": config.reask,
            **({"sample": sample} if sample else {}),
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
    """Every verdict ``config`` needs under ``rubric``, for every judge; InputError when a judge is named twice."""
    check_panel(config.judges)
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
                    for sample in range(config.repeats):
                        key = verdict_key(rubric, rubric_hash, judge, prompt, unit.turn, a, b, order, config, sample)
                        items.append(
                            WorkItem(
                                verdict_key=key,
                                judge=judge,
                                prompt_id=unit.prompt_id,
                                turn=unit.turn,
                                model_a=model_a,
                                model_b=model_b,
                                order=order,
                                sample=sample,
                            )
                        )
    return Plan(items=tuple(items), n_units=len(planned_units), skipped=skipped)
