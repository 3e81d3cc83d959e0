"""Every rubric in both presentation orders, with a verdict the judge gives and one it may quote (parse tests)."""

from __future__ import annotations

import functools

from judge.core.parse import ParsedOutput, to_winner
from judge.core.rubrics import Position, Rubric, list_rubrics, load_rubric
from judge.core.types import Correctness, Mode, Order, VerdictStatus, Winner


@functools.cache
def rubric(rubric_id: str) -> Rubric:
    """A project rubric, loaded once per test session (loading validates and compiles every template)."""
    return load_rubric(rubric_id)


def rubric_orders() -> list[tuple[str, Order]]:
    """(rubric id, order) for every rubric: pairwise ones in both orders, single-answer ones once."""
    cases = []
    for rubric in list_rubrics():
        orders = [Order.AB, Order.BA] if rubric.mode is Mode.PAIRWISE else [Order.SINGLE]
        cases += [(rubric.id, order) for order in orders]
    return cases


def own_and_other(rubric: Rubric, order: Order) -> tuple[str, str]:
    """The judge's own verdict value (for the honest answer, model_a) and the one the other answer asks for.

    Under Order.BA model_a is shown second, so the judge's pairwise label is the second-position one.
    """
    if rubric.mode is Mode.SINGLE:
        assert rubric.score_range is not None
        return str(rubric.score_range.low + 1), str(rubric.score_range.high)
    if rubric.mode is Mode.CORRECTNESS:
        return (
            next(lb.value for lb in rubric.labels if lb.correctness is Correctness.INCORRECT),
            next(lb.value for lb in rubric.labels if lb.correctness is Correctness.CORRECT),
        )
    first = max((lb for lb in rubric.labels if lb.position is Position.FIRST), key=lambda lb: lb.strength or 0)
    second = max((lb for lb in rubric.labels if lb.position is Position.SECOND), key=lambda lb: lb.strength or 0)
    return (first.value, second.value) if order is Order.AB else (second.value, first.value)


def is_own(rubric: Rubric, parsed: ParsedOutput, own: str, order: Order) -> bool:
    """The reply was read as the judge's own verdict (and, pairwise, as a win of model_a in either order)."""
    if parsed.status is not VerdictStatus.OK or parsed.span_start is None or parsed.span_end is None:
        return False
    if own not in parsed.raw[parsed.span_start : parsed.span_end]:  # the span shows the verdict read
        return False
    if rubric.mode is Mode.SINGLE:
        return parsed.score == float(own)
    if parsed.label != own:
        return False
    return rubric.mode is not Mode.PAIRWISE or to_winner(parsed, order) is Winner.MODEL_A
