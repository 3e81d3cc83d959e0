"""Commands over the store: init, db upgrade, import, export, sets."""

from __future__ import annotations

import io
import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from judge.analysis.table_export import csv_text
from judge.cli.app import app, console, reports_errors
from judge.importers.bundle import ImportBundle
from judge.importers.generic import read_prompts, read_responses
from judge.importers.llmbar import read_llmbar
from judge.importers.mtbench import read_mtbench
from judge.settings import get_settings
from judge.store import head_revision, open_store, session_scope, upgrade_database
from judge.store.engine import current_revision, get_engine, redact_url
from judge.store.ingest import ImportCounts, write_bundle
from judge.store.queries import get_set, list_sets, summarize_set, vote_rows

db_app = typer.Typer(help="Database schema migrations.", no_args_is_help=True)
import_app = typer.Typer(help="Import prompts, responses and votes (all or nothing per file).", no_args_is_help=True)
export_app = typer.Typer(help="Export votes or verdicts as JSONL or CSV.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(import_app, name="import")
app.add_typer(export_app, name="export")


class ExportFormat(StrEnum):
    """File formats of ``judge export``."""

    JSONL = "jsonl"
    CSV = "csv"


SetOption = Annotated[str, typer.Option("--set", help="Name of the prompt set.")]
CreateMissing = Annotated[
    bool,
    typer.Option("--create-missing", help="Create prompts and models that votes mention but the set lacks."),
]


@app.command()
@reports_errors
def init() -> None:
    """Create the database, or migrate it to this version's schema."""
    url = get_settings().database_url
    upgrade_database(url)
    console.print(f"database {redact_url(url)} at schema {head_revision()}")


@db_app.command("upgrade")
@reports_errors
def db_upgrade(revision: Annotated[str, typer.Argument(help="Target revision.")] = "head") -> None:
    """Run the Alembic migrations up to REVISION."""
    url = get_settings().database_url
    upgrade_database(url, revision)
    console.print(f"database {redact_url(url)} at schema {current_revision(get_engine(url))}")


@db_app.command("current")
@reports_errors
def db_current() -> None:
    """Print the schema revision of the database."""
    url = get_settings().database_url
    console.print(f"{redact_url(url)}: {current_revision(get_engine(url)) or 'empty'} (head {head_revision()})")


def _write(bundle: ImportBundle, set_name: str, create_missing: bool, source: str = "import") -> ImportCounts:
    with session_scope(open_store()) as session:
        counts = write_bundle(session, set_name=set_name, bundle=bundle, create_missing=create_missing, source=source)
    _print_counts(set_name, counts, len(bundle.prompts), len(bundle.responses), len(bundle.votes))
    return counts


def _print_counts(set_name: str, counts: ImportCounts, prompts: int, responses: int, votes: int) -> None:
    console.print(
        f"set {set_name!r}: +{counts.prompts_added} prompts, +{counts.references_added} references, "
        f"+{counts.responses_added} responses, +{counts.votes_added} votes "
        f"(read {prompts} prompts, {responses} responses, {votes} votes)"
    )


@import_app.command("mtbench")
@reports_errors
def import_mtbench(
    directory: Annotated[Path, typer.Argument(help="MT-Bench directory (question.jsonl, model_answer/...).")],
    set_name: SetOption = "mt_bench",
    votes: Annotated[Path | None, typer.Option(help="Human judgments JSONL outside DIRECTORY.")] = None,
) -> None:
    """Import MT-Bench questions, reference answers, model answers and human votes."""
    _write(read_mtbench(directory, votes), set_name, create_missing=False, source="human")


@import_app.command("prompts")
@reports_errors
def import_prompts(file: Path, set_name: SetOption) -> None:
    """Import prompts: {prompt_id, turns | prompt, category?, reference?} per line (JSONL or CSV)."""
    _write(ImportBundle(prompts=read_prompts(file)), set_name, create_missing=False)


@import_app.command("responses")
@reports_errors
def import_responses(file: Path, set_name: SetOption, create_missing: CreateMissing = False) -> None:
    """Import responses: {prompt_id, model, turns | response} per line (JSONL or CSV)."""
    _write(ImportBundle(responses=read_responses(file)), set_name, create_missing)


@import_app.command("votes")
@reports_errors
def import_votes(
    file: Path,
    set_name: SetOption,
    create_missing: CreateMissing = False,
    source: Annotated[str, typer.Option(help="Where the votes come from (stored with each vote).")] = "human",
) -> None:
    """Import votes: {prompt_id, model_a, model_b, winner, voter?, turn?, category?, tstamp?} (or Arena battles).

    JSONL, CSV or Parquet, read column-wise and written in bulk; importing a file again adds nothing."""
    from judge.importers.columnar import read_vote_file
    from judge.store.bulk_votes import write_votes

    votes = read_vote_file(file)
    with session_scope(open_store()) as session:
        counts = write_votes(session, set_name=set_name, votes=votes, create_missing=create_missing, source=source)
    _print_counts(set_name, counts, 0, 0, len(votes))


@import_app.command("llmbar")
@reports_errors
def import_llmbar(file: Path, set_name: SetOption) -> None:
    """Import an LLMBar file (input, output_1, output_2, label) as prompts, pairs and gold votes."""
    _write(read_llmbar(file), set_name, create_missing=False, source="gold")


def emit_rows(rows: list[dict[str, Any]], fmt: ExportFormat, out: Path | None) -> None:
    """Write rows as JSONL (the exact text) or CSV (formula-safe cells,
    :func:`judge.analysis.table_export.csv_text`) to ``out`` (or stdout)."""
    buffer = io.StringIO()
    if fmt is ExportFormat.JSONL:
        for row in rows:
            buffer.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")
    else:
        buffer.write(csv_text(rows))
    if out is None:
        sys.stdout.write(buffer.getvalue())
    else:
        out.write_text(buffer.getvalue(), encoding="utf-8")
        console.print(f"wrote {len(rows)} rows to {out}", highlight=False)


FormatOption = Annotated[ExportFormat, typer.Option("--format", help="Output format.")]
OutOption = Annotated[Path | None, typer.Option("--out", help="Write to this file instead of stdout.")]


@export_app.command("votes")
@reports_errors
def export_votes(
    set_name: SetOption,
    fmt: FormatOption = ExportFormat.JSONL,
    out: OutOption = None,
    voters: Annotated[str | None, typer.Option(help="Only voters matching this glob, e.g. 'expert_*'.")] = None,
) -> None:
    """Export a set's votes in the import schema."""
    with session_scope(open_store()) as session:
        rows = vote_rows(session, prompt_set=get_set(session, name=set_name), voters=voters)
    emit_rows(rows, fmt, out)


@app.command("sets")
@reports_errors
def sets() -> None:
    """What the store holds: every prompt set with its counts."""
    with session_scope(open_store()) as session:
        summaries = [summarize_set(session, prompt_set=s) for s in list_sets(session)]
    table = Table(title=f"prompt sets in {redact_url(get_settings().database_url)}")
    for column in ("set", "prompts", "refs", "responses", "models", "votes", "voters", "conflicts", "runs", "verdicts"):
        table.add_column(column, justify="left" if column == "set" else "right", no_wrap=True)
    for s in summaries:
        table.add_row(
            s.name,
            *(
                str(v)
                for v in (
                    s.prompts,
                    s.with_reference,
                    s.responses,
                    s.models,
                    s.votes,
                    s.voters,
                    s.conflicts,
                    s.runs,
                    s.verdicts,
                )
            ),
        )
    console.print(table)
