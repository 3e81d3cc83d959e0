"""The report page's significance matrix and per-category boards (on the report test's real run)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import Engine
from sqlmodel import select

from judge.report import write_report
from judge.store.engine import session_scope
from judge.store.tables import Prompt
from tests.test_report import reported_run  # noqa: F401  (the fixture)


def test_report_shows_significance_and_category_boards(reported_run: tuple[Engine, int], tmp_path: Path) -> None:  # noqa: F811
    engine, run_id = reported_run
    with session_scope(engine) as session:
        for prompt in session.exec(select(Prompt)):
            prompt.category = "even" if int(prompt.external_id[1:]) % 2 == 0 else "odd"
            session.add(prompt)
    with session_scope(engine) as session:
        html = write_report(session, run_id, tmp_path / "report.html", bootstrap=30).read_text()
    assert "Significance (human)" in html and "rank band" in html
    assert "Category boards (human)" in html
    assert "<h4>even (9 votes, 30 rounds)</h4>" in html and "<h4>odd (9 votes, 30 rounds)</h4>" in html
