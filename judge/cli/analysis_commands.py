"""``judge agreement`` and ``judge audit``: tables, JSON or CSV, each with its method card."""

from __future__ import annotations

import json
from collections.abc import Callable
from enum import StrEnum
from typing import Annotated, Any

import typer
from rich.table import Table

from judge.analysis.reports import agreement_report, audit_report, grader_agreement_report
from judge.analysis.rule_votes import gold_report_by_rule
from judge.cli.app import app, console, fmt_rate, print_json, reports_errors
from judge.cli.store_commands import ExportFormat, emit_rows
from judge.core.errors import InputError
from judge.core.protocols.order_rules import OrderRule
from judge.metrics.agreement import Breakdown
from judge.store import open_store, session_scope


class OutputFormat(StrEnum):
    """How analysis commands print."""

    TABLE = "table"
    JSON = "json"
    CSV = "csv"


def _print_json(data: dict[str, Any]) -> None:
    print_json(json.dumps(data, default=str))


def _emit_report(
    data: dict[str, Any],
    fmt: OutputFormat,
    rows: Callable[[dict[str, Any]], list[dict[str, Any]]],
    print_tables: Callable[[dict[str, Any]], None],
) -> None:
    """A report as JSON, as CSV rows, or as tables."""
    if fmt is OutputFormat.JSON:
        _print_json(data)
    elif fmt is OutputFormat.CSV:
        emit_rows(rows(data), ExportFormat.CSV, None)
    else:
        print_tables(data)


def _kappa_text(kappa: dict[str, Any]) -> str:
    """Cohen's kappa with its CI, or n/a."""
    if kappa["value"] is None:
        return "n/a"
    return f"{kappa['value']:.3f} [{kappa['ci_low']:.3f}, {kappa['ci_high']:.3f}]"


def _print_confusion(confusion: dict[str, Any]) -> None:
    """The confusion matrix of two sources' labels (rows: a, columns: b)."""
    matrix = Table(title="confusion (rows: a, columns: b)")
    matrix.add_column("")
    for label in confusion["labels"]:
        matrix.add_column(label, justify="right")
    for label, row in zip(confusion["labels"], confusion["counts"], strict=True):
        matrix.add_row(label, *(str(c) for c in row))
    console.print(matrix)


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
        table.add_row(
            label,
            fmt_rate(block["with_ties"]),
            fmt_rate(block["without_ties"]),
            _kappa_text(block["kappa"]),
            str(block["n_units"]),
        )
    console.print(table)
    _print_confusion(data["confusion"])
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
    conflicts = data["conflicts"]
    console.print(
        f"conflicting voter-units (one voter, one unit, differing votes): a {conflicts['a']['conflicting']} of "
        f"{conflicts['a']['voter_units']}, b {conflicts['b']['conflicting']} of {conflicts['b']['voter_units']} "
        f"({conflicts['treatment']})",
        highlight=False,
    )
    console.print("method: " + json.dumps(data["method"]), highlight=False)


