"""``make demo``: the main job on embedded defaults, end to end on the vendored MT-Bench sample.

1. import the sample (80 prompts, 6 models' answers, 1,689 human votes; again: +0);
2. judge ``JUDGE_DEMO_PAIRS`` (default 20) human-voted pairs in both orders with the local judge;
3. agreement of that judge with the human experts on the same units, and its position bias;
4. grade answers against the reference answers and audit the human preferences: preferred but wrong;
5. leaderboards from human votes and from judge votes, side by side;
6. one self-contained HTML report of it all (``judge-report.html``).
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from judge.analysis import agreement_report, audit_report
from judge.cli.analysis_commands import print_agreement, print_audit
from judge.cli.app import console
from judge.cli.ratings_commands import print_leaderboard
from judge.cli.run_commands import ProgressView, print_summary, resolve_judge
from judge.errors import StatisticsError
from judge.importers.mtbench import read_mtbench
from judge.leaderboards import LeaderboardRequest, build_leaderboard
from judge.llm.client import LiteLLMClient
from judge.logging import install_redaction
from judge.report import write_report
from judge.run import RunProgress, create_run, execute_run, get_run, summarize_run
from judge.run_config import LOCAL_JUDGE, RunConfig
from judge.settings import get_settings
from judge.store import open_store, session_scope, upgrade_database
from judge.store.engine import redact_url
from judge.store.ingest import write_bundle
from judge.store.queries import get_set, summarize_set

SAMPLE_DIR = Path(__file__).resolve().parent.parent / "data" / "mt_bench"
SET_NAME = "mt_bench"
REPORT_PATH = Path("judge-report.html")


def _judge(config: RunConfig) -> tuple[int, RunProgress]:
    engine = open_store()
    with session_scope(engine) as session:
        run, plan = create_run(session, config=config)
    assert run.id is not None
    console.print(f"run {run.id}: {plan.n_units} units, {len(plan.items)} verdicts planned ({config.rubric})")
    view = ProgressView(len(plan.items))
    with view.progress:
        progress = asyncio.run(execute_run(engine, run.id, LiteLLMClient(), on_progress=view.update))
    with session_scope(engine) as session:
        found = get_run(session, run_id=run.id)
        print_summary(summarize_run(session, run=found, prompt_set=get_set(session, name=SET_NAME)), progress)
    return run.id, progress


def main() -> None:
    """Run the demo sections in order."""
    install_redaction()
    pairs = int(os.environ.get("JUDGE_DEMO_PAIRS", "20"))
    upgrade_database(get_settings().database_url)  # the demo's own database: create or migrate it
    engine = open_store()
    console.rule("1. import the vendored MT-Bench sample")
    with session_scope(engine) as session:
        counts = write_bundle(session, set_name=SET_NAME, bundle=read_mtbench(SAMPLE_DIR), source="human")
        summary = summarize_set(session, prompt_set=get_set(session, name=SET_NAME))
    console.print(f"database {redact_url(get_settings().database_url)}: added {counts.model_dump()}", highlight=False)
    console.print(
        f"set {SET_NAME}: {summary.prompts} prompts ({summary.with_reference} with a reference), "
        f"{summary.responses} responses of {summary.models} models, {summary.votes} human votes",
        highlight=False,
    )

    console.rule(f"2. judge {pairs} human-voted pairs in both orders with the local judge")
    judge = resolve_judge(LOCAL_JUDGE, None)
    pairwise_run, _ = _judge(
        RunConfig(set_name=SET_NAME, judges=(judge,), rubric="pairwise", limit=pairs, concurrency=2, voters="expert_*")
    )

    console.rule("3. does the judge agree with the human experts?")
    with session_scope(engine) as session:
        data = agreement_report(
            session, a=f"judge:{judge.model}@pairwise", b="human", set_name=SET_NAME, voters="expert_*", by=None
        )
    print_agreement(data)

    console.rule("4. are the preferred answers correct? (graded against the reference answers)")
    _judge(
        RunConfig(
            set_name=SET_NAME,
            judges=(judge,),
            rubric="correctness",
            limit=max(pairs // 2, 1),
            concurrency=2,
            voters="expert_*",
        )
    )
    with session_scope(engine) as session:
        audit = audit_report(
            session, set_name=SET_NAME, source="human", grader=judge.model, voters="expert_*", n_examples=2
        )
    print_audit(audit)

    console.rule("5. leaderboards: human expert votes next to the local judge's votes")
    with session_scope(engine) as session:
        for title, source in (("human experts", "human"), ("local judge", f"judge:{judge.model}@pairwise")):
            request = LeaderboardRequest(
                source=source,
                set_name=SET_NAME,
                voters="expert_*" if source == "human" else None,
                bootstrap=200,
                style_control=source == "human",
            )
            try:
                print_leaderboard(build_leaderboard(session, request), f"{title} (Bradley-Terry)")
            except StatisticsError as exc:  # e.g. a few judged pairs that do not connect every model
                console.print(f"{title}: no leaderboard: {exc}", highlight=False)
    console.rule("6. the report")
    with session_scope(engine) as session:
        path = write_report(session, pairwise_run, REPORT_PATH, grader=judge.model)
    console.print(f"report written to {path}", highlight=False)
    console.print(
        "The local judge is a 270M-parameter demo model: its verdicts show the machinery, not the truth.",
        style="italic",
    )


if __name__ == "__main__":
    main()
