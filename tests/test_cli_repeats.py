"""``judge run --repeats`` and ``--order-rule`` on the command line (vendored MT-Bench sample, fake provider)."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from judge.cli import app
from judge.testing.fake_provider import FakeProvider
from tests.test_cli import cli_db, judge

__all__ = ["cli_db"]


def test_run_with_repeats_and_order_rules(cli_db: Path, fake_provider: FakeProvider) -> None:
    # a judge that always picks the first response shown: every sample's two orders disagree (a tie), alike
    fake_provider.script(default={"kind": "position_biased"})  # type: ignore[arg-type]
    base = ["--set", "mt_bench", "--judge", "openai/fake", "--api-base", fake_provider.url, "--voters", "expert_*"]
    out = judge("run", *base, "--limit", "3", "--repeats", "3", "--temperature", "0.7")
    assert "3 units, 18 verdicts planned" in out
    assert "samples per verdict" in out and "openai/fake: self-consistency" in out and "3/3 = 100.0%" in out
    assert len(fake_provider.requests()) == 18

    shown = json.loads(judge("runs", "show", "1", "--json"))
    assert shown["combined"] == {"tie": 3} and shown["order_rule"] == "agree"
    assert shown["repeats"]["n"] == 3 and shown["method"]["repeats"] == 3
    spread = shown["repeats"]["spread"]["openai/fake"]
    assert all(s["per_sample"] == [0.5, 0.5, 0.5] for s in spread.values())  # ties only: half a point each

    separate = json.loads(judge("runs", "show", "1", "--json", "--order-rule", "separate"))
    assert separate["combined"] == {"model_a": 3, "model_b": 3} and separate["units"] == 3  # first shown, each order
    assert separate["method"]["order_rule"] == "separate"
    assert "order rule" in judge("runs", "show", "1", "--order-rule", "sum")

    refused = CliRunner().invoke(app, ["run", *base, "--repeats", "0"])
    assert refused.exit_code == 2 and "repeats" in refused.output
