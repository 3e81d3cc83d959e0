"""A judge call is paid once: provider calls per distinct verdict in three hostile scenarios, for real.

Each scenario uses a fresh SQLite store holding the toy set (``--prompts`` prompts, one human vote each: two
verdicts per prompt, both orders), the fake provider in its own process (consistent judge, ``--latency-ms`` per
call; it counts the calls it received and answered), and real ``judge`` processes and signals:

- (a) two ``judge run`` processes started together on the same set and judge (one plan, two runs);
- (b) ``judge run`` killed with SIGKILL mid-run, then ``judge runs resume``;
- (c) ``judge run`` while another process holds ``BEGIN EXCLUSIVE`` on the database for ``--lock-s`` seconds.

Figures: answered calls / distinct verdicts (what was paid for each verdict; must be 1.00), calls received /
distinct verdicts (with (b), calls cut off by the kill before an answer are received twice), verdicts stored,
runs' statuses, wall time.

Run: ``.venv/bin/python bench/pay_once.py [--prompts 60] [--latency-ms 200] [--lock-s 60]``.
Writes the "## Pay once" section of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import text

from bench.report import write_section
from judge.core.render import render_request_hash
from judge.core.types import ChatMessage
from judge.store.engine import make_engine, session_scope, upgrade_database
from judge.store.ingest import write_bundle
from judge.testing.fake_provider import FakeProvider
from judge.testing.toy import toy_bundle

ROOT = Path(__file__).resolve().parents[1]
MODEL = "openai/fake-judge"
PREFER_GOOD = {"kind": "prefer_marker", "marker": "MARKER-GOOD", "rival": "MARKER-BAD"}
JUDGE = [sys.executable, "-c", "from judge.cli import app; app()"]


class Store:
    """A fresh SQLite store with the toy set, in its own folder."""

    def __init__(self, folder: Path, prompts: int) -> None:
        self.path = folder / "judge.db"
        self.url = f"sqlite:///{self.path}"
        upgrade_database(self.url)
        self.engine = make_engine(self.url)
        with session_scope(self.engine) as session:
            write_bundle(session, set_name="toy", bundle=toy_bundle(prompts))
        self.recovery = folder / "recovery"
        self.env = {
            **os.environ,
            "JUDGE_DATABASE_URL": self.url,
            "JUDGE_RECOVERY_DIR": str(folder / "recovery"),
            "PYTHONPATH": str(ROOT),
            "OPENAI_API_KEY": "sk-bench-not-a-key",
        }

    def verdicts(self) -> tuple[int, int]:
        """Verdict rows and distinct verdict keys."""
        with self.engine.connect() as conn:
            rows, keys = conn.execute(text("SELECT count(*), count(DISTINCT verdict_key) FROM verdict")).one()
        return int(rows), int(keys)

    def statuses(self) -> list[str]:
        with self.engine.connect() as conn:
            return [f"{r[0]}" for r in conn.execute(text("SELECT status FROM run ORDER BY id"))]


def judge_run(store: Store, provider: FakeProvider, concurrency: int) -> subprocess.Popen[str]:
    args = ["run", "--set", "toy", "--judge", "openai/fake-judge", "--api-base", provider.url]
    return subprocess.Popen(
        [*JUDGE, *args, "--concurrency", str(concurrency)],
        env=store.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def wait_until(condition: Any, timeout_s: float = 600) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("scenario did not reach its trigger")
        time.sleep(0.05)


def finish(process: subprocess.Popen[str], timeout_s: float = 900) -> str:
    output, _ = process.communicate(timeout=timeout_s)
    if process.returncode != 0:
        raise RuntimeError(f"judge exited {process.returncode}:\n{output[-3000:]}")
    return output


def figures(name: str, store: Store, provider: FakeProvider, started: float, **extra: Any) -> dict[str, Any]:
    counts = provider.counts()
    rows, distinct = store.verdicts()
    return {
        "scenario": name,
        "answered": counts["answered"],
        "received": counts["received"],
        "aborted": counts["aborted"],
        "verdicts": rows,
        "distinct": distinct,
        "paid_ratio": counts["answered"] / distinct,
        "received_ratio": counts["received"] / distinct,
        "statuses": ", ".join(store.statuses()),
        "wall_s": time.monotonic() - started,
        **extra,
    }


def concurrent_runs(store: Store, provider: FakeProvider, concurrency: int) -> dict[str, Any]:
    started = time.monotonic()
    runs = [judge_run(store, provider, concurrency) for _ in range(2)]
    for run in runs:
        finish(run)
    return figures("(a) two concurrent `judge run`", store, provider, started)


def kill_and_resume(store: Store, provider: FakeProvider, concurrency: int, planned: int) -> dict[str, Any]:
    started = time.monotonic()
    run = judge_run(store, provider, concurrency)
    wait_until(lambda: store.verdicts()[0] >= planned // 3)
    run.send_signal(signal.SIGKILL)
    output, _ = run.communicate()
    killed_at = store.verdicts()[0]
    journaled = sum(
        1
        for path in store.recovery.glob("*.jsonl")
        for line in path.read_text().splitlines()
        if '"journal"' not in line
    )
    with store.engine.connect() as conn:
        stored_hashes = {r[0] for r in conn.execute(text("SELECT request_hash FROM verdict"))}
        leased = int(conn.execute(text("SELECT count(*) FROM verdict_lease")).scalar_one())
    run_id = re.search(r"run (\d+):", output)
    if run_id is None:
        raise RuntimeError(f"no run id in:\n{output}")
    resume = subprocess.Popen(
        [*JUDGE, "runs", "resume", run_id.group(1)], env=store.env, stdout=subprocess.PIPE, text=True
    )
    finish(resume)
    asked = Counter(request_hash(r) for r in provider.requests() if r.get("body"))
    again = sum(1 for h, n in asked.items() if n > 1 and h in stored_hashes)
    note = (
        f"killed at {killed_at} stored + {journaled} journaled not yet stored, {leased} keys leased by the killed "
        "run (in flight or next); "
        f"re-asked keys whose verdict was stored: {again}"
    )
    return figures("(b) `kill -9` mid-run + `judge runs resume`", store, provider, started, note=note)


def request_hash(entry: dict[str, Any]) -> str:
    """The request hash, as stored with verdicts, of one chat request in the fake provider's log."""
    body = entry["body"]
    messages = [ChatMessage(role=m["role"], content=m["content"]) for m in body["messages"]]
    return render_request_hash(messages, MODEL, {"temperature": body.get("temperature", 0.0)})


