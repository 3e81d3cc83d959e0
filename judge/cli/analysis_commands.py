"""``judge agreement`` and ``judge audit``: tables, JSON or CSV, each with its method card."""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Annotated, Any

import typer
from rich.table import Table

from judge.analysis import agreement_report, audit_report
from judge.cli.app import app, console, fmt_rate, reports_errors
from judge.cli.store_commands import ExportFormat, emit_rows
from judge.errors import InputError
from judge.protocols.order_rules import OrderRule
from judge.rule_votes import gold_report_by_rule
from judge.store import open_store, session_scope


class OutputFormat(StrEnum):
    """How analysis commands print."""

    TABLE = "table"
    JSON = "json"
    CSV = "csv"


class Breakdown(StrEnum):
    """Breakdowns of agreement."""

    CATEGORY = "category"
    TURN = "turn"
    PAIR = "pair"


def _print_json(data: dict[str, Any]) -> None:
    console.print_json(json.dumps(data, default=str))


def print_agreement(data: dict[str, Any]) -> None:
    src = data["sources"]
    table = Table(
        title=f"agreement: {src['a']} vs {src['b']}" + (f" (voters {src['voters']})" if src["voters"] else "")
    )
    table.add_column("group")
    for column in ("with ties", "without ties", "kappa", "units"):
        table.add_column(column, justify="right")
    blocks = [("all", data), *data.get("groups", {}).items()]
    for label, block in blocks:
        kappa = block["kappa"]
        kappa_text = (
            "n/a"
            if kappa["value"] is None
            else (f"{kappa['value']:.3f} [{kappa['ci_low']:.3f}, {kappa['ci_high']:.3f}]")
        )
        table.add_row(
            label, fmt_rate(block["with_ties"]), fmt_rate(block["without_ties"]), kappa_text, str(block["n_units"])
        )
    console.print(table)
    confusion = data["confusion"]
    matrix = Table(title="confusion (rows: a, columns: b)")
    matrix.add_column("")
    for label in confusion["labels"]:
        matrix.add_column(label, justify="right")
    for label, row in zip(confusion["labels"], confusion["counts"], strict=True):
        matrix.add_row(label, *(str(c) for c in row))
    console.print(matrix)
    for judge, diag in data.get("judge_diagnostics", {}).items():
        console.print(
            f"{judge}: position consistency {fmt_rate(diag['position_consistency'])}, "
            f"first-position preference {fmt_rate(diag['first_position_preference'])}, "
            f"tie rate {fmt_rate(diag['tie_rate'])}, unparseable {fmt_rate(diag['unparseable_rate'])}",
            highlight=False,
        )
    if "length_bias" in data:
        bias = data["length_bias"]
        console.print(
            f"prefers the longer response: judge {fmt_rate(bias['source_a']['prefers_longer'])}, "
            f"other side {fmt_rate(bias['source_b']['prefers_longer'])} on "
            f"{bias['n_shared_units']} shared units",
            highlight=False,
        )
    console.print("method: " + json.dumps(data["method"]), highlight=False)


@app.command("agreement")
@reports_errors
def agreement(
    a: Annotated[str, typer.Option("--a", help="Source a: human, judge:MODEL[@RUBRIC], or a votes file.")],
    b: Annotated[str | None, typer.Option("--b", help="Source b (same kinds).")] = None,
    set_name: Annotated[str | None, typer.Option("--set", help="Prompt set (for human and judge sources).")] = None,
    voters: Annotated[str | None, typer.Option(help="Only voters matching this glob, e.g. 'expert_*'.")] = None,
    by: Annotated[Breakdown | None, typer.Option(help="Break down by category, turn or pair.")] = None,
    gold: Annotated[str | None, typer.Option(help="Gold-labelled set: report --a's accuracy on it.")] = None,
    fmt: Annotated[OutputFormat, typer.Option("--format", help="table, json or csv.")] = OutputFormat.TABLE,
    order_rule: Annotated[
        OrderRule,
        typer.Option("--order-rule", help="With --gold: how a judge's two orders combine (agree, sum, separate)."),
    ] = OrderRule.AGREE,
) -> None:
    """How often two vote sources agree (with n, CIs, kappa, confusion), or a judge's accuracy on gold labels."""
    with session_scope(open_store()) as session:
        if gold is not None:
            data = gold_report_by_rule(session, gold_set=gold, judge=a, rule=order_rule)
        elif b is None:
            raise InputError("give --b (or --gold SET)", field="--b")
        else:
            data = agreement_report(session, a=a, b=b, set_name=set_name, voters=voters, by=by.value if by else None)
    if fmt is OutputFormat.JSON:
        _print_json(data)
    elif fmt is OutputFormat.CSV:
        if gold is not None:
            raise InputError("--format csv is for agreement; use json for --gold", field="--format")
        emit_rows(_agreement_rows(data), ExportFormat.CSV, None)
    elif gold is not None:
        for key in ("accuracy", "inconsistent_rate", "tie_rate", "no_verdict_rate", "accuracy_consistent"):
            console.print(f"{key}: {fmt_rate(data[key])}", highlight=False)
        for name, block in data.get("categories", {}).items():
            console.print(f"  category {name}: {fmt_rate(block)}", highlight=False)
        if data.get("macro_accuracy") is not None and data["macro_accuracy"] != data.get("micro_accuracy"):
            console.print(
                f"micro accuracy {data['micro_accuracy']:.1%}, macro accuracy {data['macro_accuracy']:.1%}",
                highlight=False,
            )
        console.print("method: " + json.dumps(data["method"]), highlight=False)
    else:
        print_agreement(data)


