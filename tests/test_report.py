"""The HTML run report: content from a real run (fake provider), escaping of untrusted text, and a headless
Chromium load with a screenshot and no console errors."""

from __future__ import annotations

import asyncio
import re
import subprocess
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from judge.core.protocols.order_rules import OrderRule
from judge.core.types import Winner
from judge.importers.bundle import ImportBundle
from judge.importers.records import PromptRecord, ResponseRecord, VoteRecord
from judge.llm.client import LiteLLMClient
from judge.llm.retry import RetryPolicy
from judge.report import collect_report, write_report
from judge.runs.request import JudgeSpec, RunConfig
from judge.runs.service import create_run, execute_run
from judge.store.engine import make_engine, session_scope, upgrade_database
from judge.store.ingest import write_bundle
from judge.testing.fake_provider import FakeProvider
from tests.cdp import HEADLESS_FLAGS, chromium
from tests.conftest import unavailable

MODELS = ("good", "meh", "bad")
PROMPTS = 6
HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'
FAST = RetryPolicy(max_attempts=2, base_s=0.01, cap_s=0.05)


def bundle() -> ImportBundle:
    """Three models on six prompts; the 'bad' answers carry hostile markup; humans mostly prefer good > meh > bad."""
    prompts = [
        PromptRecord(prompt_id=f"p{i}", turns=[f"Q{i} {HOSTILE}"], reference_turns=[f"A{i}"]) for i in range(PROMPTS)
    ]
    responses = [
        ResponseRecord(
            prompt_id=f"p{i}", model=m, turns=[f"{m} {i} MARKER-{m.upper()}" + (HOSTILE if m == "bad" else "")]
        )
        for i in range(PROMPTS)
        for m in MODELS
    ]
    votes = []
    for i in range(PROMPTS):
        for a, b in (("good", "meh"), ("meh", "bad"), ("good", "bad")):
            upset = i == 0 and a == "meh"  # one upset keeps the ratings finite
            votes.append(
                VoteRecord(
                    prompt_id=f"p{i}",
                    model_a=a,
                    model_b=b,
                    winner=Winner.MODEL_B if upset else Winner.MODEL_A,
                    voter=f"h{i % 2}",
                )
            )
    return ImportBundle(prompts=prompts, responses=responses, votes=votes)


@pytest.fixture
def reported_run(tmp_path: Path, fake_provider: FakeProvider) -> tuple[Engine, int]:
    """A pairwise run (the judge prefers 'good' over anything) and a correctness run ('good' is graded incorrect,
    so the judge's preferences for it are preferred-but-wrong audit examples)."""
    url = f"sqlite:///{tmp_path / 'report.db'}"
    upgrade_database(url)
    engine = make_engine(url)
    with session_scope(engine) as session:
        write_bundle(session, set_name="toy", bundle=bundle())
    fake_provider.script(
        rules=[
            {
                "contains": "MARKER-GOOD",
                "has_response_format": True,
                "model": "grader",
                "behaviour": {"kind": "reply", "content": '{"reason": "wrong </pre><b>", "verdict": "incorrect"}'},
            },
            {
                "model": "grader",
                "behaviour": {"kind": "reply", "content": '{"reason": "ok", "verdict": "correct"}'},
            },
        ],
        default={"kind": "prefer_marker", "marker": "MARKER-GOOD", "label_missing": "A"},  # type: ignore[arg-type]
    )
    run_ids = []
    for judge, rubric in (("openai/fake-judge", "pairwise"), ("openai/grader", "correctness")):
        config = RunConfig(
            set_name="toy",
            judges=(JudgeSpec(model=judge, api_base=fake_provider.url),),
            rubric=rubric,
            pairs="human-voted",
            timeout_s=5,
            concurrency=8,
        )
        with session_scope(engine) as session:
            run, _ = create_run(session, config=config)
        assert run.id is not None
        asyncio.run(execute_run(engine, run.id, LiteLLMClient(FAST)))
        run_ids.append(run.id)
    return engine, run_ids[0]