@app.command("agreement")
@reports_errors
def agreement(
    a: Annotated[
        str | None, typer.Option("--a", help="Source a: human, judge:MODEL[@RUBRIC], or a votes file.")
    ] = None,
    b: Annotated[str | None, typer.Option("--b", help="Source b (same kinds).")] = None,
    set_name: Annotated[str | None, typer.Option("--set", help="Prompt set (for human and judge sources).")] = None,
    voters: Annotated[str | None, typer.Option(help="Only voters matching this glob, e.g. 'expert_*'.")] = None,
    by: Annotated[Breakdown | None, typer.Option(help="Break down by category, turn or pair.")] = None,
    gold: Annotated[str | None, typer.Option(help="Gold-labelled set: report --a's accuracy on it.")] = None,
    fmt: Annotated[OutputFormat, typer.Option("--format", help="table, json or csv.")] = OutputFormat.TABLE,
    grader_a: Annotated[
        str | None,
        typer.Option("--grader-a", help="Correctness source a: grader:NAME[@RULE], labels:NAME or an LLM grader."),
    ] = None,
    grader_b: Annotated[str | None, typer.Option("--grader-b", help="Correctness source b (same kinds).")] = None,
    order_rule: Annotated[
        OrderRule,
        typer.Option("--order-rule", help="How a judge's two presentation orders combine: agree, sum or separate."),
    ] = OrderRule.AGREE,
) -> None:
    """How often two vote sources agree (with n, CIs, kappa, confusion), a judge's accuracy on gold labels, or
    (--grader-a/--grader-b) how often two correctness sources give the same grade to the same responses."""
    if grader_a is not None or grader_b is not None:
        if grader_a is None or grader_b is None or set_name is None:
            raise InputError("--grader-a and --grader-b go together, with --set", field="--grader-b")
        with session_scope(open_store()) as session:
            data = grader_agreement_report(session, a=grader_a, b=grader_b, set_name=set_name)
        _emit_report(data, fmt, grader_agreement_rows, print_grader_agreement)
        return
    if a is None:
        raise InputError("give --a (or --grader-a and --grader-b)", field="--a")
    with session_scope(open_store()) as session:
        if gold is not None:
            data = gold_report_by_rule(session, gold_set=gold, judge=a, rule=order_rule)
        elif b is None:
            raise InputError("give --b (or --gold SET)", field="--b")
        else:
            data = agreement_report(
                session,
                a=a,
                b=b,
                set_name=set_name,
                voters=voters,
                by=by,
                order_rule=order_rule,
            )
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
    for side in ("a", "b"):  # one voter's differing votes on one unit: kept, counted here
        conflicts = data["conflicts"][side]
        rows.append(
            {
                "group_by": "conflicts",
                "group": side,
                "metric": "conflicting_voter_units",
                "count": conflicts["conflicting"],
                "total": conflicts["voter_units"],
                "value": None,
                "ci_low": None,
                "ci_high": None,
                "n_units": None,
            }
        )
    return rows


@app.command("audit")
@reports_errors
def audit(
    set_name: Annotated[str, typer.Option("--set", help="Prompt set with reference answers.")],
    grader: Annotated[
        str,
        typer.Option(
            help="Correctness source: grader:NAME[@RULE] (deterministic, gold answers), labels:NAME (imported), "
            "or a judge model whose correctness verdicts grade the responses."
        ),
    ],
    source: Annotated[str, typer.Option(help="Preferences: human or judge:MODEL[@RUBRIC].")] = "human",
    voters: Annotated[str | None, typer.Option(help="Only voters matching this glob.")] = None,
    examples: Annotated[int, typer.Option(help="How many preferred-but-wrong examples to show.")] = 5,
    fmt: Annotated[OutputFormat, typer.Option("--format", help="table, json or csv.")] = OutputFormat.TABLE,
) -> None:
    """Are preference winners actually correct? (Grade first: `judge run --judge grader:auto ...` with gold
    answers, `judge import labels`, or `judge run --rubric correctness ...`.)"""
    with session_scope(open_store()) as session:
        data = audit_report(
            session, set_name=set_name, source=source, grader=grader, voters=voters, n_examples=examples
        )
    _emit_report(data, fmt, audit_rows, print_audit)


AUDIT_GROUPS = (
    ("by_model", "preferred_but_wrong_by_model"),
    ("by_category", "preferred_but_wrong_by_category"),
    ("by_voter", "preferred_but_wrong_by_voter"),
)


def _rate_row(group_by: str, group: str, metric: str, block: dict[str, Any]) -> dict[str, Any]:
    return {
        "group_by": group_by,
        "group": group,
        "metric": metric,
        "count": block["count"],
        "n": block["n"],
        "rate": block["rate"],
        "ci_low": block["ci_low"],
        "ci_high": block["ci_high"],
    }


def audit_rows(data: dict[str, Any]) -> list[dict[str, Any]]:
    """The audit's figures as flat rows (one per figure and group), each with count, n, rate and Wilson CI."""
    rows = [
        _rate_row("all", "all", metric, data[metric])
        for metric in ("preferred_but_wrong", "both_incorrect_preferred", "preferred_less_correct")
    ]
    for group_by, key in AUDIT_GROUPS:
        rows.extend(_rate_row(group_by, name, "preferred_but_wrong", block) for name, block in data[key].items())
    rows.extend(
        _rate_row("pair_correctness", kind, "tie_rate", block) for kind, block in data["ties_by_correctness"].items()
    )
    return rows


