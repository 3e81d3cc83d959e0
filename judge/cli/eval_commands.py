"""Evaluation formats and numbers: ``judge import alpacaeval|judgebench|arenahard|arena``, ``judge winrate``."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from judge.analysis.compare import compare_judges_on_gold, compare_models
from judge.analysis.rule_votes import votes_by_rule
from judge.analysis.sources import Source, response_texts
from judge.cli.analysis_commands import OutputFormat
from judge.cli.app import app, console, print_json, reports_errors
from judge.cli.store_commands import ExportFormat, _write, emit_rows, import_app
from judge.core.errors import InputError
from judge.core.protocols.order_rules import DESCRIPTIONS, OrderRule
from judge.core.tagging import load_tag_rubric
from judge.importers.alpacaeval import SOURCE as ALPACAEVAL_SOURCE
from judge.importers.alpacaeval import read_alpacaeval
from judge.importers.arena_battles import read_arena_battles
from judge.importers.arenahard import read_arenahard
from judge.importers.judgebench import read_judgebench
from judge.llm.client import LiteLLMClient
from judge.metrics.categories import all_tags, in_category
from judge.metrics.length_control import METHOD as LENGTH_CONTROL_METHOD
from judge.metrics.length_control import length_controlled_by_model
from judge.metrics.winrate import CategoryWinRates, method_card, win_rates_by_category, win_rates_vs_baseline
from judge.ratings.arenahard import STRONG_WEIGHT, arenahard_scores
from judge.ratings.arenahard import method_card as arenahard_card
from judge.runs.request import JudgeSpec
from judge.runs.tagging import tag_filter, tag_prompts
from judge.store import open_store, session_scope
from judge.store.queries import get_set

ARENAHARD_SOURCE = "arenahard"
ARENA_SOURCE = "arena"
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


def _emit_with_method(
    rows: list[dict[str, Any]], card: dict[str, Any], fmt: OutputFormat, print_table: Callable[[], None]
) -> None:
    """Rows as JSON (each with the method card), CSV, or ``print_table`` followed by the method card."""
    if fmt is OutputFormat.JSON:
        print_json(json.dumps([{**r, "method": card} for r in rows], default=str))
    elif fmt is OutputFormat.CSV:
        emit_rows(rows, ExportFormat.CSV, None)
    else:
        print_table()
        console.print("method: " + json.dumps(card, default=str), highlight=False)


def _print_winrates(rows: list[dict[str, Any]], title: str) -> None:
    table = Table(title=title)
    has_lc = any("length_controlled_win_rate" in r for r in rows)
    columns = ["model", "win_rate", "standard_error", "95% CI", "n", "wins", "draws", "losses"]
    for column in columns + (["length-controlled"] if has_lc else []):
        table.add_column(column, justify="left" if column == "model" else "right")
    for r in rows:
        lc = r.get("length_controlled_win_rate")
        extra = [("" if lc is None else f"{lc:.2f}")] if has_lc else []
        table.add_row(
            r["model"],
            f"{r['win_rate']:.2f}",
            f"{r['standard_error']:.2f}",
            f"[{r['ci_low']:.2f}, {r['ci_high']:.2f}]",
            str(r["n"]),
            str(r["wins"]),
            str(r["draws"]),
            str(r["losses"]),
            *extra,
        )
    console.print(table)


def _print_category_winrates(result: CategoryWinRates, card: dict[str, Any], fmt: OutputFormat) -> None:
    card = {**card, "aggregation": result.to_json()["aggregation"]}
    if fmt is OutputFormat.JSON:
        print_json(json.dumps({**result.to_json(), "method": card}, default=str))
        return
    rows = [{"category": name, **r.to_json()} for name, group in result.categories.items() for r in group]
    if fmt is OutputFormat.CSV:
        emit_rows(rows, ExportFormat.CSV, None)
        return
    for name, group in result.categories.items():
        _print_winrates([r.to_json() for r in group], f"category {name}")
    table = Table(title="micro (pooled) and macro (mean of categories) win rates")
    for column in ("model", "micro", "macro", "differ"):
        table.add_column(column, justify="left" if column == "model" else "right")
    for model, micro in sorted(result.micro.items(), key=lambda kv: -kv[1]):
        macro = result.macro.get(model)
        differs = macro is not None and abs(macro - micro) >= 0.005
        table.add_row(model, f"{micro:.2f}", "" if macro is None else f"{macro:.2f}", "yes" if differs else "")
    console.print(table)
    console.print("method: " + json.dumps(card, default=str), highlight=False)


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
    by: Annotated[str | None, typer.Option(help="category: win rates per category, with micro and macro.")] = None,
    length_controlled: Annotated[
        bool, typer.Option("--length-controlled", help="Add a length-controlled win rate (see the method card).")
    ] = False,
) -> None:
    """Each model's win rate (percent) vs BASELINE: draws count half; AlpacaEval's standard error; a CI."""
    with session_scope(open_store()) as session:
        prompt_set = get_set(session, name=set_name)
        votes = votes_by_rule(
            session, source=Source.parse(source), prompt_set=prompt_set, voters=voters, rule=order_rule
        )
        lengths = (
            {k: len(t) for k, t in response_texts(session, prompt_set=prompt_set).items()} if length_controlled else {}
        )
        tagged = tag_filter(session, prompt_set, category) if category and category.startswith("tag:") else None
    if category is not None:
        votes = [
            v for v in votes if (v.prompt_id in tagged if tagged is not None else in_category(v.category, category))
        ]
        if not votes:
            raise InputError(f"no votes on prompts of category {category!r}", field="--category")
    rows = [r.to_json() for r in win_rates_vs_baseline(votes, baseline, ci)]
    card = {**method_card(baseline, ci), **order_rule_card(order_rule), "source": source, "voters": voters}
    if length_controlled:
        controlled = length_controlled_by_model(votes, baseline, lengths)
        for row in rows:
            row["length_controlled_win_rate"] = controlled.get(row["model"])
        card["length_controlled"] = LENGTH_CONTROL_METHOD
    if category is not None:
        card["category"] = category
    if by is not None:
        if by != "category":
            raise InputError("expected category", field="--by")
        _print_category_winrates(
            win_rates_by_category(votes, baseline, all_tags(v.category for v in votes), ci), card, fmt
        )
        return
    _emit_with_method(
        rows, card, fmt, lambda: _print_winrates(rows, f"win rate vs {baseline} ({source}, set {set_name!r})")
    )


@import_app.command("judgebench")
@reports_errors
def import_judgebench(
    file: Annotated[Path, typer.Argument(help="JudgeBench pairs (.jsonl), e.g. data/dataset=judgebench,...jsonl.")],
    set_name: SetOption = "judgebench",
) -> None:
    """Import JudgeBench pairs as a gold set: question, response_A, response_B, a gold vote; category = source."""
    _write(read_judgebench(file), set_name, create_missing=False, source="gold")


@import_app.command("arenahard")
@reports_errors
def import_arenahard(
    directory: Annotated[Path, typer.Argument(help="Arena-Hard-Auto benchmark directory (question.jsonl, ...).")],
    baseline: Annotated[str, typer.Option(help="The baseline model (for records that do not name it).")],
    set_name: SetOption = "arena_hard",
    judge_name: Annotated[str | None, typer.Option("--judge", help="Only model_judgment/JUDGE/.")] = None,
) -> None:
    """Import Arena-Hard questions, answers and judgments (each game a vote by JUDGE/game1 or JUDGE/game2)."""
    found = read_arenahard(directory, baseline=baseline, judge=judge_name)
    _write(found.bundle, set_name, create_missing=False, source=ARENAHARD_SOURCE)


@app.command("arenahard")
@reports_errors
def arenahard(
    directory: Annotated[Path, typer.Argument(help="Arena-Hard-Auto benchmark directory.")],
    baseline: Annotated[str, typer.Option(help="The baseline model.")],
    judge_name: Annotated[str | None, typer.Option("--judge", help="Only model_judgment/JUDGE/.")] = None,
    category: Annotated[str | None, typer.Option(help="Only questions of this category.")] = None,
    rounds: Annotated[int, typer.Option(help="Bootstrap rounds.")] = 100,
    seed: Annotated[int, typer.Option(help="Bootstrap seed.")] = 0,
    weight: Annotated[int, typer.Option(help="Battles a strong verdict (>>) counts as.")] = STRONG_WEIGHT,
    fmt: Annotated[OutputFormat, typer.Option("--format", help="table, json or csv.")] = OutputFormat.TABLE,
) -> None:
    """Arena-Hard-Auto's score of each model vs BASELINE from its judgment files (order rule: separate)."""
    found = read_arenahard(directory, baseline=baseline, judge=judge_name)
    scores = arenahard_scores(
        found.games, baseline=baseline, weight=weight, rounds=rounds, seed=seed, category=category
    )
    rows = [s.to_json() for s in scores]
    card = {**arenahard_card(weight, rounds, (0.05, 0.95), seed), "judge": judge_name, "category": category}

    def print_table() -> None:
        table = Table(title=f"Arena-Hard score vs {baseline}" + (f" ({category})" if category else ""))
        for column in ("model", "score", "90% CI", "questions", "battles", "dropped"):
            table.add_column(column, justify="left" if column == "model" else "right")
        for r in rows:
            table.add_row(
                r["model"],
                f"{r['score']:.1f}",
                f"[{r['ci_low']:.1f}, {r['ci_high']:.1f}]",
                str(r["n_questions"]),
                str(r["n_battles"]),
                str(r["n_dropped"]),
            )
        console.print(table)

    _emit_with_method(rows, card, fmt, print_table)


