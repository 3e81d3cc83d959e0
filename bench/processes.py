"""Judging throughput over worker processes (``--processes``): the limit, a bare LiteLLM loop and judge with
``--processes 1`` and ``--processes 2``, measured in one run against the fake provider.

The fake provider (its own process, as in every bench) answers each call after a fixed latency; with C calls in
flight the limit is C / latency verdicts/s (64 / 0.2 s = 320/s). In each round, in this order:

- bare: ``litellm.acompletion`` in a loop by C asyncio workers in this process, sending the very requests judge
  sends (rendered up front);
- bare, 2 processes: the same loop in two worker processes (forked from judge's forkserver, as judge's workers
  are), each sending half the requests with C/2 in flight: what any LiteLLM client gets from these cores;
- judge, 1 process: ``execute_run`` on a fresh SQLite store with ``processes=1`` (render, call, parse, journal,
  store);
- judge, 2 processes: the same with ``processes=2`` (two forkserver workers with C/2 calls in flight each).

CPU is counted per side from ``/proc``: the client side is this process plus its live descendants (the
forkserver, and through its reaped children the workers) except the fake provider, which is counted apart. The
forkserver is started by a warm-up before the rounds, so its one-time import is not counted.

Run: ``.venv/bin/python bench/processes.py [--verdicts 2000] [--concurrency 64] [--latency-ms 200] [--rounds 2]``.
Writes the "## Judging throughput over processes" section of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("OPENAI_API_KEY", "sk-bench-not-a-key")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.judging_throughput import bare_loop, prepare
from bench.report import write_section
from judge.runs.processes import mp_context
from judge.runs.service import execute_run
from judge.testing.fake_provider import FakeProvider

TICK = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str] | None:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
            return handle.read().rsplit(")", 1)[1].split()
    except OSError:
        return None


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            return handle.read().replace(b"\0", b" ").decode("utf-8", "replace")
    except OSError:
        return ""


def _children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _stat(int(entry))
            if fields is not None and int(fields[1]) == pid:
                found.append(int(entry))
    return found


def _tree_cpu_s(pid: int, skip: Callable[[int], bool]) -> float:
    """CPU seconds of ``pid`` (user + system, its reaped children's too) and of its live descendants."""
    fields = _stat(pid)
    if fields is None:
        return 0.0
    own = sum(int(fields[i]) for i in (11, 12, 13, 14)) / TICK  # utime, stime, cutime, cstime
    return own + sum(_tree_cpu_s(child, skip) for child in _children(pid) if not skip(child))


class Meter:
    """CPU seconds so far of the client side (this process tree but the fake provider) and of the provider."""

    def __init__(self) -> None:
        self.provider = next(p for p in _children(os.getpid()) if "judge.testing.fake_provider" in _cmdline(p))

    def read(self) -> tuple[float, float]:
        client = _tree_cpu_s(os.getpid(), lambda pid: pid == self.provider)
        return client, _tree_cpu_s(self.provider, lambda _pid: False)


class Figure:
    """One measured path: verdicts/s, client CPU ms per verdict, provider CPU ms per request, per round."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.rates: list[float] = []
        self.client_ms: list[float] = []
        self.provider_ms: list[float] = []


def measure(figure: Figure, meter: Meter, n: int, action: Callable[[], None]) -> None:
    client0, provider0 = meter.read()
    started = time.perf_counter()
    action()
    elapsed = time.perf_counter() - started
    client1, provider1 = meter.read()
    figure.rates.append(n / elapsed)
    figure.client_ms.append(1000 * (client1 - client0) / n)
    figure.provider_ms.append(1000 * (provider1 - provider0) / n)


def _bare_child(url: str, payloads: list[dict[str, object]], concurrency: int) -> None:
    asyncio.run(bare_loop(url, payloads, concurrency))


def bare_processes(url: str, payloads: list[dict[str, object]], concurrency: int, processes: int) -> None:
    """The bare loop over ``processes`` forkserver children, each with its share of requests and calls in flight."""
    children = [
        mp_context().Process(target=_bare_child, args=(url, payloads[i::processes], concurrency // processes))
        for i in range(processes)
    ]
    for child in children:
        child.start()
    for child in children:
        child.join()
        assert child.exitcode == 0, child.exitcode


def judge_run(url: str, n: int, concurrency: int, folder: Path, processes: int) -> Callable[[], None]:
    """An execution of a freshly prepared run of ``n`` verdicts over ``processes`` (prepared now, run later)."""
    engine, run_id, _ = prepare(url, n, concurrency, folder / f"judge-{processes}-{time.monotonic_ns()}.db", processes)

    def run() -> None:
        progress = asyncio.run(execute_run(engine, run_id))
        assert progress.ok == n, progress
        engine.dispose()

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--verdicts", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--latency-ms", type=float, default=200.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--no-write", action="store_true", help="Do not update BENCHMARKS.md.")
    args = parser.parse_args()
    n, concurrency = args.verdicts, args.concurrency
    limit = concurrency / (args.latency_ms / 1000)
    figures = [
        Figure("bare `litellm.acompletion` loop, 1 process"),
        Figure("bare loop, 2 processes"),
        Figure("judge, 1 process"),
        Figure("judge, 2 processes"),
    ]
    loads = [os.getloadavg()[0]]
    with FakeProvider() as provider, tempfile.TemporaryDirectory() as tmp:
        provider.script(default={"kind": "verdict", "label": "A", "latency_ms": args.latency_ms})  # type: ignore[arg-type]
        folder, meter = Path(tmp), Meter()
        _, _, payloads = prepare(provider.url, n, concurrency, folder / "bare.db")
        asyncio.run(bare_loop(provider.url, payloads[:concurrency], concurrency))  # warm-up: LiteLLM's first calls
        for processes in (1, 2):  # warm-up: the first execution's set-up, outside any timing
            judge_run(provider.url, 4 * concurrency, concurrency, folder, processes)()

        # warm-up: the forkserver starts (and imports judge and LiteLLM) outside any timing
        bare_processes(provider.url, payloads[: 2 * concurrency], concurrency, 2)

        def bare_round() -> None:
            asyncio.run(bare_loop(provider.url, payloads, concurrency))

        for _ in range(args.rounds):
            measure(figures[0], meter, n, bare_round)
            measure(figures[1], meter, n, lambda: bare_processes(provider.url, payloads, concurrency, 2))
            for figure, processes in zip(figures[2:], (1, 2), strict=True):
                measure(figure, meter, n, judge_run(provider.url, n, concurrency, folder, processes))
            loads.append(os.getloadavg()[0])
    bare = statistics.median(figures[0].rates)
    rows = []
    for figure in figures:
        rate = statistics.median(figure.rates)
        spread = f"{min(figure.rates):.0f}-{max(figure.rates):.0f}"
        rows.append(
            f"| {figure.name} | {rate:.1f} ({spread}) | **{rate / limit:.2f}** | {rate / bare:.2f} | "
            f"{statistics.median(figure.client_ms):.2f} | {statistics.median(figure.provider_ms):.2f} |"
        )
    bare_two, one, two = (statistics.median(f.rates) for f in figures[1:])
    bare_ms, bare_two_ms, one_ms, judge_ms = (statistics.median(f.client_ms) for f in figures)
    provider_ms = statistics.median(figures[3].provider_ms)
    cores = os.cpu_count() or 1
    ceiling = cores * 1000 / (bare_two_ms + provider_ms)
    busy = (
        f"- The machine was oversubscribed (load average ≥ {cores} cores): every process got a share of a core, so a "
        "second worker process could not find a free core, contention inflates the CPU time per verdict, and the "
        "load of other sessions changes between the measurements of one round: these figures say little about an "
        "idle machine."
        if min(loads) >= cores
        else f"- The load average stayed under the {cores} cores."
    )
    lines = [
        f"Latency {args.latency_ms:g} ms, {concurrency} calls in flight: limit {limit:.0f} verdicts/s. {n} verdicts "
        f"per measurement, {args.rounds} rounds (bare, bare over 2 processes, judge 1 process, judge 2 processes, in "
        f"turn); medians, with the rounds' range. {os.cpu_count()} cores ({platform.machine()}, Python "
        f"{platform.python_version()}); load average (1 min) {min(loads):.1f}-{max(loads):.1f} during the run. "
        "The fake provider runs on the same cores. Goal: judge ≥ 0.9 of the limit at 200 ms / 64 in flight.",
        "",
        "| path | verdicts/s | ratio to limit | ratio to bare | client CPU ms per verdict | fake provider CPU ms "
        "per request |",
        "|---|---|---|---|---|---|",
        *rows,
        "",
        busy,
        f"- Where the CPU goes: LiteLLM's own call path (the bare loop) costs {bare_ms:.2f} ms per call in one "
        f"process, {bare_two_ms:.2f} ms over two; judge in one process adds {one_ms - bare_ms:.2f} ms per verdict "
        f"(render, parse, journal, lease claim and batched SQLite writes); over two processes judge costs "
        f"{judge_ms - bare_two_ms:.2f} ms per verdict more than the bare loop over two (each worker's engine and "
        "catalog read; twice the claims, heartbeats and write transactions).",
        f"- The ceiling of these cores: with LiteLLM alone at {bare_two_ms:.2f} ms per call and the provider at "
        f"{provider_ms:.2f} ms per request, {cores} fully busy cores make at most {ceiling:.0f} calls/s "
        f"({ceiling / limit:.2f} of the limit) before judge does any work of its own; the bare loop over 2 "
        f"processes reached {bare_two:.0f}/s ({bare_two / limit:.2f}). Judge over 2 processes: {two:.0f}/s, "
        f"{two / one:.2f}x one process and {two / bare_two:.2f}x the bare loop over 2 processes.",
        f"- Why even the bare loop stays below that ceiling: the calls in flight are fixed ({concurrency}), so by "
        f"Little's law each call took {concurrency / bare_two * 1000:.0f} ms from start to end in the bare loop over "
        f"2 processes ({concurrency / bare_two * 1000 - args.latency_ms:.0f} ms on the client: its CPU and its wait "
        f"for a busy event loop) and {concurrency / two * 1000:.0f} ms in judge over 2 processes, against the "
        f"provider's {args.latency_ms:g} ms; the limit assumes a client that takes no time.",
        f"- Goal status: judge over 2 processes reached {two / limit:.2f} of the limit "
        f"({'met' if two / limit >= 0.9 else 'missed'}). 0.9 of the limit is {0.9 * limit:.0f} calls/s; at "
        f"{judge_ms:.2f} ms of client CPU per verdict that needs {0.9 * limit * judge_ms / 1000:.2f} cores of the "
        f"{cores}. LiteLLM's call path alone ({bare_two_ms:.2f} ms) would take "
        f"{0.9 * limit * bare_two_ms / 1000:.2f} of them, leaving {cores - 0.9 * limit * bare_two_ms / 1000:.2f} "
        f"for the provider ({0.9 * limit * provider_ms / 1000:.2f}) and everything judge does per verdict "
        f"({0.9 * limit * (judge_ms - bare_two_ms) / 1000:.2f} at {judge_ms - bare_two_ms:.2f} ms), with no room "
        "for the queueing above: out of reach through LiteLLM on 2 cores, whatever the number of processes.",
    ]
    print("\n".join(lines))
    if not args.no_write:
        write_section(
            "Judging throughput over processes",
            "\n".join(lines),
            command=f"python bench/processes.py --rounds {args.rounds}",
        )


if __name__ == "__main__":
    main()
