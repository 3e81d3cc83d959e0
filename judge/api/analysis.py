"""Leaderboards, agreement and audits over a prompt set, with the same JSON shapes as the CLI's ``--format json``.

Sources are ``human`` or ``judge:MODEL[@RUBRIC]``; the CLI's votes-file sources (server paths) are refused.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict
from sqlmodel import Session

from judge.analysis.category_boards import category_leaderboards
from judge.analysis.leaderboards import LeaderboardRequest, build_leaderboard
from judge.analysis.reports import agreement_report, audit_report, grader_agreement_report
from judge.analysis.rule_votes import votes_by_rule
from judge.analysis.sources import Source
from judge.api.deps import MAX_ID, AppState, State, Tenant, tenant_set
from judge.core.errors import InputError
from judge.core.protocols.order_rules import DESCRIPTIONS as ORDER_RULES
from judge.core.protocols.order_rules import OrderRule
from judge.metrics.agreement import Breakdown
from judge.metrics.categories import in_category
from judge.metrics.winrate import WinRate, win_rates_vs_baseline
from judge.metrics.winrate import method_card as winrate_card
from judge.store.engine import session_scope

router = APIRouter(prefix="/v1", tags=["analysis"])
MAX_BOOTSTRAP = 2000

SetQuery = Annotated[int, Query(ge=1, le=MAX_ID, description="The prompt set (its id)")]
VotersQuery = Annotated[str | None, Query(description="Glob of human voters to keep (e.g. expert_*)")]
OrderRuleQuery = Annotated[
    OrderRule,
    Query(description="How a judge's two presentation orders combine: agree, sum or separate (named in the card)"),
]
CategoryQuery = Annotated[
    str | None,
    Query(
        pattern=r"^[^\x00-\x1f]{1,200}$", description="Rate only the votes on prompts of this category (or tag:NAME)"
    ),
]
ByQuery = Annotated[
    str | None,
    Query(
        pattern=r"^(category|tag:[^\x00-\x1f]{1,200})$",
        description="category: one board per category; tag:NAME: tagged NAME vs not (own fits, rank shifts)",
    ),
]


class Report(BaseModel):
    """A report in the CLI's ``--format json`` shape: the fields below, plus the report's own figures (rates with
    n and CI, kappa, confusion matrices...), described in the README."""

    model_config = ConfigDict(extra="allow")

    method: dict[str, Any]


class RatingRowView(Report):
    """One model's rating with its interval and CI rank, the source, the number of votes and the method cards
    (raw, style-controlled and correctness-aware columns when asked for)."""

    model: str
    rank: int
    source: str
    n_votes: int


class CategoryBoards(BaseModel):
    """``by``: the overall board, one board per category (or tag vs not), and the categories skipped (too few
    votes), each board with rank shifts against the overall one."""

    overall: list[RatingRowView]
    categories: dict[str, list[RatingRowView]]
    skipped: dict[str, str]


class WinRateView(WinRate):
    """One model's win rate (percent) vs the baseline, with the method card."""

    method: dict[str, Any]


class AgreementView(Report):
    """Agreement of two sources (``sources``), with and without ties, kappa, confusion; a judge's diagnostics and
    length bias when one side is a judge."""

    sources: dict[str, Any]
    judge_diagnostics: dict[str, Any] | None = None
    length_bias: dict[str, Any] | None = None


class AuditView(Report):
    """Preferences audited against correctness: ``preferred_but_wrong``, ``both_incorrect_preferred``, ties, by
    model, category and voter, examples."""

    n_graded_responses: int


class GraderAgreementView(Report):
    """Agreement of two correctness sources on the same response turns."""

    sources: dict[str, Any]


def checked_source(text: str, field: str) -> str:
    """``text`` if it names human votes or a judge's verdicts; anything else (a file path) is refused."""
    if text == "human" or (text.startswith("judge:") and len(text) > len("judge:")):
        return text
    raise InputError(f"expected human or judge:MODEL[@RUBRIC], got {text!r}", field=field)


def set_report(state: AppState, tenant: str, set_id: int, report: Callable[[Session, str], dict[str, Any]]) -> Any:
    """``report(session, set_name)`` on the tenant's prompt set ``set_id``: any other id (another tenant's too) is
    404 before the report's own arguments are checked."""
    with session_scope(state.engine) as session:
        return report(session, tenant_set(session, set_id, tenant).name)


@router.get("/leaderboards")
def leaderboard(
    state: State,
    tenant: Tenant,
    prompt_set_id: SetQuery,
    source: str = "human",
    voters: VotersQuery = None,
    method: Literal["elo", "bt"] = "bt",
    bootstrap: Annotated[int, Query(ge=0, le=MAX_BOOTSTRAP, description="Bootstrap rounds for the CIs")] = 1000,
    seed: Annotated[int, Query(ge=0, le=2**32 - 1)] = 0,
    ci: Annotated[float, Query(gt=0.5, lt=1.0)] = 0.95,
    anchor: Annotated[str | None, Query(description="MODEL=RATING, or none for mean 1000")] = None,
    style_control: bool = False,
    correctness: bool = False,
    grader: Annotated[str | None, Query(description="With correctness: whose correctness verdicts")] = None,
    order_rule: OrderRuleQuery = OrderRule.AGREE,
    category: CategoryQuery = None,
    by: ByQuery = None,
) -> list[RatingRowView] | CategoryBoards:
    """Raw, style-controlled and correctness-aware ratings side by side, each with its CI and method card (which
    names the order rule and the category). With ``by``: ``{"overall", "categories", "skipped"}``, each category
    its own fit and bootstrap with rank shifts against the overall board, as ``judge leaderboard --by``."""
    with session_scope(state.engine) as session:
        prompt_set = tenant_set(session, prompt_set_id, tenant)
        request = LeaderboardRequest(
            source=checked_source(source, "source"),
            set_name=prompt_set.name,
            tenant=tenant,
            voters=voters,
            method=method,
            bootstrap=bootstrap,
            seed=seed,
            ci=ci,
            anchor=anchor,
            style_control=style_control,
            correctness=correctness,
            grader=grader,
            order_rule=order_rule,
            category=category,
        )
        if by is not None:
            split = None if by == "category" else [by, "tag:!" + by.removeprefix("tag:")]
            overall, boards, skipped = category_leaderboards(session, request, split)
            return CategoryBoards.model_validate(
                {
                    "overall": overall.to_json(),
                    "categories": {name: board.to_json() for name, board in boards.items()},
                    "skipped": skipped,
                }
            )
        return [RatingRowView.model_validate(row) for row in build_leaderboard(session, request).to_json()]


