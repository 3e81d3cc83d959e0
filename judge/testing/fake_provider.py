"""A fake OpenAI-compatible chat-completions server for tests and benchmarks.

Pure asyncio HTTP/1.1 with keep-alive, run in its own process so it never shares a GIL with the client
(``python -m judge.testing.fake_provider --port 0`` prints ``PORT <n>``). Each request is answered by the
first matching :class:`Rule` (or the default behaviour) and logged. Control: ``GET /_log``, ``POST /_script``
(body ``{"rules": [...], "default": {...}}``), ``POST /_reset``; ``GET /v1/models`` for health; ``GET /_count``:
the chat calls received, answered (the reply went out) and aborted (the client had hung up before its reply),
and how many distinct requests (model and messages) they were.

Behaviours (``kind``): ``reply`` (fixed content), ``verdict`` (a fixed label in ``template``),
``position_biased`` (always the first label), ``prefer_marker`` (the label of the response containing
``marker``), ``rate_limit`` (429 + Retry-After), ``error`` (any status), ``hang`` (never answers),
``garbage`` (200, non-JSON body), ``chaos`` (seeded mix of failures at ``failure_rate``, else ``content``),
``sequence`` (the k-th time one same request (model and messages) gets this behaviour, ``steps[k % len]``
answers it: a judge whose repeated samples vary), ``bradley_terry`` (a simulated judge at known ratings: the two
responses name their models by ``model_marker``, e.g. ``[model:m3 prompt:p17]``; the first label wins with the
Bradley-Terry probability of ``ratings`` (Elo scale, per model name), ties at ``tie_rate``, drawn from a hash of
``seed`` and the two markers as shown: the same request always gets the same answer,
:func:`bradley_terry_label`).

The OpenAI batch API too: ``POST /v1/files`` (multipart upload), ``GET /v1/files/{id}`` and ``.../content``,
``POST /v1/batches``, ``GET /v1/batches`` and ``/v1/batches/{id}``, ``POST /v1/batches/{id}/cancel``. Each
``GET`` of a batch moves it one step along validating -> in_progress -> completed (``Script.batch``: how many
polls it stays in progress, ``hold`` to keep it there, ``fail`` to fail it whole); when it completes, every JSONL
request line is answered by the same rules and behaviours as a live call, a 200 into the output file and any other
answer (or a hang: ``batch_expired``) into the error file (or the output file, with ``errors_in_output``).
``GET /_batches``: every batch created, with its lines' ``custom_id`` s (the chat-call counters of ``/_count``
do not include batch lines).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import os
import random
import re
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field

DEFAULT_TEMPLATE = '{"reason": "fake judge", "verdict": "{verdict}"}'
# Where the second response of a pairwise prompt starts, for ``prefer_marker`` without a ``rival``.
DEFAULT_SECOND_RESPONSE = r"(?i)assistant b|response b|answer b|output \(b\)|response_b|answer_b"
_STATUS_TEXT = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    429: "Too Many Requests",
}

BehaviourKind = Literal[
    "reply",
    "verdict",
    "position_biased",
    "prefer_marker",
    "rate_limit",
    "error",
    "hang",
    "garbage",
    "chaos",
    "sequence",
    "bradley_terry",
]
DEFAULT_MODEL_MARKER = r"\[model:(?P<model>[^\]\s]+)[^\]]*\]"


class Behaviour(BaseModel):
    """How the fake answers one request."""

    model_config = ConfigDict(extra="forbid")

    kind: BehaviourKind = "reply"
    content: str = DEFAULT_TEMPLATE.replace("{verdict}", "A")
    latency_ms: float = 0.0
    template: str = DEFAULT_TEMPLATE
    label: str = "A"
    labels: tuple[str, str] = ("A", "B")
    label_missing: str = "tie"
    marker: str = ""
    rival: str | None = None
    second_response: str = DEFAULT_SECOND_RESPONSE
    retry_after: float | None = 1.0
    status: int = 500
    message: str = "fake provider error"
    hang_s: float = 3600.0
    failure_rate: float = 0.3
    failures: tuple[Literal["rate_limit", "error", "hang"], ...] = ("rate_limit", "error", "hang")
    seed: int = 0
    steps: list[Behaviour] = Field(default_factory=list)
    ratings: dict[str, float] = Field(default_factory=dict)
    tie_rate: float = 0.0
    tie_label: str = "tie"
    model_marker: str = DEFAULT_MODEL_MARKER


class Rule(BaseModel):
    """A behaviour for requests that match every given condition; ``times`` limits how often it fires."""

    model_config = ConfigDict(extra="forbid")

    contains: str | None = None
    model: str | None = None
    has_response_format: bool | None = None
    times: int | None = None
    behaviour: Behaviour = Field(default_factory=Behaviour)


class BatchScript(BaseModel):
    """How batches progress: ``in_progress_polls`` polls in progress before completing (never while ``hold``);
    ``fail``: the batch fails whole at validation (no output); ``errors_in_output``: failed lines go to the
    output file with their non-200 status instead of the error file."""

    model_config = ConfigDict(extra="forbid")

    in_progress_polls: int = Field(default=1, ge=0)
    hold: bool = False
    fail: bool = False
    errors_in_output: bool = False


class Script(BaseModel):
    """The rules tried in order, the behaviour when none matches, and how batches progress."""

    model_config = ConfigDict(extra="forbid")

    rules: list[Rule] = Field(default_factory=list)
    default: Behaviour = Field(default_factory=Behaviour)
    batch: BatchScript = Field(default_factory=BatchScript)


class Reply(BaseModel):
    """An HTTP answer (``None`` status: hang up without answering); ``call``: it answers a chat call."""

    status: int | None
    body: bytes = b""
    headers: dict[str, str] = Field(default_factory=dict)
    call: bool = False


def prompt_text(body: dict[str, Any]) -> str:
    """The content of the last user message (all messages when there is no user message)."""
    messages = [m for m in body.get("messages", []) if isinstance(m, dict)]
    users = [m for m in messages if m.get("role") == "user"]
    chosen = users[-1:] if users else messages
    return "\n".join(str(m.get("content", "")) for m in chosen)


def marked_label(text: str, b: Behaviour) -> str:
    """The label of the response (first or second in ``text``) that contains ``b.marker``."""
    at = text.find(b.marker) if b.marker else -1
    if at < 0:
        return b.label_missing
    if b.rival is not None:
        rival_at = text.find(b.rival)
        return b.labels[0] if rival_at < 0 or at < rival_at else b.labels[1]
    boundary = re.search(b.second_response, text)
    return b.labels[1] if boundary is not None and at > boundary.start() else b.labels[0]


def bradley_terry_label(
    first: str,
    second: str,
    ratings: dict[str, float],
    *,
    seed: int = 0,
    tie_rate: float = 0.0,
    labels: tuple[str, str] = ("A", "B"),
    tie_label: str = "tie",
    model_marker: str = DEFAULT_MODEL_MARKER,
) -> str:
    """The verdict of a judge at known ratings on responses marked ``first`` and ``second`` (in the order shown):
    the first response's model leads by d rating points and is better with p = 1 / (1 + 10^(-d/400)); a tie with
    probability ``tie_rate * 2 min(p, 1 - p)``, else a win keeping the expected score at p (ties half), as
    :func:`judge.ratings.synthetic.simulate_battles` draws. The two uniforms come from a hash of ``seed`` and the
    two markers, so one request is always answered alike. KeyError: a marker names no model of ``ratings``."""
    names = []
    for marker in (first, second):
        match = re.search(model_marker, marker)
        names.append(match.group("model") if match else marker)
    p = 1.0 / (1.0 + 10.0 ** ((ratings[names[1]] - ratings[names[0]]) / 400.0))
    digest = hashlib.sha256(f"{seed}|{first}|{second}".encode()).digest()
    u_tie, u_win = (int.from_bytes(digest[k : k + 8], "big") / 2.0**64 for k in (0, 8))
    tie = tie_rate * 2.0 * min(p, 1.0 - p)
    if u_tie < tie:
        return tie_label
    return labels[0] if u_win < (p - tie / 2.0) / (1.0 - tie) else labels[1]


def _json_reply(status: int, payload: dict[str, Any], headers: dict[str, str] | None = None) -> Reply:
    return Reply(status=status, body=json.dumps(payload).encode(), headers=headers or {})


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> Reply:
    return _json_reply(status, {"error": {"message": message, "type": "fake_error", "code": status}}, headers)


def _completion(body: dict[str, Any], content: str) -> Reply:
    prompt_tokens = sum(len(str(m.get("content", "")).split()) for m in body.get("messages", []))
    completion_tokens = len(content.split())
    return _json_reply(
        200,
        {
            "id": "chatcmpl-fake",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": str(body.get("model", "fake")),
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        },
    )


class FakeProviderState:
    """The script, the per-rule counters and random generators, and the request log."""

    def __init__(self) -> None:
        self.script = Script()
        self.fired: list[int] = []
        self.rngs: dict[int, random.Random] = {}
        self.seen: dict[tuple[int | None, str], int] = {}
        self.log: list[dict[str, Any]] = []
        self.answered = 0
        self.aborted = 0
        self.files: dict[str, dict[str, Any]] = {}
        self.batches: dict[str, dict[str, Any]] = {}

    def counts(self) -> dict[str, int]:
        """Chat calls received, answered, aborted, and the distinct requests among them."""
        distinct = {
            json.dumps([e.get("model"), (e.get("body") or {}).get("messages")], sort_keys=True) for e in self.log
        }
        return {
            "received": len(self.log),
            "answered": self.answered,
            "aborted": self.aborted,
            "distinct": len(distinct),
        }

    def set_script(self, script: Script) -> None:
        self.script = script
        self.fired = [0] * len(script.rules)
        self.rngs = {}
        self.seen = {}

    def choose(self, body: dict[str, Any]) -> tuple[int | None, Behaviour]:
        """The first matching rule with firings left (its index), or the default."""
        text = prompt_text(body)
        for i, rule in enumerate(self.script.rules):
            if rule.contains is not None and rule.contains not in text:
                continue
            if rule.model is not None and rule.model != body.get("model"):
                continue
            if rule.has_response_format is not None and rule.has_response_format != ("response_format" in body):
                continue
            if rule.times is not None and self.fired[i] >= rule.times:
                continue
            self.fired[i] += 1
            return i, rule.behaviour
        return None, self.script.default

    def answer(self, body: dict[str, Any], key: int | None, b: Behaviour) -> Reply:
        """The reply a behaviour gives to one request."""
        kind = b.kind
        if kind == "sequence":
            if not b.steps:
                return _error(400, "fake sequence behaviour without steps")
            request = (key, json.dumps([body.get("model"), body.get("messages")], sort_keys=True))
            seen = self.seen.get(request, 0)
            self.seen[request] = seen + 1
            return self.answer(body, key, b.steps[seen % len(b.steps)])
        if kind == "bradley_terry":
            markers = [m.group(0) for m in re.finditer(b.model_marker, prompt_text(body))]
            if len(markers) < 2:
                return _error(400, "fake bradley_terry behaviour: fewer than two model markers in the prompt")
            try:
                drawn = bradley_terry_label(
                    markers[0],
                    markers[1],
                    b.ratings,
                    seed=b.seed,
                    tie_rate=b.tie_rate,
                    labels=b.labels,
                    tie_label=b.tie_label,
                    model_marker=b.model_marker,
                )
            except KeyError as exc:
                return _error(400, f"fake bradley_terry behaviour: no rating for model {exc}")
            return _completion(body, b.template.replace("{verdict}", drawn))
        if kind == "chaos":
            rng = self.rngs.setdefault(-1 if key is None else key, random.Random(b.seed))
            kind = rng.choice(b.failures) if rng.random() < b.failure_rate else "reply"
        if kind == "reply":
            return _completion(body, b.content)
        if kind in ("verdict", "position_biased", "prefer_marker"):
            label = {"verdict": b.label, "position_biased": b.labels[0]}.get(kind)
            label = label if label is not None else marked_label(prompt_text(body), b)
            return _completion(body, b.template.replace("{verdict}", label))
        if kind == "rate_limit":
            headers = {} if b.retry_after is None else {"Retry-After": f"{b.retry_after:g}"}
            return _error(429, "fake rate limit", headers)
        if kind == "error":
            return _error(b.status, b.message)
        if kind == "garbage":
            return Reply(status=200, body=b"<html>this is not json", headers={"Content-Type": "text/html"})
        return Reply(status=None)  # hang

    async def handle(self, method: str, path: str, raw: bytes, headers: dict[str, str] | None = None) -> Reply:
        """Route one HTTP request (``headers``, lower-case names, are kept in the log entry)."""
        path = path.split("?", 1)[0]
        if method == "GET" and path in ("/_log", "/_log/"):
            return _json_reply(200, {"requests": self.log})
        if method == "GET" and path == "/_count":
            return _json_reply(200, self.counts())
        if method == "GET" and path in ("/v1/models", "/models", "/health"):
            return _json_reply(200, {"object": "list", "data": [{"id": "fake", "object": "model"}]})
        if method == "POST" and path == "/_reset":
            self.set_script(Script())
            self.log.clear()
            self.answered = self.aborted = 0
            self.files.clear()
            self.batches.clear()
            return _json_reply(200, {"ok": True})
        if method == "GET" and path == "/_batches":
            return _json_reply(200, {"batches": [self.batch_summary(b) for b in self.batches.values()]})
        if path.startswith(("/v1/files", "/v1/batches")):
            return self.handle_batch_api(method, path, raw, headers or {})
        if method == "POST" and path == "/_script":
            try:
                self.set_script(Script.model_validate_json(raw))
            except ValueError as exc:
                return _error(400, f"bad script: {exc}")
            return _json_reply(200, {"ok": True})
        if method != "POST" or path not in ("/v1/chat/completions", "/chat/completions"):
            return _error(404, f"no route {method} {path}")
        entry: dict[str, Any] = {"seq": len(self.log), "t": time.time(), "path": path, "headers": headers or {}}
        self.log.append(entry)
        try:
            body = json.loads(raw)
            if not isinstance(body, dict):
                raise ValueError("body is not a JSON object")
        except ValueError as exc:
            entry.update(status=400, kind="bad_request", model=None, body=None)
            return _error(400, f"request body is not JSON: {exc}")
        key, behaviour = self.choose(body)
        reply = self.answer(body, key, behaviour)
        entry.update(model=body.get("model"), body=body, rule=key, kind=behaviour.kind, status=reply.status)
        delay = behaviour.hang_s if reply.status is None else behaviour.latency_ms / 1000.0
        if delay > 0:
            await asyncio.sleep(delay)
        return reply.model_copy(update={"call": True})

    # --- the batch API -------------------------------------------------------------------------------------

    def handle_batch_api(self, method: str, path: str, raw: bytes, headers: dict[str, str]) -> Reply:
        """``/v1/files`` and ``/v1/batches`` (see the module docstring)."""
        parts = path.strip("/").split("/")[1:]  # files[/id[/content]] or batches[/id[/cancel]]
        if parts == ["files"] and method == "POST":
            return self.upload(raw, headers.get("content-type", ""))
        if parts[0] == "files" and len(parts) >= 2 and method == "GET":
            found = self.files.get(parts[1])
            if found is None:
                return _error(404, f"no file {parts[1]}")
            if parts[2:] == ["content"]:
                return Reply(status=200, body=found["content"], headers={"Content-Type": "application/octet-stream"})
            return _json_reply(200, _file_object(found))
        if parts == ["batches"] and method == "POST":
            return self.create_batch(raw)
        if parts == ["batches"] and method == "GET":
            data = [self.batch_object(b) for b in reversed(self.batches.values())]
            return _json_reply(200, {"object": "list", "data": data, "has_more": False})
        if parts[0] == "batches" and len(parts) >= 2:
            batch = self.batches.get(parts[1])
            if batch is None:
                return _error(404, f"no batch {parts[1]}")
            if parts[2:] == ["cancel"] and method == "POST":
                if batch["status"] in ("validating", "in_progress"):
                    batch["status"] = "cancelling"
                return _json_reply(200, self.batch_object(batch))
            if len(parts) == 2 and method == "GET":
                self.advance(batch)
                return _json_reply(200, self.batch_object(batch))
        return _error(404, f"no route {method} {path}")

    def upload(self, raw: bytes, content_type: str) -> Reply:
        """Store a multipart upload's ``file`` part (its ``purpose`` too)."""
        match = re.search(r'boundary="?([^";]+)"?', content_type)
        if match is None:
            return _error(400, "expected multipart/form-data with a boundary")
        fields: dict[str, tuple[str | None, bytes]] = {}
        for part in raw.split(b"--" + match.group(1).encode("latin-1"))[1:]:
            if part.startswith(b"--"):
                break
            head, _, body = part.partition(b"\r\n\r\n")
            disposition = head.decode("latin-1")
            name = re.search(r'name="([^"]*)"', disposition)
            named = re.search(r'filename="([^"]*)"', disposition)
            if name is not None:
                fields[name.group(1)] = (named.group(1) if named else None, body.removesuffix(b"\r\n"))
        if "file" not in fields:
            return _error(400, "no file part in the upload")
        file_id = f"file-fake{len(self.files) + 1}"
        filename, content = fields["file"]
        purpose = fields.get("purpose", (None, b"batch"))[1].decode("utf-8")
        self.files[file_id] = {"id": file_id, "filename": filename or "upload.jsonl", "purpose": purpose}
        self.files[file_id].update(content=content)
        return _json_reply(200, _file_object(self.files[file_id]))

    def create_batch(self, raw: bytes) -> Reply:
        """A batch over an uploaded JSONL file of request lines, status ``validating``."""
        try:
            body = json.loads(raw)
            source = self.files[body["input_file_id"]]
            lines = [json.loads(line) for line in source["content"].decode("utf-8").splitlines() if line.strip()]
            custom_ids = [str(line["custom_id"]) for line in lines]
        except (ValueError, KeyError, TypeError) as exc:
            return _error(400, f"bad batch request: {exc!r}")
        if len(set(custom_ids)) != len(custom_ids):
            return _error(400, "custom_id values must be unique within a batch")
        batch_id = f"batch_fake{len(self.batches) + 1}"
        self.batches[batch_id] = {
            "id": batch_id,
            "input_file_id": body["input_file_id"],
            "endpoint": body.get("endpoint", "/v1/chat/completions"),
            "completion_window": body.get("completion_window", "24h"),
            "metadata": body.get("metadata"),
            "status": "validating",
            "created_at": int(time.time()),
            "polls": 0,
            "lines": lines,
            "output_file_id": None,
            "error_file_id": None,
            "counts": {"total": len(lines), "completed": 0, "failed": 0},
            "errors": None,
        }
        return _json_reply(200, self.batch_object(self.batches[batch_id]))

    def advance(self, batch: dict[str, Any]) -> None:
        """One poll: validating -> in_progress (or failed) -> ... -> completed; cancelling -> cancelled."""
        settings = self.script.batch
        status = batch["status"]
        if status == "validating":
            if settings.fail:
                batch["status"] = "failed"
                batch["errors"] = {"object": "list", "data": [{"code": "invalid_request", "message": "fake failure"}]}
            else:
                batch["status"] = "in_progress"
        elif status == "in_progress" and not settings.hold:
            batch["polls"] += 1
            if batch["polls"] > settings.in_progress_polls:
                self.complete(batch)
        elif status == "cancelling":
            batch["status"] = "cancelled"

    def complete(self, batch: dict[str, Any]) -> None:
        """Answer every request line by the script: the output and error files, the counts."""
        output: list[dict[str, Any]] = []
        failed: list[dict[str, Any]] = []
        for n, line in enumerate(batch["lines"]):
            body = line.get("body") if isinstance(line.get("body"), dict) else {}
            key, behaviour = self.choose(body)
            reply = self.answer(body, key, behaviour)
            entry: dict[str, Any] = {"id": f"batch_req_{n}", "custom_id": line["custom_id"], "error": None}
            if reply.status is None:
                entry["response"] = None
                entry["error"] = {"code": "batch_expired", "message": "this request could not be executed in time"}
            else:
                try:
                    answer: Any = json.loads(reply.body)
                except ValueError:
                    answer = reply.body.decode("utf-8", "replace")
                entry["response"] = {"status_code": reply.status, "request_id": f"req_{n}", "body": answer}
            ok = reply.status == 200
            (output if ok or (self.script.batch.errors_in_output and reply.status is not None) else failed).append(
                entry
            )
            batch["counts"]["completed" if ok else "failed"] += 1
        for name, entries in (("output_file_id", output), ("error_file_id", failed)):
            if entries:
                file_id = f"file-fake{len(self.files) + 1}"
                content = "".join(json.dumps(e) + "\n" for e in entries).encode("utf-8")
                self.files[file_id] = {"id": file_id, "filename": f"{batch['id']}_{name}.jsonl"}
                self.files[file_id].update(purpose="batch_output", content=content)
                batch[name] = file_id
        batch["status"] = "completed"
        batch["completed_at"] = int(time.time())

    def batch_object(self, batch: dict[str, Any]) -> dict[str, Any]:
        """The OpenAI Batch object of ``batch``."""
        fields = ("id", "endpoint", "input_file_id", "completion_window", "status", "output_file_id", "error_file_id")
        return {
            **{f: batch[f] for f in fields},
            "object": "batch",
            "errors": batch["errors"],
            "created_at": batch["created_at"],
            "completed_at": batch.get("completed_at"),
            "expires_at": batch["created_at"] + 86400,
            "request_counts": dict(batch["counts"]),
            "metadata": batch["metadata"],
        }

    def batch_summary(self, batch: dict[str, Any]) -> dict[str, Any]:
        """``GET /_batches``: a batch's status, counts, polls and its lines' custom ids."""
        return {
            "id": batch["id"],
            "status": batch["status"],
            "counts": dict(batch["counts"]),
            "polls": batch["polls"],
            "metadata": batch["metadata"],
            "custom_ids": [str(line["custom_id"]) for line in batch["lines"]],
        }


