"""``judge leaderboard``: raw, style-controlled and correctness-aware ratings with CIs and method cards."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.table import Table

from judge.analysis.category_boards import category_leaderboards, category_rows
from judge.analysis.leaderboards import LeaderboardRequest, LeaderboardResult, Method, build_leaderboard
from judge.cli.analysis_commands import OutputFormat
from judge.cli.app import app, console, print_json, reports_errors
from judge.cli.store_commands import ExportFormat, emit_rows
from judge.core.protocols.order_rules import OrderRule
from judge.ratings import Leaderboard, plot_leaderboard
from judge.store import open_store, session_scope


def _interval(rating: float | None, low: float | None, high: float | None) -> str:
    if rating is None:
        return ""
    if low is None or high is None:
        return f"{rating:.0f}"
    return f"{rating:.0f} [{low:.0f}, {high:.0f}]"


def _shift(value: int | None) -> str:
    return "" if value is None else f"{value:+d}"


def print_leaderboard(result: LeaderboardResult, title: str) -> None:
    """The side-by-side table, coefficients, and method cards."""
    level = f"{result.raw.ci_level:.0%}"
    how = (
        "sandwich (closed-form)"
        if result.raw.ci_method == "sandwich"
        else f"{result.raw.bootstrap_rounds} bootstrap rounds"
    )
    table = Table(title=f"{title} ({result.n_votes} votes, {level} CIs, {how})")
    columns = ["rank", "model", f"{result.raw.method} rating", "battles"]
    has_style = result.style is not None
    has_correctness = result.correctness_rating is not None
    columns += ["style-controlled", "shift"] if has_style else []
    columns += ["correctness-aware", "shift"] if has_correctness else []
    for column in columns:
        table.add_column(column, justify="left" if column == "model" else "right")
    for row in result.rows:
        cells = [
            str(row["rank"]),
            row["model"],
            _interval(row["rating"], row["ci_low"], row["ci_high"]),
            str(row["n_battles"]),
        ]
        if has_style:
            cells += [
                _interval(row.get("style_rating"), row.get("style_ci_low"), row.get("style_ci_high")),
                _shift(row.get("style_rank_shift")),
            ]
        if has_correctness:
            cells += [
                _interval(row.get("correctness_rating"), row.get("correctness_ci_low"), row.get("correctness_ci_high")),
                _shift(row.get("correctness_rank_shift")),
            ]
        table.add_row(*cells)
    console.print(table)
    for name, board in (
        ("style", result.style),
        ("preference controlled for correctness", result.correctness_controlled),
    ):
        if board is not None:
            _print_coefficients(name, board)
    for note in result.raw.notes:
        console.print(f"note: {note}", highlight=False)
    console.print("method: " + json.dumps(result.cards(), default=str), highlight=False)


def _print_coefficients(name: str, board: Leaderboard) -> None:
    text = ", ".join(f"{c.name} {_interval(c.value, c.ci_low, c.ci_high)}" for c in board.coefficients)
    console.print(f"{name} coefficients (rating points per unit): {text}", highlight=False)


def _ci_option(ci: str, ci_level: float | None) -> tuple[Literal["bootstrap", "sandwich"], float]:
    """``--ci``: bootstrap or sandwich (with ``--ci-level``), or, as before, a CI level (bootstrap)."""
    if ci in ("bootstrap", "sandwich"):
        return ("sandwich" if ci == "sandwich" else "bootstrap"), 0.95 if ci_level is None else ci_level
    try:
        level = float(ci)
    except ValueError:
        raise typer.BadParameter("expected bootstrap, sandwich or a CI level", param_hint="--ci") from None
    if ci_level is not None:
        raise typer.BadParameter("give the level once (--ci-level)", param_hint="--ci")
    return "bootstrap", level


@app.command("leaderboard")
@reports_errors
def leaderboard(
    source: Annotated[str, typer.Option(help="human or judge:MODEL[@RUBRIC].")] = "human",
    set_name: Annotated[str | None, typer.Option("--set", help="Prompt set (human and judge sources).")] = None,
    votes: Annotated[Path | None, typer.Option(help="Rate the votes of this JSONL/CSV/Parquet file.")] = None,
    voters: Annotated[str | None, typer.Option(help="Only voters matching this glob.")] = None,
    method: Annotated[str, typer.Option(help="elo or bt (Bradley-Terry).")] = "bt",
    bootstrap: Annotated[int, typer.Option(help="Bootstrap rounds for the CIs.")] = 1000,
    seed: Annotated[int, typer.Option(help="Bootstrap seed.")] = 0,
    ci: Annotated[
        str,
        typer.Option(
            help="How CIs are made: bootstrap, or sandwich (closed form, Bradley-Terry); a number is the CI level."
        ),
    ] = "bootstrap",
    ci_level: Annotated[float | None, typer.Option("--ci-level", help="CI level (default 0.95).")] = None,
    anchor: Annotated[str | None, typer.Option(help="MODEL=RATING (default: mean 1000).")] = None,
    style_control: Annotated[bool, typer.Option("--style-control", help="Add style-controlled ratings.")] = False,
    correctness: Annotated[bool, typer.Option("--correctness", help="Add correctness-aware ratings.")] = False,
    grader: Annotated[
        str | None,
        typer.Option(help="Correctness source: grader:NAME[@RULE], labels:NAME, or a judge with correctness verdicts."),
    ] = None,
    shuffle_seed: Annotated[int | None, typer.Option(help="Elo: average over shuffled battle orders.")] = None,
    fmt: Annotated[OutputFormat, typer.Option("--format", help="table, json or csv.")] = OutputFormat.TABLE,
    plot: Annotated[Path | None, typer.Option(help="Draw ratings with CI bars to this PNG.")] = None,
    category: Annotated[str | None, typer.Option(help="Rate only the votes on prompts of this category.")] = None,
    by: Annotated[
        str | None,
        typer.Option(help="category (one board per category) or tag:NAME (tagged NAME vs not): own fits, rank shifts."),
    ] = None,
    order_rule: Annotated[
        OrderRule, typer.Option("--order-rule", help="How a judge's two orders combine: agree, sum or separate.")
    ] = OrderRule.AGREE,
) -> None:
    """Rate models from votes: Elo or Bradley-Terry with bootstrap CIs; style control; correctness-aware;
    a Holm-corrected significance matrix and rank bands; per-category boards."""
    if method not in ("elo", "bt"):
        raise typer.BadParameter("expected elo or bt", param_hint="--method")
    method_value: Method = "elo" if method == "elo" else "bt"
    ci_method, level = _ci_option(ci, ci_level)
    request = LeaderboardRequest(
        source=source,
        set_name=set_name,
        votes_file=str(votes) if votes else None,
        voters=voters,
        method=method_value,
        bootstrap=bootstrap,
        seed=seed,
        ci=level,
        ci_method=ci_method,
        anchor=anchor,
        style_control=style_control,
        correctness=correctness,
        grader=grader,
        shuffle_seed=shuffle_seed,
        category=category,
        order_rule=order_rule,
    )
    if by is not None:
        if by != "category" and not by.startswith("tag:"):
            raise typer.BadParameter("expected category or tag:NAME", param_hint="--by")
        split = None if by == "category" else [by, "tag:!" + by.removeprefix("tag:")]
        with session_scope(open_store()) as session:
            overall, boards, skipped = category_leaderboards(session, request, split)
        print_category_boards(overall, boards, skipped, fmt)
        return
    with session_scope(open_store()) as session:
        result = build_leaderboard(session, request)
    if plot is not None:
        plot_leaderboard(result.raw, plot)
        console.print(f"plot written to {plot}", highlight=False)
    if fmt is OutputFormat.JSON:
        print_json(json.dumps(result.to_json(), default=str))
    elif fmt is OutputFormat.CSV:
        emit_rows(result.rows, ExportFormat.CSV, None)
    else:
        print_leaderboard(result, f"leaderboard from {result.source}" + (f", category {category}" if category else ""))
        print_significance(result)


def print_significance(result: LeaderboardResult) -> None:
    """Rank bands and the Holm-corrected matrix: ``>`` where the row model is significantly above the column."""
    from judge.report.page import significance_marks

    sig = result.significance
    if sig is None:
        return
    marked = significance_marks(result, ".")
    table = Table(title=f"significance (Holm-corrected, alpha {sig['alpha']}): > row above column, . not distinct")
    table.add_column("model")
    table.add_column("rank band", justify="right")
    for k in range(len(marked)):
        table.add_column(str(k + 1), justify="center")
    for k, (model, (low, high), cells) in enumerate(marked):
        table.add_row(f"{k + 1} {model}", f"{low}-{high}", *cells)
    console.print(table)


def print_category_boards(
    overall: LeaderboardResult, boards: dict[str, LeaderboardResult], skipped: dict[str, str], fmt: OutputFormat
) -> None:
    """Each category's board with rank shifts against the overall one."""
    if fmt is OutputFormat.JSON:
        data = {"overall": overall.to_json(), "categories": {k: b.to_json() for k, b in boards.items()}}
        print_json(json.dumps({**data, "skipped": skipped}, default=str))
        return
    if fmt is OutputFormat.CSV:
        emit_rows(category_rows(boards), ExportFormat.CSV, None)
        return
    for name, board in boards.items():
        table = Table(title=f"category {name} ({board.n_votes} votes, own fit and {board.raw.bootstrap_rounds} rounds)")
        for column in ("position", "model", "rating", "battles", "overall position", "shift"):
            table.add_column(column, justify="left" if column == "model" else "right")
        for row in board.rows:
            table.add_row(
                str(row["position"]),
                row["model"],
                _interval(row["rating"], row["ci_low"], row["ci_high"]),
                str(row["n_battles"]),
                "" if row["overall_position"] is None else str(row["overall_position"]),
                _shift(row["rank_shift"]),
            )
        console.print(table)
    for name, reason in skipped.items():
        console.print(f"category {name}: not rated ({reason})", highlight=False)
