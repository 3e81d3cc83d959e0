"""Everything the HTML report shows about one run, gathered from the store (no rendering here).

Sections that cannot be computed (no human votes, no correctness grader, a disconnected comparison graph) are
left out with the reason, so the report still renders and says what is missing.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, TypedDict

from pydantic import BaseModel, Field
from sqlmodel import Session

from judge.analysis.category_boards import categories_of, category_leaderboards
from judge.analysis.leaderboards import LeaderboardRequest, LeaderboardResult, build_leaderboard
from judge.analysis.reports import agreement_report, audit_report
from judge.analysis.sources import Source, load_source_votes
from judge.core.errors import JudgeError
from judge.core.protocols.order_rules import OrderRule
from judge.core.rubrics import load_rubric
from judge.core.types import Mode
from judge.ratings import BootstrapSpec, WinRateMatrix, battles_from_votes, fit_bradley_terry, predicted_win_rates
from judge.runs.service import RunSummary, get_run, run_config, summarize_run
from judge.store import DEFAULT_TENANT
from judge.store import utcnow as now
from judge.store.queries import set_by_id, summarize_set
from judge.store.records import SetRecord
from judge.store.verdicts import judge_models


class LeaderboardSection(BaseModel):
    """The leaderboards of one vote source (human votes, or the run's judge)."""

    source: str
    result: LeaderboardResult | None = None
    heatmap: WinRateMatrix | None = None
    error: str | None = None
    categories: dict[str, LeaderboardResult] = {}
    category_notes: dict[str, str] = {}


class ReportData(BaseModel):
    """The report's content: run summary, leaderboards, heatmap, agreement and audit, with the reasons for any
    section left out."""

    generated_at: datetime = Field(default_factory=now)
    summary: RunSummary
    mode: str
    judge_source: str | None
    grader: str | None
    leaderboards: list[LeaderboardSection] = []
    agreement: dict[str, Any] | None = None
    audit: dict[str, Any] | None = None
    notes: list[str] = []


def find_grader(session: Session, prompt_set: SetRecord) -> str | None:
    """A judge model with correctness verdicts on the set's prompts (the first by name), if any."""
    return next(iter(judge_models(session, set_id=prompt_set.id, mode=Mode.CORRECTNESS.value)), None)


def win_rate_heatmap(session: Session, source: str, prompt_set: SetRecord) -> WinRateMatrix:
    """Predicted win rates from a Bradley-Terry fit (point estimates) on the source's votes."""
    votes = load_source_votes(session, source=Source.parse(source), prompt_set=prompt_set)
    fit = fit_bradley_terry(battles_from_votes(votes), bootstrap=BootstrapSpec(rounds=0))
    return predicted_win_rates(fit)


def leaderboard_section(
    session: Session,
    source: str,
    prompt_set: SetRecord,
    tenant: str,
    grader: str | None,
    bootstrap: int,
    seed: int,
    order_rule: OrderRule = OrderRule.AGREE,
) -> LeaderboardSection:
    """Raw, style-controlled and (with a grader) correctness-aware ratings of one source, and its heatmap; a
    judge's two orders combined by ``order_rule``."""
    request = LeaderboardRequest(
        order_rule=order_rule,
        source=source,
        set_name=prompt_set.name,
        tenant=tenant,
        bootstrap=bootstrap,
        seed=seed,
        style_control=True,
        correctness=grader is not None,
        grader=grader,
    )
    note = None
    try:
        try:
            result = build_leaderboard(session, request)
        except JudgeError as exc:
            if not request.correctness:
                raise
            note = f"correctness-aware ratings left out: {exc}"
            result = build_leaderboard(session, request.model_copy(update={"correctness": False}))
        heatmap = win_rate_heatmap(session, source, prompt_set)
    except JudgeError as exc:
        return LeaderboardSection(source=source, error=str(exc))
    section = LeaderboardSection(source=source, result=result, heatmap=heatmap, error=note)
    plain = request.model_copy(update={"style_control": False, "correctness": False})
    try:
        if len(categories_of(session, plain)) > 1:
            _, section.categories, section.category_notes = category_leaderboards(session, plain)
    except JudgeError as exc:
        section.category_notes = {"all": str(exc)}
    return section


class ReportOptions(TypedDict, total=False):
    """The options of :func:`collect_report` (and of :func:`judge.report.page.write_report`, which passes them on)."""

    tenant: str
    grader: str | None
    bootstrap: int
    seed: int
    n_examples: int
    order_rule: OrderRule


def _or_note(notes: list[str], what: str, build: Callable[[], dict[str, Any]]) -> dict[str, Any] | None:
    """A section built by ``build``, or None with the reason in ``notes`` when it cannot be computed."""
    try:
        return build()
    except JudgeError as exc:
        notes.append(f"{what}: {exc}")
        return None


def collect_report(
    session: Session,
    run_id: int,
    *,
    tenant: str = DEFAULT_TENANT,
    grader: str | None = None,
    bootstrap: int = 200,
    seed: int = 0,
    n_examples: int = 5,
    order_rule: OrderRule = OrderRule.AGREE,
) -> ReportData:
    """Gather the report of run ``run_id`` (of ``tenant``); a judge's two orders are combined by ``order_rule`` in
    the run summary, the judge's leaderboards and its agreement with the humans."""
    run = get_run(session, run_id=run_id, tenant=tenant)
    prompt_set = set_by_id(session, set_id=run.set_id)
    summary = summarize_run(session, run=run, prompt_set=prompt_set, order_rule=order_rule)
    mode = Mode.PAIRWISE.value
    config = run_config(run)
    rubric_id = config.rubric
    judge = config.judges[0].model
    try:
        rubric = load_rubric(rubric_id)
        mode, rubric_id = rubric.mode.value, rubric.id
    except JudgeError as exc:
        notes = [f"rubric {rubric_id}: {exc}"]
    else:
        notes = []
    if grader is None:
        grader = judge if mode == Mode.CORRECTNESS.value else find_grader(session, prompt_set)
    judge_source = f"judge:{judge}@{rubric_id}" if mode == Mode.PAIRWISE.value else None
    if len(config.judges) > 1:
        notes.append(f"a panel of {len(config.judges)} judges: the leaderboards use the first, {judge}")
    has_votes = summarize_set(session, prompt_set=prompt_set).votes > 0
    sources = [s for s in (judge_source, "human" if has_votes else None) if s is not None]
    if not has_votes:
        notes.append("the set has no human votes: no human leaderboard and no judge-human agreement")
    if grader is None:
        notes.append("no correctness verdicts on this set: no correctness-aware ratings and no audit")
    data = ReportData(summary=summary, mode=mode, judge_source=judge_source, grader=grader, notes=notes)
    data.leaderboards = [
        leaderboard_section(session, s, prompt_set, tenant, grader, bootstrap, seed, order_rule) for s in sources
    ]
    if judge_source is not None and has_votes:
        judged = judge_source
        data.agreement = _or_note(
            data.notes,
            "agreement",
            lambda: agreement_report(
                session,
                a=judged,
                b="human",
                set_name=prompt_set.name,
                voters=None,
                by=None,
                tenant=tenant,
                order_rule=order_rule,
            ),
        )
    if grader is not None and sources:
        audited, graded_by = sources[0], grader
        data.audit = _or_note(
            data.notes,
            "audit",
            lambda: audit_report(
                session,
                set_name=prompt_set.name,
                source=audited,
                grader=graded_by,
                voters=None,
                n_examples=n_examples,
                tenant=tenant,
            ),
        )
    return data
