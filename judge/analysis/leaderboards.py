"""Leaderboards from the store: raw preference, style-controlled and correctness-aware ratings side by side."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel
from sqlmodel import Session

from judge.analysis.rule_votes import votes_by_rule
from judge.analysis.sources import Source, correctness_grades, response_texts
from judge.core.errors import InputError
from judge.core.protocols.order_rules import DESCRIPTIONS as ORDER_RULES
from judge.core.protocols.order_rules import OrderRule
from judge.core.types import Correctness, PairVote
from judge.importers.columnar import read_vote_columns
from judge.metrics.categories import in_category
from judge.metrics.significance import significance_matrix
from judge.ratings import (
    BootstrapSpec,
    EloParams,
    Leaderboard,
    battles_from_votes,
    combine_leaderboards,
    comparison_json_rows,
    correctness_battles_from_verdicts,
    correctness_of_votes,
    fit_bradley_terry,
    fit_correctness_controlled,
    fit_correctness_rating,
    fit_elo,
    fit_style_controlled,
    leaderboard_from_fit,
    parse_anchor,
    style_battles_from_votes,
)
from judge.runs.tagging import tag_filter
from judge.store import DEFAULT_TENANT
from judge.store.queries import get_set
from judge.store.vote_counts import vote_count_battles

Method = Literal["elo", "bt"]


class LeaderboardRequest(BaseModel):
    """What to rate and how (the CLI's and the API's options)."""

    source: str = "human"
    set_name: str | None = None
    votes_file: str | None = None
    voters: str | None = None
    method: Method = "bt"
    bootstrap: int = 1000
    seed: int = 0
    ci: float = 0.95
    ci_method: Literal["bootstrap", "sandwich"] = "bootstrap"
    anchor: str | None = None
    style_control: bool = False
    correctness: bool = False
    grader: str | None = None
    shuffle_seed: int | None = None
    tenant: str = DEFAULT_TENANT
    category: str | None = None
    order_rule: OrderRule = OrderRule.AGREE


class LeaderboardResult(BaseModel):
    """The raw leaderboard, the optional extra columns, and every method card."""

    rows: list[dict[str, Any]]
    raw: Leaderboard
    style: Leaderboard | None = None
    correctness_rating: Leaderboard | None = None
    correctness_controlled: Leaderboard | None = None
    n_votes: int
    source: str
    significance: dict[str, Any] | None = None
    category: str | None = None
    order_rule: OrderRule = OrderRule.AGREE

    def cards(self) -> dict[str, Any]:
        boards = {
            "raw": self.raw,
            "style_controlled": self.style,
            "correctness_rating": self.correctness_rating,
            "correctness_controlled": self.correctness_controlled,
        }
        cards: dict[str, Any] = {
            name: board.card() | {"coefficients": [c.model_dump() for c in board.coefficients]}
            for name, board in boards.items()
            if board is not None
        }
        cards["votes"] = {
            "order_rule": self.order_rule.value,
            "order_rule_means": ORDER_RULES[self.order_rule],
            "category": self.category,
        }
        if self.significance is not None:
            cards["significance"] = {k: v for k, v in self.significance.items() if k in ("alpha", "method")}
        return cards

    def to_json(self) -> list[dict[str, Any]]:
        """A list of ``{model, rating, ci_low, ci_high, rank, n_battles, ci_level, ...}``, best first; every row
        also carries the source, the number of votes and the method cards, so no row travels without its method."""
        context = {"source": self.source, "n_votes": self.n_votes, "method": self.cards()}
        return [{**row, **context} for row in self.rows]


def _graded_votes(votes: list[PairVote], grades: dict[tuple[str, str, int], Correctness]) -> list[PairVote]:
    return [
        v for v in votes if (v.prompt_id, v.model_a, v.turn) in grades and (v.prompt_id, v.model_b, v.turn) in grades
    ]


def build_leaderboard(session: Session, request: LeaderboardRequest) -> LeaderboardResult:
    """Fit the requested ratings on the source's votes."""
    prompt_set = get_set(session, name=request.set_name, tenant=request.tenant) if request.set_name else None
    source_text = request.votes_file or request.source
    source = Source.parse(source_text)
    counted = (
        source.kind == "human"
        and prompt_set is not None
        and request.method == "bt"
        and not (request.style_control or request.correctness)
        and not (request.category or "").startswith("tag:")
    )
    counted_battles = None
    if source.kind == "file" and source.path is not None:
        # A votes file is read column-wise; PairVote objects only where a column of them is needed.
        columns = read_vote_columns(source.path).where_voters(request.voters)
        if request.category is not None and request.category.startswith("tag:"):
            columns = columns.where_prompts(tag_filter(session, prompt_set, request.category))
        else:
            columns = columns.in_category(request.category)
        per_vote = request.style_control or request.correctness
        votes = columns.pair_votes() if per_vote else []
        n_votes = len(columns)
    elif counted:
        # Stored human votes for plain Bradley-Terry: counted per pair and outcome in SQL, no rows loaded.
        assert prompt_set is not None
        votes, columns = [], None
        counted_battles = vote_count_battles(
            session, prompt_set=prompt_set, voters=request.voters, category=request.category
        )
        n_votes = counted_battles.n_battles
    else:
        votes = votes_by_rule(
            session, source=source, prompt_set=prompt_set, voters=request.voters, rule=request.order_rule
        )
        if request.category is not None and request.category.startswith("tag:"):
            chosen = tag_filter(session, prompt_set, request.category)
            votes = [v for v in votes if v.prompt_id in chosen]
        elif request.category is not None:
            votes = [v for v in votes if in_category(v.category, request.category)]
        columns = None
        n_votes = len(votes)
    if not n_votes:
        where = f" in category {request.category!r}" if request.category else ""
        raise InputError(f"no votes from {source_text}{where}", field="--source")
    spec = BootstrapSpec(rounds=request.bootstrap, seed=request.seed, ci_level=request.ci)
    anchor = parse_anchor(request.anchor)
    if counted_battles is not None:
        battles = counted_battles
    else:
        battles = columns.battles() if columns is not None else battles_from_votes(votes)
    if request.method == "elo":
        if request.ci_method != "bootstrap":
            raise InputError("sandwich intervals are for Bradley-Terry: use --method bt", field="--ci")
        raw_fit = fit_elo(battles, params=EloParams(), bootstrap=spec, shuffle_seed=request.shuffle_seed)
    else:
        raw_fit = fit_bradley_terry(battles, anchor=anchor, bootstrap=spec, ci=request.ci_method)
    result = LeaderboardResult(
        rows=[],
        raw=leaderboard_from_fit(raw_fit),
        n_votes=n_votes,
        source=source_text,
        category=request.category,
        order_rule=request.order_rule,
    )
    matrix = None
    if raw_fit.samples is not None and len(raw_fit.models) > 1:
        sandwich = request.ci_method == "sandwich"
        drawn = "draws from the sandwich fit's normal approximation" if sandwich else "bootstrap rounds"
        matrix = significance_matrix(raw_fit.models, raw_fit.samples, ci=request.ci, samples_from=drawn)
        result.significance = matrix.to_json()
    if request.style_control:
        if prompt_set is None:
            raise InputError("--style-control needs --set (the responses' texts)", field="--set")
        styled = style_battles_from_votes(votes, response_texts(session, prompt_set=prompt_set))
        result.style = leaderboard_from_fit(fit_style_controlled(styled, anchor=anchor, bootstrap=spec))
    if request.correctness:
        if prompt_set is None or request.grader is None:
            raise InputError(
                "--correctness needs --set and --grader MODEL (whose correctness verdicts to use)", field="--grader"
            )
        grades = {
            k: g.label for k, g in correctness_grades(session, prompt_set=prompt_set, grader=request.grader).items()
        }
        result.correctness_rating = leaderboard_from_fit(
            fit_correctness_rating(correctness_battles_from_verdicts(grades), anchor=anchor, bootstrap=spec)
        )
        graded = _graded_votes(votes, grades)
        if graded:
            ca, cb = correctness_of_votes(graded, grades)
            result.correctness_controlled = leaderboard_from_fit(
                fit_correctness_controlled(battles_from_votes(graded), ca, cb, anchor=anchor, bootstrap=spec)
            )
    correctness_board = result.correctness_rating
    result.rows = comparison_json_rows(combine_leaderboards(result.raw, result.style, correctness_board), request.ci)
    if matrix is not None:
        bands = result.significance["rank_bands"] if result.significance else {}
        for row in result.rows:
            row["rank_band"] = bands.get(row["model"])
            row["significantly_better_than"] = matrix.better_than(row["model"])
    return result
