"""Render :class:`ReportData` to one self-contained HTML page (Jinja, autoescaped; inline CSS and SVG, no JS)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Unpack

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from sqlmodel import Session

from judge.analysis.leaderboards import LeaderboardResult
from judge.ratings import Leaderboard
from judge.report.charts import ci_chart, heatmap, shade, shared_domain
from judge.report.data import ReportData, ReportOptions, collect_report

TEMPLATES = Path(__file__).parent / "templates"
BOARD_TITLES = {
    "raw": "Raw preference",
    "style": "Style-controlled",
    "correctness_rating": "Correctness rating",
    "correctness_controlled": "Correctness-controlled preference",
}


def pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.1%}"


def num(value: float | None, digits: int = 0) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def rate(block: dict[str, Any]) -> str:
    """``count/n = rate [low, high]`` of a JSON proportion (agreement blocks say agree/total)."""
    count = block.get("agree", block.get("count"))
    total = block.get("total", block.get("n"))
    if block.get("rate") is None:
        return f"{count}/{total}: no data"
    return f"{count}/{total} = {pct(block['rate'])} [{pct(block['ci_low'])}, {pct(block['ci_high'])}]"


def pretty(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html", "j2"], default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(pct=pct, num=num, rate=rate, pretty=pretty)
    return env


def _boards(data: ReportData) -> list[dict[str, Any]]:
    """Per source: its leaderboards side by side on one axis, its heatmap, its method cards."""
    out = []
    for section in data.leaderboards:
        entry: dict[str, Any] = {
            "source": section.source,
            "error": section.error,
            "boards": [],
            "heatmap": None,
            "significance": [],
        }
        if section.result is not None:
            result = section.result
            boards: dict[str, Leaderboard | None] = {
                "raw": result.raw,
                "style": result.style,
                "correctness_rating": result.correctness_rating,
                "correctness_controlled": result.correctness_controlled,
            }
            present = {k: b for k, b in boards.items() if b is not None}
            domain = shared_domain(list(present.values()))
            entry["n_votes"] = result.n_votes
            entry["boards"] = [
                {"title": BOARD_TITLES[k], "board": b, "chart": ci_chart(b, domain), "card": b.card()}
                for k, b in present.items()
            ]
            entry["significance"] = significance_rows(result)
        entry["categories"] = [
            {"name": name, "n_votes": board.n_votes, "rounds": board.raw.bootstrap_rounds, "rows": board.rows}
            for name, board in section.categories.items()
        ]
        entry["category_notes"] = section.category_notes
        if section.heatmap is not None:
            entry["heatmap"] = heatmap(section.heatmap)
        out.append(entry)
    return out


def significance_marks(result: LeaderboardResult, not_distinct: str) -> list[tuple[str, tuple[int, int], list[str]]]:
    """Each model in leaderboard order with its rank band and one mark per model: ``>``/``<`` where the
    Holm-adjusted p is below alpha (the row model above/below the column one), ``not_distinct`` where it is not,
    blank against itself; empty without a significance test."""
    sig = result.significance
    if sig is None:
        return []
    models = [row["model"] for row in result.rows]
    index = {m: k for k, m in enumerate(sig["models"])}
    marked = []
    for model in models:
        cells = []
        for other in models:
            i, j = index[model], index[other]
            if model == other:
                cells.append("")
            elif sig["p_adjusted"][i][j] < sig["alpha"]:
                cells.append(">" if sig["p_above"][i][j] > 0.5 else "<")
            else:
                cells.append(not_distinct)
        low, high = sig["rank_bands"][model]
        marked.append((model, (low, high), cells))
    return marked


def significance_rows(result: LeaderboardResult) -> list[dict[str, Any]]:
    """Rows of the significance matrix in leaderboard order: ``>``/``<`` where the Holm-adjusted p is below alpha."""
    return [
        {"model": model, "band": f"{low}–{high}", "cells": cells}
        for model, (low, high), cells in significance_marks(result, "·")
    ]


def _confusion(agreement: dict[str, Any] | None) -> list[list[tuple[int, str]]]:
    if agreement is None:
        return []
    counts: list[list[int]] = agreement["confusion"]["counts"]
    largest = max((c for row in counts for c in row), default=0)
    return [[(c, shade(c, largest)) for c in row] for row in counts]


def render_report(data: ReportData) -> str:
    """The report page as HTML text."""
    template = _environment().get_template("report.html.j2")
    return template.render(data=data, sections=_boards(data), confusion=_confusion(data.agreement))


def write_report(session: Session, run_id: int, path: Path, **options: Unpack[ReportOptions]) -> Path:
    """Write the HTML report of run ``run_id`` to ``path`` (parents created); returns the resolved path."""
    data = collect_report(session, run_id, **options)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_report(data), encoding="utf-8")
    return path.resolve()
