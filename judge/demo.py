"""``make demo``: the main job on embedded defaults, end to end on the vendored MT-Bench sample."""

from __future__ import annotations

from pathlib import Path

from judge.cli.app import console
from judge.importers.mtbench import read_mtbench
from judge.settings import get_settings
from judge.store import open_store, session_scope
from judge.store.engine import redact_url
from judge.store.ingest import write_bundle
from judge.store.queries import get_set, summarize_set

SAMPLE_DIR = Path(__file__).resolve().parent.parent / "data" / "mt_bench"
SET_NAME = "mt_bench"


def main() -> None:
    """Import the sample and show what the store holds."""
    engine = open_store()
    console.rule("1. import the vendored MT-Bench sample")
    with session_scope(engine) as session:
        counts = write_bundle(session, set_name=SET_NAME, bundle=read_mtbench(SAMPLE_DIR), source="human")
        summary = summarize_set(session, prompt_set=get_set(session, name=SET_NAME))
    console.print(f"database {redact_url(get_settings().database_url)}: added {counts.model_dump()}")
    console.print(summary.model_dump())


if __name__ == "__main__":
    main()
