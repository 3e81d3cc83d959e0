"""The fake OpenAI-compatible provider: rules, behaviours, request log, and HTTP edge cases."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from typing import Any

import httpx
import pytest

from judge.testing.fake_provider import Behaviour, FakeProvider, marked_label, prompt_text

pytest_plugins = ["tests.fixtures_llm"]


_HTTP = httpx.Client(timeout=5.0)


def chat(provider: FakeProvider, content: str, **extra: Any) -> httpx.Response:
    body = {"model": "fake-judge", "messages": [{"role": "user", "content": content}], **extra}
    return _HTTP.post(f"{provider.url}/chat/completions", json=body)


def pairwise_prompt(first: str, second: str) -> str:
    return (
        "Which answer is better?\n[The Start of Assistant A's Answer]\n"
        f"{first}\n[The End of Assistant A's Answer]\n"
        f"[The Start of Assistant B's Answer]\n{second}\n[The End of Assistant B's Answer]"
    )


def test_default_reply_is_an_openai_completion_with_usage(fake_provider: FakeProvider) -> None:
    response = chat(fake_provider, "one two three")
    assert response.status_code == 200
    body = response.json()
    assert body["object"] == "chat.completion"
    assert json.loads(body["choices"][0]["message"]["content"])["verdict"] == "A"
    assert body["usage"]["prompt_tokens"] == 3
    assert body["usage"]["total_tokens"] == 3 + body["usage"]["completion_tokens"]


def test_rules_match_in_order_and_times_limits_firings(fake_provider: FakeProvider) -> None:
    fake_provider.script(
        [
            {"contains": "flaky", "times": 2, "behaviour": {"kind": "error", "status": 500}},
            {"contains": "flaky", "behaviour": {"kind": "reply", "content": "recovered"}},
        ],
        default=Behaviour(kind="reply", content="default"),
    )
    statuses = [chat(fake_provider, "a flaky prompt").status_code for _ in range(3)]
    assert statuses == [500, 500, 200]
    assert chat(fake_provider, "a flaky prompt").json()["choices"][0]["message"]["content"] == "recovered"
    assert chat(fake_provider, "steady").json()["choices"][0]["message"]["content"] == "default"


def test_rate_limit_sends_retry_after(fake_provider: FakeProvider) -> None:
    fake_provider.script([{"behaviour": {"kind": "rate_limit", "retry_after": 2.5}}])
    response = chat(fake_provider, "x")
    assert response.status_code == 429
    assert response.headers["retry-after"] == "2.5"


def test_response_format_rule_rejects_only_structured_requests(fake_provider: FakeProvider) -> None:
    fake_provider.script([{"has_response_format": True, "behaviour": {"kind": "error", "status": 400}}])
    assert chat(fake_provider, "x", response_format={"type": "json_object"}).status_code == 400
    assert chat(fake_provider, "x").status_code == 200


def test_garbage_body_is_not_json(fake_provider: FakeProvider) -> None:
    fake_provider.script([{"behaviour": {"kind": "garbage"}}])
    response = chat(fake_provider, "x")
    assert response.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(response.text)


def test_hang_never_answers(fake_provider: FakeProvider) -> None:
    fake_provider.script([{"behaviour": {"kind": "hang"}}])
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(f"{fake_provider.url}/chat/completions", json={"messages": []}, timeout=0.3)


def test_prefer_marker_follows_the_marked_response_in_both_orders(fake_provider: FakeProvider) -> None:
    fake_provider.script([{"behaviour": {"kind": "prefer_marker", "marker": "GOLD"}}])
    first = chat(fake_provider, pairwise_prompt("GOLD answer", "plain answer"))
    second = chat(fake_provider, pairwise_prompt("plain answer", "GOLD answer"))
    verdicts = [json.loads(r.json()["choices"][0]["message"]["content"])["verdict"] for r in (first, second)]
    assert verdicts == ["A", "B"]


def test_marked_label_with_rival_and_missing_marker() -> None:
    rival = Behaviour(kind="prefer_marker", marker="GOLD", rival="LEAD", labels=("1", "2"))
    assert marked_label("LEAD then GOLD", rival) == "2"
    assert marked_label("GOLD then LEAD", rival) == "1"
    assert marked_label("neither", rival) == "tie"


def test_position_biased_always_answers_the_first_label(fake_provider: FakeProvider) -> None:
    fake_provider.script([{"behaviour": {"kind": "position_biased", "template": "[[{verdict}]]"}}])
    for prompt in (pairwise_prompt("GOLD", "x"), pairwise_prompt("x", "GOLD")):
        assert chat(fake_provider, prompt).json()["choices"][0]["message"]["content"] == "[[A]]"


def test_chaos_is_seeded_and_mixes_failures(fake_provider: FakeProvider) -> None:
    rule = {"behaviour": {"kind": "chaos", "failure_rate": 0.5, "failures": ["rate_limit", "error"], "seed": 7}}
    runs = []
    for _ in range(2):
        fake_provider.script([rule])
        runs.append([chat(fake_provider, "x").status_code for _ in range(30)])
    assert runs[0] == runs[1]
    assert {200, 429, 500} <= set(runs[0])


def test_prompt_text_is_the_last_user_message() -> None:
    body = {"messages": [{"role": "system", "content": "sys"}, {"role": "user", "content": "u1"}]}
    assert prompt_text(body) == "u1"
    assert prompt_text({"messages": [{"role": "system", "content": "only"}]}) == "only"


def test_request_log_records_body_model_status_and_time(fake_provider: FakeProvider) -> None:
    fake_provider.script([{"contains": "bad", "behaviour": {"kind": "error", "status": 401}}])
    chat(fake_provider, "good")
    chat(fake_provider, "bad")
    log = fake_provider.requests()
    assert [e["status"] for e in log] == [200, 401]
    assert log[1]["body"]["messages"][0]["content"] == "bad"
    assert log[0]["model"] == "fake-judge"
    assert log[0]["t"] <= log[1]["t"]
    fake_provider.reset()
    assert fake_provider.requests() == []


def test_bad_script_and_bad_body_get_400(fake_provider: FakeProvider) -> None:
    assert httpx.post(f"{fake_provider.root}/_script", content=b'{"rules": [{"nope": 1}]}').status_code == 400
    response = httpx.post(f"{fake_provider.url}/chat/completions", content=b"{not json")
    assert response.status_code == 400
    assert fake_provider.requests()[0]["status"] == 400


def test_keep_alive_and_chunked_bodies_on_one_connection(fake_provider: FakeProvider) -> None:
    body = json.dumps({"model": "m", "messages": [{"role": "user", "content": "hi"}]}).encode()
    chunked = f"{len(body):x}\r\n".encode() + body + b"\r\n0\r\n\r\n"
    head = f"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n\r\n"
    chunk_head = "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    with socket.create_connection(("127.0.0.1", fake_provider.port), timeout=5) as sock:
        sock.sendall(head.encode() + body + chunk_head.encode() + chunked)
        received = b""
        while received.count(b"HTTP/1.1 200") < 2:
            received += sock.recv(65536)
    assert len(fake_provider.requests()) == 2


async def test_serves_many_concurrent_keep_alive_connections_with_latency(fake_provider: FakeProvider) -> None:
    fake_provider.script([], default=Behaviour(kind="reply", content="ok", latency_ms=200))
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    async with httpx.AsyncClient(base_url=fake_provider.url, limits=limits, timeout=10) as client:

        async def one(i: int) -> int:
            body = {"model": "m", "messages": [{"role": "user", "content": f"q{i}"}]}
            return (await client.post("/chat/completions", json=body)).status_code

        statuses = await asyncio.gather(*(one(i) for i in range(128)))
    assert statuses == [200] * 128
    log = fake_provider.requests()
    assert len(log) == 128
    # 128 requests at 200 ms each served concurrently: arrivals overlap instead of queueing one by one.
    assert max(e["t"] for e in log) - min(e["t"] for e in log) < 128 * 0.2 / 4


def test_counts_calls_answered_distinct_and_cut_off(fake_provider: FakeProvider) -> None:
    fake_provider.script(default={"kind": "verdict", "latency_ms": 300})  # type: ignore[arg-type]
    for content in ("one", "one", "two"):
        assert chat(fake_provider, content).status_code == 200
    body = json.dumps({"model": "fake-judge", "messages": [{"role": "user", "content": "three"}]}).encode()
    head = f"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n\r\n"
    with socket.create_connection((fake_provider.host, fake_provider.port)) as client:  # killed mid-call
        client.sendall(head.encode() + body)
        deadline = time.monotonic() + 5
        while fake_provider.counts()["received"] < 4 and time.monotonic() < deadline:
            time.sleep(0.01)
    time.sleep(0.6)  # the cut-off call's latency passes: its answer finds nobody
    assert fake_provider.counts() == {"received": 4, "answered": 3, "aborted": 1, "distinct": 3}


def upload_lines(provider: FakeProvider, lines: list[dict[str, Any]]) -> str:
    content = "".join(json.dumps(line) + "\n" for line in lines).encode()
    uploaded = _HTTP.post(
        f"{provider.url}/files", files={"file": ("in.jsonl", content, "application/jsonl")}, data={"purpose": "batch"}
    )
    assert uploaded.status_code == 200, uploaded.text
    assert (uploaded.json()["purpose"], uploaded.json()["bytes"]) == ("batch", len(content))
    file_id: str = uploaded.json()["id"]
    assert _HTTP.get(f"{provider.url}/files/{file_id}/content").content == content
    return file_id


def batch_line(custom_id: str, content: str) -> dict[str, Any]:
    body = {"model": "fake-judge", "messages": [{"role": "user", "content": content}]}
    return {"custom_id": custom_id, "method": "POST", "url": "/v1/chat/completions", "body": body}


def test_batches_progress_per_poll_and_answer_lines_by_the_script(fake_provider: FakeProvider) -> None:
    fake_provider.script(
        [
            {"contains": "broken", "behaviour": {"kind": "error", "status": 401}},
            {"contains": "slow", "behaviour": {"kind": "hang"}},
        ],
        default=Behaviour(kind="verdict", label="B"),
        batch={"in_progress_polls": 2},
    )
    lines = [batch_line("k1", "fine"), batch_line("k2", "broken"), batch_line("k3", "slow")]
    created = _HTTP.post(
        f"{fake_provider.url}/batches",
        json={
            "input_file_id": upload_lines(fake_provider, lines),
            "endpoint": "/v1/chat/completions",
            "completion_window": "24h",
            "metadata": {"run": "7"},
        },
    ).json()
    assert created["status"] == "validating" and created["request_counts"]["total"] == 3
    polls = [_HTTP.get(f"{fake_provider.url}/batches/{created['id']}").json() for _ in range(4)]
    assert [p["status"] for p in polls] == ["in_progress", "in_progress", "in_progress", "completed"]
    done = polls[-1]
    assert done["request_counts"] == {"total": 3, "completed": 1, "failed": 2}
    output = [
        json.loads(x)
        for x in _HTTP.get(f"{fake_provider.url}/files/{done['output_file_id']}/content").text.splitlines()
    ]
    errors = [
        json.loads(x) for x in _HTTP.get(f"{fake_provider.url}/files/{done['error_file_id']}/content").text.splitlines()
    ]
    assert [o["custom_id"] for o in output] == ["k1"] and output[0]["response"]["status_code"] == 200
    assert json.loads(output[0]["response"]["body"]["choices"][0]["message"]["content"])["verdict"] == "B"
    assert {e["custom_id"]: (e["response"] or {}).get("status_code") for e in errors} == {"k2": 401, "k3": None}
    assert errors[1]["error"]["code"] == "batch_expired"
    assert fake_provider.counts()["received"] == 0  # batch lines are not chat calls
    listed = _HTTP.get(f"{fake_provider.url}/batches").json()["data"]
    assert [b["metadata"] for b in listed] == [{"run": "7"}]
    [summary] = fake_provider.batches()
    assert summary["custom_ids"] == ["k1", "k2", "k3"] and summary["status"] == "completed"


def test_batches_hold_fail_and_cancel_on_request(fake_provider: FakeProvider) -> None:
    fake_provider.script(batch={"hold": True})

    def new_batch() -> str:
        file_id = upload_lines(fake_provider, [batch_line("k1", "x")])
        created = _HTTP.post(f"{fake_provider.url}/batches", json={"input_file_id": file_id}).json()
        return str(created["id"])

    held = new_batch()
    statuses = [_HTTP.get(f"{fake_provider.url}/batches/{held}").json()["status"] for _ in range(5)]
    assert statuses == ["in_progress"] * 5
    assert _HTTP.post(f"{fake_provider.url}/batches/{held}/cancel").json()["status"] == "cancelling"
    assert _HTTP.get(f"{fake_provider.url}/batches/{held}").json()["status"] == "cancelled"

    fake_provider.script(batch={"fail": True})
    failed = _HTTP.get(f"{fake_provider.url}/batches/{new_batch()}").json()
    assert failed["status"] == "failed" and failed["output_file_id"] is None and failed["errors"]["data"]
    assert _HTTP.get(f"{fake_provider.url}/batches/batch_nope").status_code == 404