@router.get("/winrates")
def winrates(
    state: State,
    tenant: Tenant,
    prompt_set_id: SetQuery,
    baseline: Annotated[str, Query(min_length=1, max_length=200, description="The model every other one meets")],
    source: str = "human",
    voters: VotersQuery = None,
    category: Annotated[
        str | None, Query(pattern=r"^[^\x00-\x1f]{1,200}$", description="Only prompts of this category")
    ] = None,
    order_rule: OrderRuleQuery = OrderRule.AGREE,
    ci: Annotated[float, Query(gt=0.5, lt=1.0)] = 0.95,
) -> list[WinRateView]:
    """Each model's win rate (percent) vs ``baseline``: draws count half, AlpacaEval's standard error, a CI, with
    the method card (order rule included): the same rows as ``judge winrate --format json``."""
    with session_scope(state.engine) as session:
        prompt_set = tenant_set(session, prompt_set_id, tenant)
        votes = votes_by_rule(
            session,
            source=Source.parse(checked_source(source, "source")),
            prompt_set=prompt_set,
            voters=voters,
            rule=order_rule,
        )
    if category is not None:
        votes = [v for v in votes if in_category(v.category, category)]
        if not votes:
            raise InputError(f"no votes on prompts of category {category!r}", field="category")
    card = {
        **winrate_card(baseline, ci),
        "order_rule": order_rule.value,
        "order_rule_means": ORDER_RULES[order_rule],
        "source": source,
        "voters": voters,
        "category": category,
    }
    return [WinRateView(**row.model_dump(), method=card) for row in win_rates_vs_baseline(votes, baseline, ci)]


@router.get("/agreement")
def agreement(
    state: State,
    tenant: Tenant,
    prompt_set_id: SetQuery,
    a: str,
    b: str = "human",
    voters: VotersQuery = None,
    by: Breakdown | None = None,
    order_rule: OrderRuleQuery = OrderRule.AGREE,
) -> AgreementView:
    """Agreement of source ``a`` with ``b``: with and without ties, Cohen's kappa, the confusion matrix, each
    with n and CI; a judge's position consistency and length bias when one side is a judge; a judge's two orders
    combined by ``order_rule`` (named in the method card)."""

    def report(session: Session, set_name: str) -> dict[str, Any]:
        a_, b_ = checked_source(a, "a"), checked_source(b, "b")
        return agreement_report(
            session, a=a_, b=b_, set_name=set_name, voters=voters, by=by, tenant=tenant, order_rule=order_rule
        )

    return AgreementView.model_validate(set_report(state, tenant, prompt_set_id, report))


@router.get("/audit")
def audit(
    state: State,
    tenant: Tenant,
    prompt_set_id: SetQuery,
    grader: Annotated[
        str,
        Query(
            min_length=1,
            description="Correctness source: grader:NAME[@RULE] (gold answers), labels:NAME (imported labels), or "
            "the judge model whose correctness verdicts to use",
        ),
    ],
    source: str = "human",
    voters: VotersQuery = None,
    examples: Annotated[int, Query(ge=0, le=50)] = 5,
) -> AuditView:
    """How often preferred responses are graded not correct (``preferred_but_wrong``), how many decisive
    preferences fell between two not-correct ones (``both_incorrect_preferred``), ties by correctness, by model,
    category and voter, with examples: the same JSON as ``judge audit --format json``."""

    def report(session: Session, set_name: str) -> dict[str, Any]:
        preferences = checked_source(source, "source")
        return audit_report(
            session,
            set_name=set_name,
            source=preferences,
            grader=grader,
            voters=voters,
            n_examples=examples,
            tenant=tenant,
        )

    return AuditView.model_validate(set_report(state, tenant, prompt_set_id, report))


@router.get("/grader-agreement")
def grader_agreement(
    state: State,
    tenant: Tenant,
    prompt_set_id: SetQuery,
    grader_a: Annotated[str, Query(min_length=1, description="Reference correctness source (e.g. grader:auto)")],
    grader_b: Annotated[str, Query(min_length=1, description="Correctness source to validate")],
    examples: Annotated[int, Query(ge=0, le=50)] = 10,
) -> GraderAgreementView:
    """How often two correctness sources give the same grade to the same responses: accuracy, kappa, confusion,
    by category, and each model's accuracy under both: the same JSON as ``judge agreement --grader-a A
    --grader-b B --format json``."""

    def report(session: Session, set_name: str) -> dict[str, Any]:
        return grader_agreement_report(
            session, a=grader_a, b=grader_b, set_name=set_name, n_examples=examples, tenant=tenant
        )

    return GraderAgreementView.model_validate(set_report(state, tenant, prompt_set_id, report))