def _file_object(found: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": found["id"],
        "object": "file",
        "bytes": len(found["content"]),
        "created_at": int(time.time()),
        "filename": found["filename"],
        "purpose": found["purpose"],
        "status": "processed",
    }


async def _read_request(reader: asyncio.StreamReader) -> tuple[str, str, dict[str, str], bytes] | None:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3:
        return None
    headers = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    if headers.get("transfer-encoding", "").lower() == "chunked":
        chunks = []
        while size := int((await reader.readuntil(b"\r\n")).split(b";")[0], 16):
            chunks.append(await reader.readexactly(size + 2))
        await reader.readuntil(b"\r\n")
        raw = b"".join(c[:-2] for c in chunks)
    else:
        raw = await reader.readexactly(int(headers.get("content-length", "0")))
    return parts[0], parts[1], headers, raw


async def _serve_connection(
    state: FakeProviderState, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    try:
        while True:
            request = await _read_request(reader)
            if request is None:
                break
            method, path, headers, raw = request
            reply = await state.handle(method, path, raw, headers)
            if reply.status is None:
                break
            if reply.call and (reader.at_eof() or reader.exception() is not None or writer.is_closing()):
                # the client hung up (killed) before its answer: it never got it
                state.aborted += 1
                break
            state.answered += reply.call
            keep_alive = headers.get("connection", "").lower() != "close"
            head = [f"HTTP/1.1 {reply.status} {_STATUS_TEXT.get(reply.status, 'Error')}"]
            fields = {"Content-Type": "application/json", **reply.headers}
            fields["Content-Length"] = str(len(reply.body))
            fields["Connection"] = "keep-alive" if keep_alive else "close"
            head += [f"{k}: {v}" for k, v in fields.items()]
            writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + reply.body)
            await writer.drain()
            if not keep_alive:
                break
    except (asyncio.IncompleteReadError, ConnectionError, ValueError, asyncio.LimitOverrunError):
        pass
    finally:
        writer.close()


