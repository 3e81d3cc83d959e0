"""Per-category leaderboards: each category (prompt tag) its own fit and bootstrap, as the Arena computes its
category boards, with each model's rank shift against the overall board."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from judge.analysis.leaderboards import LeaderboardRequest, LeaderboardResult, build_leaderboard
from judge.analysis.rule_votes import votes_by_rule
from judge.analysis.sources import Source
from judge.core.errors import JudgeError
from judge.metrics.categories import all_tags
from judge.store.queries import get_set


def _positions(result: LeaderboardResult) -> dict[str, int]:
    """1-based position of each model by rating (rows are sorted best first)."""
    return {row["model"]: k for k, row in enumerate(result.rows, start=1)}


def categories_of(session: Session, request: LeaderboardRequest) -> list[str]:
    """Every category tag on the votes the request rates."""
    prompt_set = get_set(session, name=request.set_name, tenant=request.tenant) if request.set_name else None
    votes = votes_by_rule(
        session,
        source=Source.parse(request.votes_file or request.source),
        prompt_set=prompt_set,
        voters=request.voters,
        rule=request.order_rule,
    )
    return all_tags(v.category for v in votes)


def category_leaderboards(
    session: Session, request: LeaderboardRequest, categories: list[str] | None = None
) -> tuple[LeaderboardResult, dict[str, LeaderboardResult], dict[str, str]]:
    """The overall board, one board per category (its own fit and bootstrap) and the categories that could not
    be rated (with the reason, e.g. a disconnected comparison graph)."""
    overall = build_leaderboard(session, request.model_copy(update={"category": None}))
    boards: dict[str, LeaderboardResult] = {}
    skipped: dict[str, str] = {}
    overall_positions = _positions(overall)
    for name in categories if categories is not None else categories_of(session, request):
        try:
            board = build_leaderboard(session, request.model_copy(update={"category": name}))
        except JudgeError as exc:
            skipped[name] = str(exc)
            continue
        for model, position in _positions(board).items():
            row = next(r for r in board.rows if r["model"] == model)
            row["overall_position"] = overall_positions.get(model)
            row["position"] = position
            row["rank_shift"] = None if model not in overall_positions else overall_positions[model] - position
        boards[name] = board
    return overall, boards, skipped


def category_rows(boards: dict[str, LeaderboardResult]) -> list[dict[str, Any]]:
    """Every category board's rows, flat, each with its category and method card."""
    return [{"category": name, **row} for name, board in boards.items() for row in board.to_json()]
