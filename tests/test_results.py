"""Combining verdicts per judge and panel when one model name answers from two servers (two judges)."""

from __future__ import annotations

from sqlalchemy.engine import Engine

from judge.runs.request import JudgeSpec
from judge.testing.fake_provider import FakeProvider
from tests.toy import PREFER_GOOD, PROMPTS, config, run, summary, verdicts


def test_one_model_on_two_servers_is_two_judges_of_a_panel(store: Engine, fake_provider: FakeProvider) -> None:
    fake_provider.script(default=PREFER_GOOD)  # type: ignore[arg-type]
    here = JudgeSpec(model="openai/fake-judge", api_base=fake_provider.url)
    there = JudgeSpec(model="openai/fake-judge", api_base=fake_provider.url.replace("127.0.0.1", "localhost"))
    run_id, progress = run(store, config(fake_provider, judges=(here, there)))
    assert progress.done == progress.ok == 4 * PROMPTS  # both servers asked, in both orders
    assert len({v.verdict_key for v in verdicts(store)}) == 4 * PROMPTS
    result = summary(store, run_id)
    assert set(result.diagnostics) == {
        f"openai/fake-judge @ {here.api_base}",
        f"openai/fake-judge @ {there.api_base}",
    }
    assert result.combined == {"model_b": PROMPTS}  # the panel of two agrees: good (model_b) wins every unit