async def serve(host: str = "127.0.0.1", port: int = 0, *, announce: bool = True) -> None:
    """Serve forever; prints ``PORT <n>`` on stdout once listening when ``announce``."""
    state = FakeProviderState()

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _serve_connection(state, reader, writer)

    server = await asyncio.start_server(on_connect, host, port, backlog=1024, limit=2**24)
    bound = server.sockets[0].getsockname()[1]
    if announce:
        print(f"PORT {bound}", flush=True)
    async with server:
        await server.serve_forever()


class FakeProvider:
    """Handle on a fake provider running in a child process; a context manager.

    ``url`` is the ``api_base`` to give LiteLLM (``http://127.0.0.1:PORT/v1``).
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.port = port
        self._process: subprocess.Popen[str] | None = None
        self._http: httpx.Client | None = None

    @property
    def root(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def url(self) -> str:
        return f"{self.root}/v1"

    def start(self, timeout_s: float = 30.0) -> FakeProvider:
        """Start the server process and wait until it listens."""
        env = dict(os.environ)
        repo_root = str(Path(__file__).resolve().parents[2])
        env["PYTHONPATH"] = os.pathsep.join(p for p in (repo_root, env.get("PYTHONPATH")) if p)
        cmd = [sys.executable, "-m", "judge.testing.fake_provider", "--host", self.host]
        self._process = subprocess.Popen([*cmd, "--port", str(self.port)], stdout=subprocess.PIPE, env=env, text=True)
        assert self._process.stdout is not None
        line = self._process.stdout.readline()  # blocks until the child announces its port or dies
        if not line.startswith("PORT "):
            self.stop()
            raise RuntimeError(f"fake provider did not start (said {line!r})")
        self.port = int(line.split()[1])
        self._http = httpx.Client(base_url=self.root, timeout=timeout_s)
        return self

    def _client(self) -> httpx.Client:
        if self._http is None:
            raise RuntimeError("fake provider is not started")
        return self._http

    def script(
        self,
        rules: Sequence[Rule | dict[str, Any]] = (),
        default: Behaviour | None = None,
        batch: BatchScript | dict[str, Any] | None = None,
    ) -> None:
        """Replace the rules (tried in order), the default behaviour and how batches progress; resets rule
        counters (uploaded files and batches stay)."""
        script = Script(
            rules=[Rule.model_validate(r) for r in rules],
            default=default or Behaviour(),
            batch=BatchScript.model_validate(batch or {}),
        )
        self._client().post("/_script", content=script.model_dump_json()).raise_for_status()

    def requests(self) -> list[dict[str, Any]]:
        """The request log: ``seq``, ``t`` (unix s), ``path``, ``headers`` (lower-case names), ``model``, ``body``,
        ``status``, ``kind``."""
        response = self._client().get("/_log")
        response.raise_for_status()
        entries: list[dict[str, Any]] = response.json()["requests"]
        return entries

    def counts(self) -> dict[str, int]:
        """``received``, ``answered``, ``aborted`` chat calls and the ``distinct`` requests among them."""
        response = self._client().get("/_count")
        response.raise_for_status()
        return {k: int(v) for k, v in response.json().items()}

    def batches(self) -> list[dict[str, Any]]:
        """Every batch created: ``id``, ``status``, ``counts``, ``polls``, ``metadata`` and ``custom_ids``."""
        response = self._client().get("/_batches")
        response.raise_for_status()
        found: list[dict[str, Any]] = response.json()["batches"]
        return found

    def reset(self) -> None:
        """Forget the script, the request log, the uploaded files and the batches."""
        self._client().post("/_reset").raise_for_status()

    def stop(self) -> None:
        """Stop the server process."""
        if self._http is not None:
            self._http.close()
            self._http = None
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            if self._process.stdout is not None:
                self._process.stdout.close()
            self._process = None

    def __enter__(self) -> FakeProvider:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> None:
    """Command line: ``python -m judge.testing.fake_provider [--host H] [--port P]``."""
    parser = argparse.ArgumentParser(description="Fake OpenAI-compatible chat-completions server.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.host, args.port))


if __name__ == "__main__":
    main()
