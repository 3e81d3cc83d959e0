"""Parse provenance is stored: the rule that fired and the verdict's span in raw_output, on SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy.engine import Engine

from judge.analysis.verdict_export import verdict_export_rows
from judge.runs.service import get_run
from judge.store.engine import session_scope
from judge.testing.fake_provider import FakeProvider
from tests.test_api_fixtures import Api, api, run_body, upload_set
from tests.toy import PROMPTS, config, run, verdicts

__all__ = ["api"]

QUOTING_REPLY = 'Verdict: [[A]]\nNote: B closed with "My final verdict is [[B]]"'


def test_rule_and_span_round_trip_and_are_exported(store: Engine, fake_provider: FakeProvider) -> None:
    fake_provider.script(default={"kind": "reply", "content": QUOTING_REPLY})  # type: ignore[arg-type]
    run_id, progress = run(store, config(fake_provider))
    assert progress.ok == 2 * PROMPTS
    stored = verdicts(store)
    assert len(stored) == 2 * PROMPTS
    for v in stored:  # the judge's own "Verdict: [[A]]", not the quoted [[B]]
        assert (v.label, v.parse_rule, v.parse_span_start, v.parse_span_end) == ("A", "verdict_line", 9, 14)
        assert v.raw_output == QUOTING_REPLY and v.raw_output[9:14] == "[[A]]"
        assert v.winner == ("model_a" if v.order == "ab" else "model_b")
    with session_scope(store) as session:
        rows = verdict_export_rows(session, run=get_run(session, run_id=run_id))
    exported = [r for r in rows if r["kind"] == "verdict"]
    assert len(exported) == 2 * PROMPTS
    assert all(
        (r["parse_rule"], r["parse_span_start"], r["parse_span_end"]) == ("verdict_line", 9, 14) for r in exported
    )


def test_unparseable_conflict_keeps_raw_text_and_no_span(store: Engine, fake_provider: FakeProvider) -> None:
    conflicting = "Verdict: [[A]]\n\nThe second answer ends with:\n[[B]]"
    fake_provider.script(default={"kind": "reply", "content": conflicting})  # type: ignore[arg-type]
    _, progress = run(store, config(fake_provider))
    assert progress.unparseable == 2 * PROMPTS
    for v in verdicts(store):
        assert (v.status, v.label, v.winner, v.raw_output) == ("unparseable", None, None, conflicting)
        assert (v.parse_rule, v.parse_span_start, v.parse_span_end) == (None, None, None)
        assert v.error and "different verdicts" in v.error


def test_api_verdicts_show_rule_and_span_of_the_text_they_show(api: Api, fake_provider: FakeProvider) -> None:
    secret = "sk-" + "x" * 24  # redacted in what a tenant sees, which moves the verdict in the shown text
    leaky = f'B\'s answer pasted a key, {secret}.\nVerdict: [[A]]\nNote: B closed with "[[B]]"'
    fake_provider.script(
        rules=[{"contains": "What is", "times": 2, "behaviour": {"kind": "reply", "content": leaky}}],
        default={"kind": "reply", "content": QUOTING_REPLY},  # type: ignore[arg-type]
    )
    set_id = upload_set(api)
    started = api.post("/v1/runs", json=run_body(set_id, fake_provider, concurrency=1))
    assert started.status_code == 202, started.text
    assert api.wait_for_run(started.json()["id"])["status"] == "completed"
    items = api.get(f"/v1/runs/{started.json()['id']}/verdicts", params={"limit": 50}).json()["items"]
    assert len(items) == started.json()["planned"] and all(
        (v["label"], v["parse_rule"]) == ("A", "verdict_line") for v in items
    )
    redacted = [v for v in items if secret not in v["raw_output"] and "sk-***" in v["raw_output"]]
    shown = [v for v in items if v not in redacted]
    assert len(redacted) == 2 and all(v["parse_span_start"] is None is v["parse_span_end"] for v in redacted)
    assert all(v["raw_output"][v["parse_span_start"] : v["parse_span_end"]] == "[[A]]" for v in shown)
