"""Adaptive judging (``--until-ci`` / ``--until-separated``): judge in waves, refit, stop models that are done.

The run's planned items (the full sweep: every prompt, every pair of its plan) are judged a wave at a time. The
prompts are put in one random order, seeded by the run's ``prompt_seed`` (recorded in its request); wave ``w`` is
the next ``wave_size`` prompts of that order, and asks for every planned verdict (each judge, order and sample) of
each of their units that involves a model still being judged (with ``--pairs baseline:MODEL``: the unit's model;
with ``--pairs all``: either model). After each wave Bradley-Terry is refitted on every complete unit judged so
far (orders combined by the ``agree`` rule, a panel by majority) and :func:`judge.ratings.adaptive.stopping_decisions`
says which models stop. The run ends when no model is left, when the prompts run out (the models left are
``exhausted``), or when the next wave would take it past ``--max-cost`` (the models left stop for ``budget``).

:class:`AdaptiveSchedule` is pure state (no I/O); :func:`drive` runs it against any wave executor: the run service
drives the shared execution core (:mod:`judge.runs.execution`) with it, a benchmark a simulated judge. Decisions
depend only on the verdicts of the waves so far, so a resumed run replays its waves from stored verdicts (nothing
is paid twice: every key is claimed by the execution core) and continues where it stopped.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any

import numpy as np

from judge.core.errors import StatisticsError
from judge.core.protocols.order_rules import OrderRule
from judge.core.types import Frozen, VerdictStatus, Winner
from judge.ratings.adaptive import Standing, StoppingRule, StopReason, fit_standings, stopping_decisions
from judge.ratings.battles import Battles
from judge.runs.combine import StoredVerdict, Unit, combine_run
from judge.runs.plan import WorkItem

_SCORE = {Winner.MODEL_A: 1.0, Winner.MODEL_B: 0.0, Winner.TIE: 0.5, Winner.TIE_BOTHBAD: 0.5}
_FINAL = (VerdictStatus.OK, VerdictStatus.UNPARSEABLE)


def prompt_order(prompt_ids: Iterable[int], seed: int) -> list[int]:
    """The prompts in the run's random order (a seeded shuffle of the sorted ids)."""
    ordered = sorted(set(prompt_ids))
    return random.Random(seed).sample(ordered, len(ordered))


class ModelStop(Frozen):
    """Why and when a model stopped being judged, with its standing at that moment (None: no fit had it)."""

    reason: StopReason
    wave: int
    prompts: int
    at_stop: Standing | None


class Wave(Frozen):
    """One wave: its number, its prompts, the units asked for (each involving a model still judged), their items,
    and where the prompt order resumes after it."""

    number: int
    prompts: tuple[int, ...]
    units: tuple[Unit, ...]
    items: tuple[WorkItem, ...]
    end: int


