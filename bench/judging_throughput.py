"""Judging throughput against the fake provider: the framework vs the provider's limit and a bare LiteLLM loop.

The fake provider answers every request after a fixed latency (default 200 ms). With C calls in flight the
limit is C / latency verdicts/s (64 / 0.2 s = 320/s). Measured in the same run:

- bare: ``litellm.acompletion`` called in a loop by C asyncio workers with the very requests the framework sends
  (messages and response_format rendered up front; no rendering, parsing or storage while timed);
- framework: ``judge.runs.service.execute_run`` on a fresh SQLite store (plan, render, call, parse, batched upserts).

Run: ``.venv/bin/python bench/judging_throughput.py [--verdicts 2000] [--concurrency 64] [--latency-ms 200]``.
Writes the "## Judging throughput" section of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("OPENAI_API_KEY", "sk-bench-not-a-key")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import litellm
from sqlalchemy.engine import Engine

from bench.report import write_section
from judge.core.render import render_messages, response_format
from judge.llm.client import LiteLLMClient
from judge.runs.request import JudgeSpec, RunConfig
from judge.runs.service import RunContext, create_run, execute_run
from judge.store.engine import make_engine, session_scope, upgrade_database
from judge.store.ingest import write_bundle
from judge.testing.fake_provider import FakeProvider
from judge.testing.toy import toy_bundle

MODEL = "openai/bench-judge"


def prepare(
    url: str, n: int, concurrency: int, db: Path, processes: int = 1
) -> tuple[Engine, int, list[dict[str, Any]]]:
    """A fresh store holding a run of ``n`` pairwise verdicts (n/2 units, both orders) over ``processes`` (when
    executed without a client), and the exact request payloads the framework will send (rendered up front,
    outside any timing) for the bare loop."""
    db_url = f"sqlite:///{db}"
    upgrade_database(db_url)
    engine = make_engine(db_url)
    units = n // 2
    bundle = toy_bundle(units)
    config = RunConfig(
        set_name="bench",
        judges=(JudgeSpec(model=MODEL, api_base=url),),
        rubric="pairwise",
        pairs="all",
        concurrency=concurrency,
        processes=processes,
        timeout_s=30,
    )
    with session_scope(engine) as session:
        write_bundle(session, set_name="bench", bundle=bundle)
        run, plan = create_run(session, config=config)
        assert run.id is not None and len(plan.items) == 2 * units
        context = RunContext(session, run)
    rubric = context.rubric
    payloads = []
    for item in context.items:
        task = context.catalog.task(rubric.mode, item.prompt_id, item.turn, item.model_a, item.model_b)
        messages = render_messages(rubric, task, item.order, structured=True)
        payloads.append(
            {
                **config.sampling.recorded(),  # temperature 0, as judge sends it
                "messages": [m.model_dump() for m in messages],
                "response_format": response_format(rubric),
            }
        )
    return engine, run.id, payloads


async def bare_loop(url: str, payloads: list[dict[str, Any]], concurrency: int) -> float:
    """Seconds for plain litellm.acompletion calls sending ``payloads`` with ``concurrency`` workers."""
    remaining = list(payloads)

    async def worker() -> None:
        while remaining:
            payload = remaining.pop()
            await litellm.acompletion(model=MODEL, api_base=url, timeout=30, num_retries=0, max_retries=0, **payload)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - started


def framework_run(engine: Engine, run_id: int, n: int) -> float:
    """Seconds for judge's in-process executor to judge the prepared run (render, call, parse, store)."""
    started = time.perf_counter()
    progress = asyncio.run(execute_run(engine, run_id, LiteLLMClient()))
    elapsed = time.perf_counter() - started
    assert progress.ok == n, progress
    return elapsed


def measure(latency_ms: float, verdicts: int, concurrency: int, notes: list[str]) -> list[str]:
    """Bare loop then framework at one provider latency; the table rows and the ratios."""
    limit = concurrency / (latency_ms / 1000)
    with FakeProvider() as provider, tempfile.TemporaryDirectory() as tmp:
        provider.script(default={"kind": "verdict", "label": "A", "latency_ms": latency_ms})  # type: ignore[arg-type]
        engine, run_id, payloads = prepare(provider.url, verdicts, concurrency, Path(tmp) / "bench.db")
        asyncio.run(bare_loop(provider.url, payloads[:concurrency], concurrency))  # warm-up
        cpu0 = time.process_time()
        bare_s = asyncio.run(bare_loop(provider.url, payloads, concurrency))
        bare_cpu = 1000 * (time.process_time() - cpu0) / verdicts
        cpu0 = time.process_time()
        framework_s = framework_run(engine, run_id, len(payloads))
        framework_cpu = 1000 * (time.process_time() - cpu0) / verdicts
        engine.dispose()
    bare, framework = verdicts / bare_s, verdicts / framework_s
    notes.append(
        f"At {latency_ms:g} ms the bare loop spends {bare_cpu:.2f} ms of CPU per call, so one client process tops out"
        f" near {1000 / bare_cpu:.0f} calls/s per core ({1000 / bare_cpu / limit:.2f} of the limit); the framework"
        f" adds {framework_cpu - bare_cpu:.2f} ms of CPU per verdict."
    )
    return [
        f"| {latency_ms:g} ms | {limit:.0f} | bare `litellm.acompletion` loop | {bare:.1f} | {bare / limit:.2f} | | "
        f"{bare_cpu:.2f} |",
        f"| {latency_ms:g} ms | {limit:.0f} | judge executor (render, call, parse, store) | {framework:.1f} | "
        f"{framework / limit:.2f} | **{framework / bare:.2f}** | {framework_cpu:.2f} |",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--verdicts", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--latency-ms", type=float, nargs="+", default=[200.0, 1000.0])
    parser.add_argument("--no-write", action="store_true", help="Do not update BENCHMARKS.md.")
    args = parser.parse_args()
    notes: list[str] = []
    rows = [row for latency in args.latency_ms for row in measure(latency, args.verdicts, args.concurrency, notes)]
    lines = [
        f"Concurrency {args.concurrency}, {args.verdicts} verdicts per measurement, {os.cpu_count()} cores; the limit "
        "is concurrency / latency. Goals: framework ≥ 0.9 of the limit and ≥ 0.95 of the bare loop at 200 ms.",
        "",
        "| latency | limit/s | path | verdicts/s | ratio to limit | framework / bare | CPU ms per verdict |",
        "|---|---|---|---|---|---|---|",
        *rows,
        "",
        *(f"- {note}" for note in notes),
    ]
    print("\n".join(lines))
    if not args.no_write:
        write_section("Judging throughput", "\n".join(lines), command="python bench/judging_throughput.py")


if __name__ == "__main__":
    main()
