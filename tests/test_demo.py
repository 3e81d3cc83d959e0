"""The demo's deterministic part end to end (no local model: JUDGE_DEMO_PAIRS=0, JUDGE_DEMO_GRADES=0)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from judge.cli import demo


def test_demo_grades_audits_and_reports_without_a_model(
    judge_env: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    judge_env.setenv("JUDGE_DATABASE_URL", f"sqlite:///{tmp_path / 'demo.db'}")
    judge_env.setenv("JUDGE_DEMO_PAIRS", "0")
    judge_env.setenv("JUDGE_DEMO_GRADES", "0")
    judge_env.setenv("COLUMNS", "200")
    judge_env.chdir(tmp_path)
    demo.main()
    out = " ".join(capsys.readouterr().out.split())
    assert "102 verdicts planned" in out and "ok / unparseable / error / missing" in out
    sentence = re.search(r"Of 1343 expert votes, (\d+) compare two gold-graded answers", out)
    assert sentence is not None and int(sentence.group(1)) > 0
    assert re.search(r"experts preferred the wrong one \d+ times in \d+; \d+ decisive votes", out)
    assert "correctness-aware" in out
    assert (tmp_path / "judge-report.html").is_file()
    demo.main()  # a rerun grades nothing again
    assert "0 / 102" in " ".join(capsys.readouterr().out.split())
