"""Evaluation formats and numbers: ``judge import alpacaeval|judgebench|arenahard|arena``, ``judge winrate``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from judge.cli.analysis_commands import OutputFormat
from judge.cli.app import app, console, reports_errors
from judge.cli.store_commands import ExportFormat, _write, emit_rows, import_app
from judge.errors import InputError
from judge.importers.alpacaeval import SOURCE as ALPACAEVAL_SOURCE
from judge.importers.alpacaeval import read_alpacaeval
from judge.importers.judgebench import read_judgebench
from judge.metrics.winrate import method_card, win_rates_vs_baseline
from judge.protocols.order_rules import DESCRIPTIONS, OrderRule
from judge.rule_votes import votes_by_rule
from judge.sources import Source
from judge.store import open_store, session_scope
from judge.store.queries import get_set

SetOption = Annotated[str, typer.Option("--set", help="Name of the prompt set.")]
OrderRuleOption = Annotated[
    OrderRule,
    typer.Option("--order-rule", help="How a judge's two presentation orders combine: agree, sum or separate."),
]


def order_rule_card(rule: OrderRule) -> dict[str, str]:
    """The order rule as it appears in method cards."""
    return {"order_rule": rule.value, "order_rule_means": DESCRIPTIONS[rule]}


@import_app.command("alpacaeval")
@reports_errors
def import_alpacaeval(
    files: Annotated[list[Path], typer.Argument(help="AlpacaEval annotations.json files.")],
    set_name: SetOption = "alpaca_eval",
) -> None:
    """Import AlpacaEval annotations: instructions, both outputs, and the annotator's preference as a vote."""
    _write(read_alpacaeval(files), set_name, create_missing=False, source=ALPACAEVAL_SOURCE)


def _print_winrates(rows: list[dict[str, Any]], title: str) -> None:
    table = Table(title=title)
    for column in ("model", "win_rate", "standard_error", "95% CI", "n", "wins", "draws", "losses"):
        table.add_column(column, justify="left" if column == "model" else "right")
    for r in rows:
        table.add_row(
            r["model"],
            f"{r['win_rate']:.2f}",
            f"{r['standard_error']:.2f}",
            f"[{r['ci_low']:.2f}, {r['ci_high']:.2f}]",
            str(r["n"]),
            str(r["wins"]),
            str(r["draws"]),
            str(r["losses"]),
        )
    console.print(table)


@app.command("winrate")
@reports_errors
def winrate(
    set_name: SetOption,
    baseline: Annotated[str, typer.Option(help="The model every other model is compared with.")],
    source: Annotated[str, typer.Option(help="human (imported votes) or judge:MODEL[@RUBRIC].")] = "human",
    voters: Annotated[str | None, typer.Option(help="Only voters (annotators) matching this glob.")] = None,
    category: Annotated[str | None, typer.Option(help="Only prompts of this category.")] = None,
    order_rule: OrderRuleOption = OrderRule.AGREE,
    ci: Annotated[float, typer.Option(help="CI level.")] = 0.95,
    fmt: Annotated[OutputFormat, typer.Option("--format", help="table, json or csv.")] = OutputFormat.TABLE,
) -> None:
    """Each model's win rate (percent) vs BASELINE: draws count half; AlpacaEval's standard error; a CI."""
    with session_scope(open_store()) as session:
        prompt_set = get_set(session, name=set_name)
        votes = votes_by_rule(
            session, source=Source.parse(source), prompt_set=prompt_set, voters=voters, rule=order_rule
        )
    if category is not None:
        votes = [v for v in votes if v.category == category]
        if not votes:
            raise InputError(f"no votes on prompts of category {category!r}", field="--category")
    rows = [r.to_json() for r in win_rates_vs_baseline(votes, baseline, ci)]
    card = {**method_card(baseline, ci), **order_rule_card(order_rule), "source": source, "voters": voters}
    if category is not None:
        card["category"] = category
    if fmt is OutputFormat.JSON:
        console.print_json(json.dumps([{**r, "method": card} for r in rows], default=str))
    elif fmt is OutputFormat.CSV:
        emit_rows(rows, ExportFormat.CSV, None)
    else:
        _print_winrates(rows, f"win rate vs {baseline} ({source}, set {set_name!r})")
        console.print("method: " + json.dumps(card, default=str), highlight=False)


@import_app.command("judgebench")
@reports_errors
def import_judgebench(
    file: Annotated[Path, typer.Argument(help="JudgeBench pairs (.jsonl), e.g. data/dataset=judgebench,...jsonl.")],
    set_name: SetOption = "judgebench",
) -> None:
    """Import JudgeBench pairs as a gold set: question, response_A, response_B, a gold vote; category = source."""
    _write(read_judgebench(file), set_name, create_missing=False, source="gold")
