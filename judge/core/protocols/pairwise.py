"""Pairwise protocols (pure): which presentation orders to judge, and how verdicts combine.

- ``plan_orders``: ``both`` judges every comparison in both orders (the default); ``random`` judges one
  order, chosen from SHA-256 of ``"{seed}:{unit_key}"`` (even first byte: ab, odd: ba), so a rerun with
  the same seed judges the same order on every unit and over many units each order comes up about half
  the time.
- ``reconcile``: the two orders of one judge. Same winner in both → that winner; different → tie,
  flagged ``inconsistent``; a missing or unparseable order → ``incomplete`` with no winner.
- ``panel_majority``: several judges' combined winners. A winner needs a strict majority of the whole
  panel; a judge without a winner (missing, unparseable, incomplete) counts as a member who backed no
  outcome, so it can block a majority but never creates one. No majority → tie. No judge with a winner
  → ``incomplete`` with no winner.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Mapping, Sequence
from enum import StrEnum

from judge.core.errors import InputError
from judge.core.hashing import canonical_json
from judge.core.types import Frozen, Order, Winner


class OrderMode(StrEnum):
    """How many presentation orders each comparison is judged in."""

    BOTH = "both"
    RANDOM = "random"


class OutcomeStatus(StrEnum):
    """Whether every verdict a combined outcome needs was there."""

    COMPLETE = "complete"
    INCOMPLETE = "incomplete"


class CombinedOutcome(Frozen):
    """A result combined from several verdicts (orders of one judge, or judges of a panel).

    ``winner`` is None only when there was nothing to combine; ``inconsistent`` says the verdicts
    disagreed; ``n_verdicts`` counts those with a winner and ``n_missing`` those without.
    """

    winner: Winner | None
    status: OutcomeStatus
    inconsistent: bool = False
    n_verdicts: int
    n_missing: int = 0


def pair_unit_key(prompt_id: str, model_a: str, model_b: str, turn: int) -> str:
    """The canonical key of one comparison unit, used to seed its random order."""
    return canonical_json([prompt_id, model_a, model_b, turn])


def plan_orders(order_mode: OrderMode | str, seed: int | None, unit_key: str) -> list[Order]:
    """The orders to judge for one unit: ``[ab, ba]``, or one seeded random order."""
    mode = OrderMode(order_mode)
    if mode is OrderMode.BOTH:
        return [Order.AB, Order.BA]
    if seed is None:
        raise InputError("--order random needs --seed", field="seed")
    digest = hashlib.sha256(f"{seed}:{unit_key}".encode()).digest()
    return [Order.AB if digest[0] % 2 == 0 else Order.BA]


def _tie_of(winners: Sequence[Winner]) -> Winner:
    """Tie kind for agreeing ties: both-bad only when every tie says both-bad."""
    return Winner.TIE_BOTHBAD if all(w is Winner.TIE_BOTHBAD for w in winners) else Winner.TIE


def reconcile(ab: Winner | None, ba: Winner | None) -> CombinedOutcome:
    """Combine one judge's verdicts in both orders (each already in the pair's own orientation)."""
    present = [w for w in (ab, ba) if w is not None]
    if len(present) < 2:
        return CombinedOutcome(
            winner=None, status=OutcomeStatus.INCOMPLETE, n_verdicts=len(present), n_missing=2 - len(present)
        )
    assert ab is not None and ba is not None
    if ab.is_tie and ba.is_tie:
        return CombinedOutcome(winner=_tie_of(present), status=OutcomeStatus.COMPLETE, n_verdicts=2)
    agree = ab is ba
    return CombinedOutcome(
        winner=ab if agree else Winner.TIE,
        status=OutcomeStatus.COMPLETE,
        inconsistent=not agree,
        n_verdicts=2,
    )


def single_order_outcome(winner: Winner | None) -> CombinedOutcome:
    """The result of a comparison judged in one (random) order: its verdict, or incomplete."""
    if winner is None:
        return CombinedOutcome(winner=None, status=OutcomeStatus.INCOMPLETE, n_verdicts=0, n_missing=1)
    return CombinedOutcome(winner=winner, status=OutcomeStatus.COMPLETE, n_verdicts=1)


def combine_orders(winners: Mapping[Order, Winner | None]) -> CombinedOutcome:
    """Combine the verdicts of the planned orders: both → ``reconcile``, one → ``single_order_outcome``."""
    orders = set(winners)
    if orders == {Order.AB, Order.BA}:
        return reconcile(winners[Order.AB], winners[Order.BA])
    if len(orders) == 1 and Order.SINGLE not in orders:
        return single_order_outcome(next(iter(winners.values())))
    raise InputError(f"cannot combine verdicts for orders {sorted(orders)}", field="order")


def panel_majority(winners: Sequence[Winner | None]) -> CombinedOutcome:
    """The panel result: an outcome backed by more than half of all judges, else a tie."""
    if not winners:
        raise InputError("a panel needs at least one judge", field="judges")
    present = [w for w in winners if w is not None]
    missing = len(winners) - len(present)
    if not present:
        return CombinedOutcome(winner=None, status=OutcomeStatus.INCOMPLETE, n_verdicts=0, n_missing=missing)
    counts = Counter(Winner.TIE if w.is_tie else w for w in present)
    top, votes = counts.most_common(1)[0]
    if 2 * votes <= len(winners):
        top = Winner.TIE
    elif top is Winner.TIE:
        top = _tie_of([w for w in present if w.is_tie])
    return CombinedOutcome(
        winner=top,
        status=OutcomeStatus.COMPLETE if missing == 0 else OutcomeStatus.INCOMPLETE,
        inconsistent=len(counts) > 1,
        n_verdicts=len(present),
        n_missing=missing,
    )
