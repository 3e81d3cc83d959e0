"""``make demo``: the main job on embedded defaults, end to end on the vendored MT-Bench sample.

Deterministic first (seconds, no model):

1. import the sample (80 prompts, 6 models' answers, 1,689 human votes) and the 17 gold answers;
2. grade the 17 gold questions for the 6 human-voted models with ``grader:auto`` (102 verdicts, no model call);
3. audit the 1,343 expert votes against those grades: how often experts preferred a wrong answer over a right one
   (``preferred_but_wrong``), and how many decisive votes fell between two wrong ones;
4. the correctness-aware leaderboard beside the preference one (expert votes, Bradley-Terry).

Then the local LLM judge (Gemma 270M, the ``local`` extra), on a few items only:

5. ``JUDGE_DEMO_PAIRS`` (default 3) human-voted pairs in both orders: the swap catches position bias;
6. the local model as an LLM grader (GPT-4's reference answers, ``correctness`` rubric) on ``JUDGE_DEMO_GRADES``
   (default 4) gold-answered responses, validated against the deterministic grader on the same responses;
7. one self-contained HTML report (``judge-report.html``).

Everything is stored by content key: a second ``make demo`` reuses every verdict.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections import Counter
from pathlib import Path

from judge.analysis.leaderboards import LeaderboardRequest, build_leaderboard
from judge.analysis.reports import agreement_report, audit_report, grader_agreement_report
from judge.analysis.sources import correctness_grades
from judge.cli.analysis_commands import print_agreement, print_audit, print_grader_agreement
from judge.cli.app import console
from judge.cli.ratings_commands import print_leaderboard
from judge.cli.run_commands import ProgressView, print_summary, resolve_judge
from judge.core.errors import JudgeError, StatisticsError
from judge.core.redaction import install_redaction
from judge.importers.bundle import ImportBundle
from judge.importers.gold import read_gold
from judge.importers.mtbench import read_mtbench
from judge.llm.client import LiteLLMClient, SamplingParams
from judge.llm.local import is_answering, local_api_base, stop_local_judge
from judge.report import write_report
from judge.runs.request import LOCAL_JUDGE, JudgeSpec, RunConfig
from judge.runs.service import RunProgress, create_run, execute_run, get_run, summarize_run
from judge.settings import get_settings
from judge.store import open_store, session_scope, upgrade_database
from judge.store.correctness import write_gold
from judge.store.engine import redact_url
from judge.store.ingest import write_bundle
from judge.store.queries import get_set, summarize_set

SAMPLE_DIR = Path(__file__).resolve().parents[2] / "data" / "mt_bench"
GOLD_FILE = SAMPLE_DIR / "gold_answers.jsonl"
SET_NAME = "mt_bench"
GOLD_SET_NAME = "mt_bench_gold"
"""The 17 gold-answered questions with their answers, for validating the LLM grader on the same responses."""
GRADER = "grader:auto"
EXPERTS = "expert_*"
REPORT_PATH = Path("judge-report.html")
LLM_GRADER_MODELS = ("gpt-4", "llama-13b")
LLM_SAMPLING = SamplingParams(temperature=0.0, max_tokens=160)
"""A cap on each local-judge reply: a rambling 270M model would otherwise write for minutes on 2 cores."""
LLM_TIMEOUT_S = 300.0


def _judge(config: RunConfig) -> tuple[int, RunProgress]:
    engine = open_store()
    with session_scope(engine) as session:
        run, plan = create_run(session, config=config)
    assert run.id is not None
    what = ", ".join(j.model for j in config.judges)
    console.print(f"run {run.id}: {plan.n_units} units, {len(plan.items)} verdicts planned ({what})")
    view = ProgressView(len(plan.items))
    with view.progress:
        progress = asyncio.run(execute_run(engine, run.id, LiteLLMClient(), on_progress=view.update))
    with session_scope(engine) as session:
        found = get_run(session, run_id=run.id)
        print_summary(summarize_run(session, run=found, prompt_set=get_set(session, name=config.set_name)), progress)
    return run.id, progress


def _import() -> None:
    """The sample, its gold answers, and the gold-only subset set (idempotent)."""
    bundle = read_mtbench(SAMPLE_DIR)
    gold = read_gold(GOLD_FILE)
    gold_ids = {g.prompt_id for g in gold}
    subset = ImportBundle(
        prompts=[p for p in bundle.prompts if p.prompt_id in gold_ids],
        responses=[r for r in bundle.responses if r.prompt_id in gold_ids],
    )
    with session_scope(open_store()) as session:
        counts = write_bundle(session, set_name=SET_NAME, bundle=bundle, source="human")
        gold_counts = write_gold(session, prompt_set=get_set(session, name=SET_NAME), records=gold)
        write_bundle(session, set_name=GOLD_SET_NAME, bundle=subset)
        write_gold(session, prompt_set=get_set(session, name=GOLD_SET_NAME), records=gold)
        summary = summarize_set(session, prompt_set=get_set(session, name=SET_NAME))
    console.print(f"database {redact_url(get_settings().database_url)}: added {counts.model_dump()}", highlight=False)
    console.print(
        f"set {SET_NAME}: {summary.prompts} prompts ({summary.with_reference} with a reference), "
        f"{summary.responses} responses of {summary.models} models, {summary.votes} human votes; "
        f"{len(gold)} gold answers (+{gold_counts.added}; two of them correct GPT-4's reference: q111, q114)",
        highlight=False,
    )


def deterministic_part() -> int:
    """Sections 1-4: import, grade, audit, leaderboards; the grading run's id."""
    console.rule("1. import the vendored MT-Bench sample and its 17 gold answers")
    _import()

    console.rule(f"2. grade the 17 gold questions for the 6 human-voted models ({GRADER}: no model, no cost)")
    grading_run, _ = _judge(RunConfig(set_name=SET_NAME, judges=(JudgeSpec(model=GRADER),), rubric="correctness"))
    _judge(RunConfig(set_name=GOLD_SET_NAME, judges=(JudgeSpec(model=GRADER),), rubric="correctness"))
    with session_scope(open_store()) as session:
        grades = correctness_grades(session, prompt_set=get_set(session, name=SET_NAME), grader=GRADER)
    labels = Counter(g.label.value for g in grades.values())
    rules = Counter(g.extraction_rule.split(":")[0] for g in grades.values() if g.extraction_rule)
    console.print(
        f"{len(grades)} responses: "
        + ", ".join(f"{n} {label}" for label, n in sorted(labels.items()))
        + "; final answers found by the "
        + " and the ".join(f"{rule} rule {n} times" for rule, n in sorted(rules.items(), reverse=True)),
        highlight=False,
    )

    console.rule("3. audit the expert votes: did the experts prefer wrong answers?")
    with session_scope(open_store()) as session:
        audit = audit_report(session, set_name=SET_NAME, source="human", grader=GRADER, voters=EXPERTS, n_examples=3)
    print_audit(audit, by_voter=False)
    pbw, both = audit["preferred_but_wrong"], audit["both_incorrect_preferred"]
    console.print(
        f"Of {audit['n_votes']} expert votes, {audit['n_votes'] - audit['n_ungraded']} compare two gold-graded "
        f"answers. Where one answer was right and the other not, experts preferred the wrong one "
        f"{pbw['count']} times in {pbw['n']}; {both['count']} decisive votes chose between two wrong answers.",
        highlight=False,
    )

    console.rule("4. leaderboards: expert preference beside correctness (gold answers)")
    with session_scope(open_store()) as session:
        request = LeaderboardRequest(
            source="human", set_name=SET_NAME, voters=EXPERTS, bootstrap=100, correctness=True, grader=GRADER
        )
        try:
            print_leaderboard(build_leaderboard(session, request), "human experts (Bradley-Terry) and correctness")
        except StatisticsError as exc:
            console.print(f"no leaderboard: {exc}", highlight=False)
    return grading_run