def test_report_shows_every_section_and_escapes_untrusted_text(
    reported_run: tuple[Engine, int], tmp_path: Path
) -> None:
    engine, run_id = reported_run
    with session_scope(engine) as session:
        path = write_report(session, run_id, tmp_path / "out" / "report.html", bootstrap=30)
    html = path.read_text()
    assert path.is_absolute() and html.startswith("<!DOCTYPE html>")
    for heading in (
        "Leaderboards from judge:openai/fake-judge@pairwise",
        "Leaderboards from human",
        "Raw preference",
        "Style-controlled",
        "Correctness rating",
        "Predicted win rates",
        "Agreement: judge:openai/fake-judge@pairwise vs human",
        "Audit: preferences of judge:openai/fake-judge@pairwise against openai/grader",
    ):
        assert heading in html, heading
    assert "<script" not in html and "onerror=alert" not in html.replace("onerror=alert(1)&gt;", "")
    assert "&lt;script&gt;alert(" in html  # the hostile text is shown, escaped
    assert not re.search(r"(src|href)=\"(https?:)?//", html)  # nothing external
    assert html.count("<rect x=") == 2 * len(MODELS) ** 2  # a 3×3 heatmap per source
    first_rows = re.findall(r"<tr><td class=\"n\">1</td><td>(\w+)</td>", html)
    assert first_rows[0] == "good"  # the judge's raw leaderboard
    assert "preferred <strong>good</strong> (incorrect: wrong &lt;/pre&gt;&lt;b&gt;)" in html


def test_report_renders_in_headless_chromium(reported_run: tuple[Engine, int], tmp_path: Path) -> None:
    browser = chromium()
    if browser is None:
        unavailable("chromium is not installed (apt-get install -y chromium chromium-driver)")
        return
    engine, run_id = reported_run
    with session_scope(engine) as session:
        path = write_report(session, run_id, tmp_path / "report.html", bootstrap=30)
    shot = tmp_path / "report.png"
    result = subprocess.run(
        [
            browser,
            *HEADLESS_FLAGS,
            f"--user-data-dir={tmp_path / 'profile'}",
            "--enable-logging=stderr",
            "--v=0",
            f"--screenshot={shot}",
            "--window-size=1400,2400",
            path.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    console = [line for line in result.stderr.splitlines() if "CONSOLE" in line or "Uncaught" in line]
    assert console == [], console
    assert shot.stat().st_size > 20_000 and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_report_names_the_order_rule(reported_run: tuple[Engine, int], tmp_path: Path) -> None:
    engine, run_id = reported_run
    with session_scope(engine) as session:
        path = write_report(session, run_id, tmp_path / "separate.html", bootstrap=10, order_rule=OrderRule.SEPARATE)
    html = path.read_text()
    # each order is its own battle: the judge (prefers 'good' in both orders) gives twice as many outcomes
    assert "<th>order rule</th><td>separate</td>" in html and "&#34;order_rule&#34;: &#34;separate&#34;" in html
    combined = re.search(r"<th>combined outcomes</th><td>([^<]*)</td>", html)
    assert combined is not None
    with session_scope(engine) as session:
        agree = write_report(session, run_id, tmp_path / "agree.html", bootstrap=10).read_text()
    agreed = re.search(r"<th>combined outcomes</th><td>([^<]*)</td>", agree)
    assert agreed is not None
    total = sum(int(part.split()[-1]) for part in combined.group(1).split(", "))
    assert total == 2 * sum(int(part.split()[-1]) for part in agreed.group(1).split(", "))


def test_a_section_left_out_says_why(reported_run: tuple[Engine, int]) -> None:
    engine, run_id = reported_run
    with session_scope(engine) as session:
        data = collect_report(session, run_id, grader="labels:nobody", bootstrap=10)
    assert data.audit is None and data.agreement is not None
    assert [n for n in data.notes if n.startswith("audit: ")] == [
        "audit: grader: no labels from source 'nobody' in set 'toy' (label sources: none; "
        "import with `judge import labels`)"
    ]