@import_app.command("arena")
@reports_errors
def import_arena(
    file: Annotated[Path, typer.Argument(help="Chatbot Arena battle log: clean_battle_*.json (array) or JSONL.")],
    set_name: SetOption = "arena",
) -> None:
    """Import Chatbot Arena battles: votes (incl. tie (bothbad)), conversations as prompts/responses, tags."""
    _write(read_arena_battles(file), set_name, create_missing=True, source=ARENA_SOURCE)


def _print_difference(label: str, block: dict[str, Any], unit: str = "") -> None:
    console.print(
        f"{label}: {block['estimate']:+.2f}{unit} [{block['ci_low']:+.2f}, {block['ci_high']:+.2f}], "
        f"P(A better) {block['p_a_better']:.3f}, p = {block['p_value']:.4f} (n {block['n']}, {block['method']})",
        highlight=False,
    )


@app.command("compare")
@reports_errors
def compare(
    a: Annotated[str, typer.Option("--a", help="Model A (or judge:MODEL with --gold).")],
    b: Annotated[str, typer.Option("--b", help="Model B (or judge:MODEL with --gold).")],
    set_name: Annotated[str | None, typer.Option("--set", help="Prompt set whose votes compare A and B.")] = None,
    source: Annotated[str, typer.Option(help="Votes: human or judge:MODEL[@RUBRIC].")] = "human",
    voters: Annotated[str | None, typer.Option(help="Only voters matching this glob.")] = None,
    gold: Annotated[str | None, typer.Option(help="Gold set: compare judges A and B on accuracy instead.")] = None,
    baseline: Annotated[str | None, typer.Option(help="Also compare win rates vs this model.")] = None,
    category: Annotated[str | None, typer.Option(help="Only prompts of this category.")] = None,
    order_rule: OrderRuleOption = OrderRule.AGREE,
    rounds: Annotated[int, typer.Option(help="Bootstrap rounds.")] = 200,
    seed: Annotated[int, typer.Option(help="Bootstrap seed.")] = 0,
    ci: Annotated[float, typer.Option(help="CI level.")] = 0.95,
    fmt: Annotated[OutputFormat, typer.Option("--format", help="table or json.")] = OutputFormat.TABLE,
) -> None:
    """Is A better than B? Differences with CIs, P(A better) from the bootstrap, paired tests, n and method."""
    with session_scope(open_store()) as session:
        if gold is not None:
            data = compare_judges_on_gold(session, gold_set=gold, a=a, b=b, rule=order_rule, seed=seed, ci=ci)
        elif set_name is None:
            raise InputError("give --set (or --gold SET for judges)", field="--set")
        else:
            data = compare_models(
                session,
                set_name=set_name,
                a=a,
                b=b,
                source=source,
                voters=voters,
                rule=order_rule,
                baseline=baseline,
                category=category,
                rounds=rounds,
                seed=seed,
                ci=ci,
            )
    if fmt is not OutputFormat.TABLE:
        print_json(json.dumps(data, default=str))
        return
    console.print(f"A = {a}, B = {b}", highlight=False)
    if gold is not None:
        for side in ("a", "b"):
            block = data[f"accuracy_{side}"]
            console.print(
                f"accuracy {side.upper()}: {block['count']}/{block['n']} = {block['rate']:.1%}", highlight=False
            )
        _print_difference("accuracy A - B", data["difference"])
        test = data["mcnemar"]
        console.print(
            f"McNemar: only A right {test['only_a']}, only B right {test['only_b']}, p = {test['p_value']:.4f}",
            highlight=False,
        )
    else:
        _print_difference("rating A - B", data["rating_difference"], " Elo")
        if "head_to_head" in data:
            head = data["head_to_head"]
            console.print(f"head to head: A wins {head['win_rate_a']:.1%} of {head['n_votes']} votes", highlight=False)
            _print_difference("  A's share - 0.5", head["a_minus_half"])
        if "win_rate_vs_baseline" in data:
            vs = data["win_rate_vs_baseline"]
            console.print(f"vs {vs['baseline']}: A {vs['win_rate_a']:.1f}%, B {vs['win_rate_b']:.1f}%", highlight=False)
            _print_difference("  win rate A - B", vs["difference"], " pts")
    console.print("method: " + json.dumps(data["method"], default=str), highlight=False)