def grader_agreement_rows(data: dict[str, Any]) -> list[dict[str, Any]]:
    """Correctness-source agreement as flat rows: accuracy and kappa overall, binary and per category, then the
    per-model accuracy under each source."""
    rows = []
    blocks = [("all", "all", data["all"]), ("all", "binary", data["binary"])]
    blocks += [("category", name, block) for name, block in data["by_category"].items()]
    for group_by, group, block in blocks:
        rows.append(_rate_row(group_by, group, "accuracy", block["accuracy"]))
        k = block["kappa"]
        rows.append(
            {
                "group_by": group_by,
                "group": group,
                "metric": "kappa",
                "count": None,
                "n": k["n"],
                "rate": k["value"],
                "ci_low": k["ci_low"],
                "ci_high": k["ci_high"],
            }
        )
    for model, shift in data["by_model"].items():
        rows.append(_rate_row("model", model, "accuracy_a", shift["a"]))
        rows.append(_rate_row("model", model, "accuracy_b", shift["b"]))
    return rows


def print_grader_agreement(data: dict[str, Any]) -> None:
    """Correctness-source agreement as tables."""
    src = data["sources"]
    console.print(
        f"graded by a ({src['a']}): {data['n_a']}, by b ({src['b']}): {data['n_b']}, both: {data['n_shared']}",
        highlight=False,
    )
    table = Table(title=f"grader agreement: {src['a']} (reference) vs {src['b']}")
    table.add_column("group")
    table.add_column("accuracy", justify="right")
    table.add_column("kappa", justify="right")
    blocks = [("all labels", data["all"]), ("correct vs not", data["binary"]), *data["by_category"].items()]
    for label, block in blocks:
        table.add_row(label, fmt_rate(block["accuracy"]), _kappa_text(block["kappa"]))
    console.print(table)
    _print_confusion(data["confusion"])
    models = Table(title="per-model accuracy (share graded correct) under each source")
    for column in ("model", "a", "b", "shift (points)"):
        models.add_column(column, justify="left" if column == "model" else "right")
    for model, shift in data["by_model"].items():
        moved = "n/a" if shift["shift_points"] is None else f"{shift['shift_points']:+.1f}"
        models.add_row(model, fmt_rate(shift["a"]), fmt_rate(shift["b"]), moved)
    console.print(models)
    for d in data["disagreements"]:
        console.print(
            f"{d['prompt_id']} {d['model']} turn {d['turn']}: a {d['label_a']} ({d['extracted_a']!r} by "
            f"{d['rule_a']}), b {d['label_b']} ({d['extracted_b']!r} by {d['rule_b']})",
            highlight=False,
        )
    console.print(f"{data['n_disagree']} disagreements; method: " + json.dumps(data["method"]), highlight=False)


def print_audit(data: dict[str, Any], *, by_voter: bool = True) -> None:
    """The audit as tables (``by_voter``: with the per-voter table)."""
    console.print(
        f"preferred but wrong (not-correct beat correct): {fmt_rate(data['preferred_but_wrong'])}", highlight=False
    )
    console.print(f"preferred the less correct response: {fmt_rate(data['preferred_less_correct'])}", highlight=False)
    console.print(
        f"decisive between two not-correct answers: {fmt_rate(data['both_incorrect_preferred'])}", highlight=False
    )
    console.print(f"votes {data['n_votes']}, ungraded {data['n_ungraded']}", highlight=False)
    ties = Table(title="ties by the pair's correctness")
    ties.add_column("pair")
    ties.add_column("tie rate", justify="right")
    for kind, block in data.get("ties_by_correctness", {}).items():
        ties.add_row(kind.replace("_", " "), fmt_rate(block))
    console.print(ties)
    groups = [
        ("by the wrong response's model", "preferred_but_wrong_by_model"),
        ("by category", "preferred_but_wrong_by_category"),
    ]
    if by_voter:
        groups.append(("by voter", "preferred_but_wrong_by_voter"))
    for title, key in groups:
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
        won, lost = example["winner_grade"], example["loser_grade"]
        answers = (
            f" — answered {won['extracted_answer']!r} vs {lost['extracted_answer']!r}"
            if won.get("extraction_rule") or lost.get("extraction_rule")
            else f" — {won['reason']}"
        )
        console.print(
            f"[bold]{example['prompt_id']}[/] ({example['category']}): {example['winner_model']} "
            f"({won['label']}) beat {example['loser_model']} ({lost['label']}), voters "
            f"{len(example['voters_for_wrong'])} vs {len(example['voters_for_correct'])}{answers}",
            highlight=False,
        )
    console.print("method: " + json.dumps(data["method"]), highlight=False)
