"""Votes counted in SQL: one row per (model_a, model_b, winner[, voter][, category]) with its count.

Bradley-Terry depends on the votes only through these counts, so a leaderboard of stored votes needs no vote
rows in Python: the database groups them, and the counts become battles (repeated per count) in numpy.
"""

from __future__ import annotations

import fnmatch
from typing import Any

import numpy as np
from sqlalchemy import func
from sqlmodel import Session, col, select

from judge.core.types import Winner
from judge.metrics.categories import in_category
from judge.ratings.battles import Battles
from judge.store.records import SetRecord
from judge.store.tables import Prompt, Vote

_OUTCOME = {Winner.MODEL_A.value: 1.0, Winner.MODEL_B.value: 0.0, Winner.TIE.value: 0.5, Winner.TIE_BOTHBAD.value: 0.5}


def vote_count_battles(
    session: Session, *, prompt_set: SetRecord, voters: str | None = None, category: str | None = None
) -> Battles:
    """The set's votes (voters matching the glob ``voters``, prompts of ``category``) as battles, counted in SQL.

    Battles come grouped by pair and outcome, not in vote order: right for Bradley-Terry, not for online Elo.
    """
    columns: list[Any] = [col(Vote.model_a), col(Vote.model_b), col(Vote.winner)]
    if voters is not None:
        columns.append(col(Vote.voter))
    if category is not None:
        columns.append(Prompt.__table__.c.category)  # type: ignore[attr-defined]
    stmt = select(*columns, func.count()).where(col(Vote.set_id) == prompt_set.id)  # type: ignore[call-overload]
    if category is not None:
        stmt = stmt.join(Prompt, col(Vote.prompt_id) == col(Prompt.id))
    stmt = stmt.group_by(*columns)
    rows = []
    for row in session.exec(stmt):
        model_a, model_b, winner = row[0], row[1], row[2]
        extra = list(row[3:-1])
        if voters is not None and not fnmatch.fnmatchcase(extra.pop(0), voters):
            continue
        if category is not None and not in_category(extra.pop(0), category):
            continue
        rows.append((model_a, model_b, _OUTCOME[winner], int(row[-1])))
    names = tuple(sorted({m for r in rows for m in r[:2]}))
    index = {m: k for k, m in enumerate(names)}
    rows.sort(key=lambda r: (index[r[0]], index[r[1]], r[2]))
    counts = np.array([r[3] for r in rows], dtype=np.int64)
    a = np.repeat(np.array([index[r[0]] for r in rows], dtype=np.int64), counts)
    b = np.repeat(np.array([index[r[1]] for r in rows], dtype=np.int64), counts)
    outcome = np.repeat(np.array([r[2] for r in rows], dtype=np.float64), counts)
    return Battles(names, a, b, outcome)