@app.command("tag")
@reports_errors
def tag(
    set_name: SetOption,
    judge_model: Annotated[str, typer.Option("--judge", help="LiteLLM model that tags the prompts.")],
    rubric: Annotated[str, typer.Option(help="Tagging rubric: arena-hard, domains, or a YAML file.")] = "arena-hard",
    api_base: Annotated[str | None, typer.Option(help="OpenAI-compatible server for the judge.")] = None,
    concurrency: Annotated[int, typer.Option(help="Calls in flight.")] = 4,
) -> None:
    """Tag a set's prompts with a tagging rubric (stored with provenance); then --category tag:NAME, --by tag:NAME."""
    tag_rubric = load_tag_rubric(rubric)
    counts = asyncio.run(
        tag_prompts(
            open_store(),
            set_name=set_name,
            judge=JudgeSpec(model=judge_model, api_base=api_base),
            rubric=tag_rubric,
            client=LiteLLMClient(),
            concurrency=concurrency,
        )
    )
    tags = ", ".join(f"{k} {v}" for k, v in counts.tags.items()) or "none"
    console.print(
        f"set {set_name!r}, rubric {tag_rubric.id}: {counts.prompts} prompts, {counts.cached} already tagged, "
        f"{counts.ok} tagged, {counts.unparseable} unparseable, {counts.errors} failed (not stored); "
        f"tags found: {tags}; cost ${counts.cost_usd:.4f}",
        highlight=False,
    )