class AdaptiveSchedule:
    """Which verdicts each wave asks for, and which models are done (pure state; see the module docstring)."""

    def __init__(
        self,
        items: Sequence[WorkItem],
        *,
        judges: Sequence[str],
        rule: StoppingRule,
        wave_size: int,
        seed: int,
        baseline: str | None = None,
    ) -> None:
        self.judges, self.rule, self.wave_size, self.seed, self.baseline = list(judges), rule, wave_size, seed, baseline
        self.n_planned = len(items)
        self.units: dict[Unit, list[WorkItem]] = defaultdict(list)
        for item in items:
            if item.model_b is not None:
                self.units[item.unit()].append(item)
        self.by_prompt: dict[int, list[Unit]] = defaultdict(list)
        for unit in sorted(self.units, key=lambda u: (u[0], u[1], u[2] or "", u[3])):
            self.by_prompt[unit[0]].append(unit)
        self.order = prompt_order(self.by_prompt, seed)
        self.models = sorted({m for u in self.units for m in (u[1], u[2]) if m is not None})
        self.active = {m for m in self.models if m != baseline}
        self.stops: dict[str, ModelStop] = {}
        self.cursor = 0
        self.wave = 0
        self.scheduled: list[Unit] = []
        self.calls: dict[str, int] = defaultdict(int)
        self.prompts: dict[str, int] = defaultdict(int)
        self.verdicts: dict[str, StoredVerdict] = {}
        self.outcomes: dict[Unit, float | None] = {}
        self.standings: list[Standing] = []

    def _wanted(self, unit: Unit) -> bool:
        return unit[1] in self.active or unit[2] in self.active

    def next_wave(self) -> Wave | None:
        """The next wave (not begun: :meth:`begin` it), or None when no model is left or the prompts have run out."""
        cursor = self.cursor
        while self.active and cursor < len(self.order):
            prompts = tuple(self.order[cursor : cursor + self.wave_size])
            cursor += len(prompts)
            units = tuple(u for p in prompts for u in self.by_prompt[p] if self._wanted(u))
            if units:
                items = tuple(item for u in units for item in self.units[u])
                return Wave(number=self.wave + 1, prompts=prompts, units=units, items=items, end=cursor)
        return None

    def begin(self, wave: Wave) -> None:
        """Count ``wave`` as asked for: its prompts and verdicts go to the models still judged."""
        self.cursor, self.wave = wave.end, wave.number
        for prompt in wave.prompts:
            for model in {m for u in wave.units if u[0] == prompt for m in (u[1], u[2]) if m in self.active}:
                self.prompts[model] += 1
        for unit in wave.units:
            self.scheduled.append(unit)
            for side in (unit[1], unit[2]):
                if side in self.active:
                    assert side is not None
                    self.calls[side] += len(self.units[unit])

    def record(self, verdicts: Iterable[StoredVerdict]) -> None:
        """Stored verdicts of the items asked for (any status)."""
        for verdict in verdicts:
            self.verdicts[verdict.item.verdict_key] = verdict

    def _outcome(self, unit: Unit) -> tuple[bool, float | None]:
        """(final, score of model_a): final once every verdict of the unit is final (ok or unparseable)."""
        if unit in self.outcomes:
            return True, self.outcomes[unit]
        stored = [self.verdicts.get(item.verdict_key) for item in self.units[unit]]
        present = [v for v in stored if v is not None]
        if len(present) < len(stored):
            return False, None
        outcome = combine_run(present, self.judges, OrderRule.AGREE)
        winner = outcome[0].panel.winner if outcome else None
        score = _SCORE[winner] if winner is not None else None
        final = all(v.status in _FINAL for v in present)
        if final:
            self.outcomes[unit] = score
        return final, score

    def battles(self) -> Battles:
        """One battle per complete unit scheduled so far (orders by the agree rule, a panel by majority)."""
        index = {m: i for i, m in enumerate(self.models)}
        rows = []
        for unit in self.scheduled:
            score = self._outcome(unit)[1]
            if score is not None:
                assert unit[2] is not None
                rows.append((index[unit[1]], index[unit[2]], score))
        array = np.array(rows, dtype=np.float64).reshape(-1, 3)
        return Battles(
            tuple(self.models), array[:, 0].astype(np.int64), array[:, 1].astype(np.int64), array[:, 2].copy()
        )

    def refit(self) -> dict[str, StopReason]:
        """Refit on the battles so far and stop the models the rule says are done; what stopped now."""
        battles = self.battles()
        try:
            self.standings = fit_standings(battles, anchor=self.baseline) if battles.n_battles else []
        except StatisticsError:  # a model or part of the graph without battles yet: nothing is decided this wave
            return {}
        decisions = stopping_decisions(self.standings, self.rule, active=self.active)
        for model, reason in decisions.items():
            self.stop(model, reason)
        return decisions

    def standing(self, model: str) -> Standing | None:
        return next((s for s in self.standings if s.model == model), None)

    def stop(self, model: str, reason: StopReason) -> None:
        self.active.discard(model)
        self.stops[model] = ModelStop(
            reason=reason, wave=self.wave, prompts=self.prompts[model], at_stop=self.standing(model)
        )

    def stop_active(self, reason: StopReason) -> None:
        """Stop every model still judged (the prompts ran out, or the budget)."""
        for model in sorted(self.active):
            self.stop(model, reason)

    @property
    def n_calls(self) -> int:
        """Verdicts asked for so far (paid by this run or reused)."""
        return sum(len(self.units[u]) for u in self.scheduled)

    def report(self) -> dict[str, Any]:
        """The run's adaptive state as JSON: per model the verdicts its units needed (``calls``), the prompts it was
        judged on, why and when it stopped with its standing then (``at_stop``), and its standing in the last fit."""
        models: dict[str, Any] = {}
        for model in self.models:
            stop = self.stops.get(model)
            now = self.standing(model)
            models[model] = {
                "role": "baseline" if model == self.baseline else "judged",
                "calls": self.calls[model],
                "prompts": self.prompts[model],
                "stopped": stop.reason.value if stop else None,
                "wave": stop.wave if stop else None,
                "at_stop": stop.at_stop.to_json() if stop and stop.at_stop else None,
                "now": now.to_json() if now else None,
            }
        return {
            "rule": self.rule.model_dump(),
            "fit": "Bradley-Terry (Elo scale, ties half), sandwich 95% CI, anchored on "
            + (f"the baseline {self.baseline}=1000" if self.baseline else "the mean (1000)")
            + "; orders combined by the agree rule",
            "wave_size": self.wave_size,
            "prompt_seed": self.seed,
            "waves": self.wave,
            "prompts_judged": self.cursor,
            "prompts": len(self.order),
            "calls": self.n_calls,
            "planned": self.n_planned,
            "active": sorted(self.active),
            "models": models,
        }


class WaveResult(Frozen):
    """How executing one wave ended: ``stopped`` (a reason: interrupted, cancelled, budget...) or not, and whether
    it was the run's budget that stopped it."""

    stopped: str | None = None
    budget: bool = False


async def drive(
    schedule: AdaptiveSchedule,
    execute: Callable[[list[WorkItem]], Awaitable[WaveResult]],
    load: Callable[[list[str]], Awaitable[list[StoredVerdict]]],
    *,
    afford: Callable[[list[WorkItem]], Awaitable[str | None]] | None = None,
    save: Callable[[AdaptiveSchedule], Awaitable[None]] | None = None,
) -> str | None:
    """Run ``schedule`` wave by wave: ``afford`` (a refusal reason, or None) is asked before each wave, ``execute``
    judges it, ``load`` reads its stored verdicts, the fit decides, ``save`` records the state. Returns why the
    run stopped early (a refusal or the executor's reason), None when it ran to its end."""
    stopped: str | None = None
    while True:
        wave = schedule.next_wave()
        if wave is None:
            schedule.stop_active(StopReason.EXHAUSTED)
            break
        refusal = await afford(list(wave.items)) if afford is not None else None
        if refusal is not None:
            schedule.stop_active(StopReason.BUDGET)
            stopped = refusal
            break
        schedule.begin(wave)
        result = await execute(list(wave.items))
        schedule.record(await load([item.verdict_key for item in wave.items]))
        if result.stopped is not None and not result.budget:  # interrupted or cancelled: resume replays this wave
            stopped = result.stopped
            break
        schedule.refit()
        if result.budget:
            schedule.stop_active(StopReason.BUDGET)
            stopped = result.stopped
            break
        if save is not None:
            await save(schedule)
    if save is not None:
        await save(schedule)
    return stopped