def locked_database(store: Store, provider: FakeProvider, concurrency: int, lock_s: float) -> dict[str, Any]:
    started = time.monotonic()
    run = judge_run(store, provider, concurrency)
    wait_until(lambda: store.verdicts()[0] >= 10)
    locker = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sqlite3, sys, time\n"
            "c = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
            "c.execute('BEGIN EXCLUSIVE'); print('locked', flush=True)\n"
            "time.sleep(float(sys.argv[2])); c.execute('COMMIT')",
            str(store.path),
            str(lock_s),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert locker.stdout is not None and locker.stdout.readline().strip() == "locked"
    locked_at = store.verdicts()[0]
    locker.wait()
    output = finish(run)
    leaked = "OperationalError" in output or "INSERT" in output
    return figures(
        f"(c) database locked {lock_s:g} s mid-run",
        store,
        provider,
        started,
        note=f"locked at {locked_at}; SQL shown: {'yes' if leaked else 'no'}",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--prompts", type=int, default=60)
    parser.add_argument("--latency-ms", type=float, default=200.0)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--lock-s", type=float, default=60.0)
    parser.add_argument("--no-write", action="store_true", help="Print only; leave BENCHMARKS.md alone.")
    args = parser.parse_args()
    planned = 2 * args.prompts
    results = []
    with FakeProvider() as provider, tempfile.TemporaryDirectory() as tmp:
        for n, scenario in enumerate(("a", "b", "c")):
            provider.reset()
            provider.script(default={**PREFER_GOOD, "latency_ms": args.latency_ms})  # type: ignore[arg-type]
            folder = Path(tmp) / str(n)
            folder.mkdir()
            store = Store(folder, args.prompts)
            if scenario == "a":
                result = concurrent_runs(store, provider, args.concurrency)
            elif scenario == "b":
                result = kill_and_resume(store, provider, args.concurrency, planned)
            else:
                result = locked_database(store, provider, args.concurrency, args.lock_s)
            store.engine.dispose()
            results.append(result)
            print(result, flush=True)
    lines = [
        f"{planned} verdicts planned per scenario (toy set, {args.prompts} prompts x 2 orders), fake provider at "
        f"{args.latency_ms:g} ms per call, `--concurrency {args.concurrency}`, SQLite (WAL), real `judge` "
        "processes and signals. *Paid* = calls the provider answered (it counts a call answered when it sends the "
        "reply to a client still connected); *received* adds calls cut off before their answer (the client was "
        "killed while the call was in flight: the provider saw the hang-up and never answered; not paid). Every "
        "answer is journaled (one append to `JUDGE_RECOVERY_DIR/run-<id>-<owner>.jsonl`) before any database "
        "write, and `judge runs resume` stores the dead process's journal before it claims any key, so a "
        "`kill -9` loses no answer the judge had received. The window left: an answer the provider has sent "
        "that LiteLLM has not yet handed to the judge when the process dies (in the socket buffer, or being "
        "turned into a response object); on an idle machine that is a few ms per call, on a loaded one (load "
        f"average {os.getloadavg()[0]:.1f} at the end of this run, 2 cores) it can be the whole wave of answers "
        "that arrived together. Closing it needs the raw HTTP answer journaled at the transport and replayed "
        "on resume (not done).",
        "",
        "| scenario | paid calls / distinct verdicts | received / distinct | verdicts stored | runs | wall s | note |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r['scenario']} | {r['answered']} / {r['distinct']} = **{r['paid_ratio']:.2f}** | "
            f"{r['received']} / {r['distinct']} = {r['received_ratio']:.2f} | {r['verdicts']} | {r['statuses']} | "
            f"{r['wall_s']:.1f} | {r.get('note', '')} |"
        )
    lines += [
        "",
        "Before the verdict leases (issue 10): (a) 240 calls for 120 verdicts, (b) 127 for 120, (c) 13 paid "
        "verdicts lost (`OperationalError` with its SQL printed) and paid again on resume, run stuck `running`. "
        "With leases but before the journal: (b) 123 / 120 = 1.02 (answers received but not yet written when "
        "the process was killed).",
    ]
    body = "\n".join(lines)
    print(body)
    if not args.no_write:
        command = f"python bench/pay_once.py --prompts {args.prompts} --latency-ms {args.latency_ms:g} " + (
            f"--concurrency {args.concurrency} --lock-s {args.lock_s:g}"
        )
        write_section("Pay once", body, command=command)


if __name__ == "__main__":
    main()