def _agreement_rows(data: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for label, block in [("all", data), *data.get("groups", {}).items()]:
        for metric in ("with_ties", "without_ties"):
            m = block[metric]
            rows.append(
                {
                    "group_by": data.get("by") or "all",
                    "group": label,
                    "metric": metric,
                    "count": m["agree"],
                    "total": m["total"],
                    "value": m["rate"],
                    "ci_low": m["ci_low"],
                    "ci_high": m["ci_high"],
                    "n_units": block["n_units"],
                }
            )
        k = block["kappa"]
        rows.append(
            {
                "group_by": data.get("by") or "all",
                "group": label,
                "metric": "kappa",
                "count": None,
                "total": k["n"],
                "value": k["value"],
                "ci_low": k["ci_low"],
                "ci_high": k["ci_high"],
                "n_units": block["n_units"],
            }
        )
    return rows


@app.command("audit")
@reports_errors
def audit(
    set_name: Annotated[str, typer.Option("--set", help="Prompt set with reference answers.")],
    grader: Annotated[str, typer.Option(help="Judge model whose correctness verdicts grade the responses.")],
    source: Annotated[str, typer.Option(help="Preferences: human or judge:MODEL[@RUBRIC].")] = "human",
    voters: Annotated[str | None, typer.Option(help="Only voters matching this glob.")] = None,
    examples: Annotated[int, typer.Option(help="How many preferred-but-wrong examples to show.")] = 5,
    fmt: Annotated[OutputFormat, typer.Option("--format", help="table or json.")] = OutputFormat.TABLE,
) -> None:
    """Are preference winners actually correct? (Grade first: `judge run --rubric correctness ...`.)"""
    with session_scope(open_store()) as session:
        data = audit_report(
            session, set_name=set_name, source=source, grader=grader, voters=voters, n_examples=examples
        )
    if fmt is OutputFormat.JSON:
        _print_json(data)
        return
    print_audit(data)


def print_audit(data: dict[str, Any]) -> None:
    """The audit as tables."""
    console.print(
        f"preferred but wrong (incorrect beat correct): {fmt_rate(data['preferred_but_wrong'])}", highlight=False
    )
    console.print(f"preferred the less correct response: {fmt_rate(data['preferred_less_correct'])}", highlight=False)
    console.print(f"both incorrect yet one preferred: {fmt_rate(data['both_incorrect_preferred'])}", highlight=False)
    console.print(f"votes {data['n_votes']}, ungraded {data['n_ungraded']}", highlight=False)
    for title, key in (
        ("by winning model", "preferred_but_wrong_by_model"),
        ("by category", "preferred_but_wrong_by_category"),
    ):
        if not data[key]:
            console.print(f"preferred but wrong, {title}: no correct-vs-incorrect preferences", highlight=False)
            continue
        table = Table(title=f"preferred but wrong, {title}")
        table.add_column("group")
        table.add_column("rate", justify="right")
        for label, block in data[key].items():
            table.add_row(label, fmt_rate(block))
        console.print(table)
    for example in data["examples"]:
        console.print(
            f"[bold]{example['prompt_id']}[/] ({example['category']}): {example['winner_model']} "
            f"({example['winner_grade']['label']}) beat {example['loser_model']} "
            f"({example['loser_grade']['label']}) — {example['winner_grade']['reason']}"
        )
    console.print("method: " + json.dumps(data["method"]), highlight=False)