def llm_part(pairs: int, grades: int) -> int | None:
    """Sections 5-6 with the local judge; the pairwise run's id (None when pairs is 0)."""
    pairwise_run: int | None = None
    if pairs <= 0 and grades <= 0:
        return pairwise_run
    judge = resolve_judge(LOCAL_JUDGE, None)
    if pairs > 0:
        console.rule(
            f"5. the local LLM judge on {pairs} expert-voted pairs, both orders (the swap tests position bias)"
        )
        pairwise_run, _ = _judge(
            RunConfig(
                set_name=SET_NAME,
                judges=(judge,),
                rubric="pairwise",
                limit=pairs,
                concurrency=2,
                voters=EXPERTS,
                sampling=LLM_SAMPLING,
                timeout_s=LLM_TIMEOUT_S,
            )
        )
        with session_scope(open_store()) as session:
            data = agreement_report(
                session, a=f"judge:{judge.model}@pairwise", b="human", set_name=SET_NAME, voters=EXPERTS, by=None
            )
        print_agreement(data)
    if grades > 0:
        console.rule(
            f"6. the local model as an LLM grader on {grades} gold-answered responses, checked against {GRADER}"
        )
        _judge(
            RunConfig(
                set_name=GOLD_SET_NAME,
                judges=(judge,),
                rubric="correctness",
                pairs="all",
                models=LLM_GRADER_MODELS,
                limit=max(grades // 2, 1),
                concurrency=2,
                sampling=LLM_SAMPLING,
                timeout_s=LLM_TIMEOUT_S,
            )
        )
        with session_scope(open_store()) as session:
            validation = grader_agreement_report(
                session, a=GRADER, b=f"judge:{judge.model}@correctness", set_name=GOLD_SET_NAME, n_examples=grades
            )
        print_grader_agreement(validation)
    return pairwise_run


def main() -> None:
    """Run the demo sections in order, timing the deterministic part and the LLM part."""
    install_redaction()
    pairs = int(os.environ.get("JUDGE_DEMO_PAIRS", "3"))
    grades = int(os.environ.get("JUDGE_DEMO_GRADES", "4"))
    upgrade_database(get_settings().database_url)  # the demo's own database: create or migrate it
    started = time.monotonic()
    grading_run = deterministic_part()
    deterministic_s = time.monotonic() - started
    console.print(f"deterministic part: {deterministic_s:.1f} s", style="bold", highlight=False)
    llm_started = time.monotonic()
    already_up = is_answering(local_api_base(get_settings().local_judge_port))
    try:
        pairwise_run = llm_part(pairs, grades)
    except JudgeError as exc:  # e.g. the `local` extra is not installed
        console.print(f"[yellow]local judge skipped:[/] {exc}", highlight=False)
        pairwise_run = None
    finally:
        if not already_up:  # the demo started the local judge's server: it does not leave it running
            stop_local_judge()
    console.print(f"LLM part: {time.monotonic() - llm_started:.1f} s", style="bold", highlight=False)

    console.rule("7. the report")
    with session_scope(open_store()) as session:
        path = write_report(session, pairwise_run or grading_run, REPORT_PATH, grader=GRADER)
    console.print(f"report written to {path}", highlight=False)
    console.print(
        "The gold answers are checked by hand; the local judge is a 270M-parameter demo model: its verdicts show "
        "the machinery, not the truth.",
        style="italic",
    )


if __name__ == "__main__":
    main()
