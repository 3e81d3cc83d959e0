"""Reasoning models reject temperature=0: the parameter is left out (LiteLLM says which), recorded, never an error."""

from __future__ import annotations

from sqlalchemy.engine import Engine

from judge.llm.client import SamplingParams
from judge.llm.params import sampling_notes, supported_sampling
from judge.runs.request import JudgeSpec
from judge.testing.fake_provider import FakeProvider
from tests.toy import PREFER_GOOD, PROMPTS, config, run, summary, verdicts


def test_litellm_says_what_a_reasoning_model_rejects() -> None:
    o1 = supported_sampling("openai/o1", SamplingParams(temperature=0.0, top_p=0.5, seed=7))
    assert o1.sent.recorded() == {"seed": 7}
    assert o1.recorded() == {"seed": 7, "dropped": {"temperature": 0.0, "top_p": 0.5}}
    assert "temperature=1" in o1.reasons["temperature"] and "drop_params" not in o1.reasons["temperature"]
    hot = supported_sampling("openai/o1", SamplingParams(temperature=1.0))
    assert hot.recorded() == {"temperature": 1.0} and hot.note("openai/o1") is None
    plain = supported_sampling("openai/fake-judge", SamplingParams())
    assert plain.recorded() == {"temperature": 0.0} and not plain.dropped
    assert sampling_notes(["openai/fake-judge"], SamplingParams()) == {}
    notes = sampling_notes(["openai/fake-judge", "openai/o3-mini"], SamplingParams())["sampling_notes"]
    assert len(notes) == 1 and notes[0].startswith("openai/o3-mini: temperature=0.0 not sent")


def test_a_reasoning_judge_at_temperature_zero_gives_verdicts_not_errors(
    store: Engine, fake_provider: FakeProvider
) -> None:
    fake_provider.script(default=PREFER_GOOD)  # type: ignore[arg-type]
    panel = (
        JudgeSpec(model="openai/o1", api_base=fake_provider.url),
        JudgeSpec(model="openai/fake-judge", api_base=fake_provider.url),
    )
    run_id, progress = run(store, config(fake_provider, judges=panel))
    assert (progress.ok, progress.error) == (4 * PROMPTS, 0)
    sent = {r["body"]["model"]: r["body"] for r in fake_provider.requests()}
    assert "temperature" not in sent["o1"] and sent["fake-judge"]["temperature"] == 0.0
    by_judge = {v.judge_model: v.sampling for v in verdicts(store)}
    assert by_judge == {"openai/o1": {"dropped": {"temperature": 0.0}}, "openai/fake-judge": {"temperature": 0.0}}
    method = summary(store, run_id).method
    assert method["sampling"] == {"temperature": 0.0}
    assert [n.split(":")[0] for n in method["sampling_notes"]] == ["openai/o1"]
