"""``judge import gold`` and ``judge import labels``: verifiable correctness as data (all or nothing per file)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from judge.cli.app import console, reports_errors
from judge.cli.store_commands import SetOption, import_app
from judge.importers.gold import read_gold, read_labels
from judge.store import open_store, session_scope
from judge.store.correctness import write_gold, write_labels
from judge.store.queries import get_set


@import_app.command("gold")
@reports_errors
def import_gold(
    file: Path,
    set_name: SetOption,
    replace: Annotated[bool, typer.Option(help="Overwrite gold answers stored with a different content.")] = False,
) -> None:
    """Import gold answers: {question_id, turn?, type, answer, tolerance?, choices?, variants?, ...} (JSONL or CSV)."""
    records = read_gold(file)
    with session_scope(open_store()) as session:
        counts = write_gold(session, prompt_set=get_set(session, name=set_name), records=records, replace=replace)
    console.print(
        f"set {set_name!r}: +{counts.added} gold answers, {counts.replaced} replaced, {counts.unchanged} unchanged "
        f"(read {len(records)})",
        highlight=False,
    )


@import_app.command("labels")
@reports_errors
def import_labels(
    file: Path,
    set_name: SetOption,
    source: Annotated[str, typer.Option(help="Name of the labels' source; use it as --grader labels:NAME.")],
) -> None:
    """Import correctness labels: {prompt_id, model, turn?, label, note?} (label correct|partially_correct|
    incorrect|no_answer; JSONL or CSV)."""
    records = read_labels(file)
    with session_scope(open_store()) as session:
        counts = write_labels(session, prompt_set=get_set(session, name=set_name), source=source, records=records)
    console.print(
        f"set {set_name!r}, labels {source!r}: +{counts.added} labels, {counts.replaced} changed, "
        f"{counts.unchanged} unchanged (read {len(records)}); use them as --grader labels:{source}",
        highlight=False,
    )
