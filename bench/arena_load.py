"""Arena load test: votes per second a real uvicorn server sustains with concurrent voters on PostgreSQL.

Run ``.venv/bin/python bench/arena_load.py`` (``--quick`` for a smoke run). It creates a private schema in the
PostgreSQL database of ``JUDGE_TEST_POSTGRES_URL`` (default ``postgresql+psycopg://postgres@127.0.0.1:5432/test``),
loads a prompt set (``--prompts`` prompts answered by ``--models`` models), invites ``--voters`` voters and starts
``uvicorn`` (``--workers`` processes) on it. Each voter is an asyncio task on one client process that loops
``GET /v1/arena/next`` -> ``POST /v1/arena/votes`` for ``--seconds``; server and client share the machine's cores.
Afterwards every vote answered 201 must be in the store exactly once (nothing lost, nothing doubled). Figures go
to the "## Arena load" section of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.report import replace_section  # noqa: E402
from judge.arena import service  # noqa: E402
from judge.importers.bundle import ImportBundle  # noqa: E402
from judge.importers.records import PromptRecord, ResponseRecord  # noqa: E402
from judge.store.engine import make_engine, session_scope, upgrade_database  # noqa: E402
from judge.store.ingest import write_bundle  # noqa: E402
from judge.store.queries import get_set  # noqa: E402

POSTGRES_URL = os.environ.get("JUDGE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
TITLE = "Arena load"
SET = "load"


def app() -> Any:
    """The uvicorn factory: the API over ``ARENA_LOAD_DB`` with a rate limit no voter of the bench reaches."""
    from judge.api import create_app
    from judge.api.arena import reconfigure
    from judge.settings import ArenaSettings
    from judge.store import open_store

    application = create_app(open_store(os.environ["ARENA_LOAD_DB"]))
    reconfigure(application, ArenaSettings(rate_per_minute=1e6, burst=10_000))
    return application


def bundle(prompts: int, models: int) -> ImportBundle:
    names = [f"model-{k}" for k in range(models)]
    return ImportBundle(
        prompts=[PromptRecord(prompt_id=f"p{i}", turns=[f"Question {i}: explain item {i}."]) for i in range(prompts)],
        responses=[
            ResponseRecord(prompt_id=f"p{i}", model=m, turns=[f"Answer of {m} to {i}: " + "text " * 80])
            for i in range(prompts)
            for m in names
        ],
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def _request(client: httpx.AsyncClient, method: str, url: str, **kwargs: Any) -> tuple[httpx.Response, int]:
    """The response and how many transport failures (a connection closed under us) came before it."""
    failures = 0
    while True:
        try:
            return await client.request(method, url, **kwargs), failures
        except httpx.TransportError:
            failures += 1
            if failures > 5:
                raise


async def voter_loop(
    client: httpx.AsyncClient, token: str, until: float, latencies: dict[str, list[float]], created: list[str]
) -> dict[str, int]:
    headers = {"Authorization": f"Bearer {token}"}
    counts = {"votes": 0, "repeat": 0, "errors": 0, "exhausted": 0, "retried": 0}
    rng = np.random.default_rng(abs(hash(token)) % 2**32)
    while time.monotonic() < until:
        started = time.perf_counter()
        served, failures = await _request(client, "GET", "/v1/arena/next", headers=headers)
        latencies["next"].append(time.perf_counter() - started)
        counts["retried"] += failures
        if served.status_code == 204:
            counts["exhausted"] += 1
            break
        if served.status_code != 200:
            counts["errors"] += 1
            continue
        unit_id = served.json()["unit_id"]
        choice = ("A", "B", "tie", "bothbad")[int(rng.integers(4))]
        started = time.perf_counter()
        body = {"unit_id": unit_id, "choice": choice}
        voted, failures = await _request(client, "POST", "/v1/arena/votes", json=body, headers=headers)
        latencies["vote"].append(time.perf_counter() - started)
        counts["retried"] += failures
        if voted.status_code == 201 or (voted.status_code == 200 and failures):
            counts["votes"] += 1  # a 200 after a lost answer: the lost request stored it, the retry saw it
            created.append(unit_id)
        elif voted.status_code == 200:
            counts["repeat"] += 1
        else:
            counts["errors"] += 1
    return counts


async def drive(base: str, tokens: list[str], seconds: float) -> tuple[list[dict[str, int]], dict[str, Any], float]:
    latencies: dict[str, list[float]] = {"next": [], "vote": []}
    created: list[str] = []
    limits = httpx.Limits(max_connections=len(tokens) + 10, max_keepalive_connections=len(tokens) + 10)
    async with httpx.AsyncClient(base_url=base, timeout=60.0, limits=limits) as client:
        started = time.perf_counter()
        until = time.monotonic() + seconds
        counts = await asyncio.gather(*(voter_loop(client, t, until, latencies, created) for t in tokens))
        wall = time.perf_counter() - started
    return list(counts), {"latencies": latencies, "created": created}, wall


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q) * 1000.0) if values else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smoke size: 10 voters, 5 seconds")
    parser.add_argument("--voters", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--prompts", type=int, default=200)
    parser.add_argument("--models", type=int, default=6)
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes")
    parser.add_argument("--no-write", action="store_true", help="print only, leave BENCHMARKS.md alone")
    args = parser.parse_args()
    if args.quick:
        args.voters, args.seconds = 10, 5.0

    load_at_start = os.getloadavg()[0]
    admin = create_engine(POSTGRES_URL)
    schema = f"arena_load_{uuid.uuid4().hex[:10]}"
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in POSTGRES_URL else "?"
    url = f"{POSTGRES_URL}{separator}options=-csearch_path%3D{schema}"
    server = None
    try:
        upgrade_database(url)
        engine = make_engine(url)
        with session_scope(engine) as session:
            write_bundle(session, set_name=SET, bundle=bundle(args.prompts, args.models))
            prompt_set = get_set(session, name=SET)
            tokens = [
                service.invite(session, prompt_set=prompt_set, voter=f"voter-{i}", expires=None, base_url="").token
                for i in range(args.voters + 1)
            ]
        baseline_token, tokens = tokens[0], tokens[1:]
        port = free_port()
        env = {**os.environ, "ARENA_LOAD_DB": url, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "--factory",
                "bench.arena_load:app",
                "--port",
                str(port),
                "--workers",
                str(args.workers),
                "--log-level",
                "warning",
                "--no-access-log",
                "--timeout-keep-alive",
                "120",
            ],
            cwd=ROOT,
            env=env,
        )
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 240
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code < 500:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.2)
        warm_counts, _, _ = asyncio.run(drive(base, [baseline_token], 3.0))  # both workers import and cache
        solo_counts, solo_detail, solo_wall = asyncio.run(drive(base, [baseline_token], args.seconds / 3))
        counts, detail, wall = asyncio.run(drive(base, tokens, args.seconds))
        with session_scope(engine) as session:
            stored = session.execute(text("SELECT count(*), count(DISTINCT vote_key) FROM vote WHERE source = 'arena'"))
            n_stored, n_distinct = stored.one()
            per_unit = session.execute(text("SELECT count(*) FROM arena_unit WHERE status = 'voted'")).scalar_one()
        engine.dispose()
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()

    votes = sum(c["votes"] for c in counts)
    solo_votes = sum(c["votes"] for c in solo_counts)
    warm_votes = sum(c["votes"] for c in warm_counts)
    errors = sum(c["errors"] for c in counts)
    retried = sum(c["retried"] for c in counts)
    latencies = detail["latencies"]
    lost = votes + solo_votes + warm_votes - n_stored
    ok = lost == 0 and n_stored == n_distinct == per_unit
    section = "\n".join(
        [
            f"## {TITLE}",
            "",
            f"`.venv/bin/python bench/arena_load.py` ({args.voters} concurrent voters, each looping next -> vote for "
            f"{args.seconds:g} s; uvicorn with {args.workers} worker processes on PostgreSQL; {args.prompts} prompts × "
            f"{args.models} models, active pair selection on every `next`; client and server share the machine's "
            f"{os.cpu_count()} cores, load average {load_at_start:.1f} at start (shared machine); "
            f"Python {platform.python_version()}).",
            "",
            "| measurement | figure |",
            "|---|---:|",
            f"| votes stored (201) | {votes:,} in {wall:.1f} s |",
            f"| **votes/s sustained** | **{votes / wall:.1f}** |",
            f"| `POST /v1/arena/votes` latency p50 / p99 ({args.voters} voters) | "
            f"{percentile(latencies['vote'], 50):.0f} ms / "
            f"{percentile(latencies['vote'], 99):.0f} ms |",
            f"| `GET /v1/arena/next` latency p50 / p99 ({args.voters} voters) | "
            f"{percentile(latencies['next'], 50):.0f} ms / "
            f"{percentile(latencies['next'], 99):.0f} ms |",
            f"| baseline in the same run: one voter alone, {args.seconds / 3:.0f} s after a 3 s warm-up | "
            f"{solo_votes / solo_wall:.1f} votes/s, "
            f"vote p50 {percentile(solo_detail['latencies']['vote'], 50):.0f} ms, next p50 "
            f"{percentile(solo_detail['latencies']['next'], 50):.0f} ms |",
            f"| {args.voters} voters / one voter | {(votes / wall) / (solo_votes / solo_wall):.1f}× the votes/s |",
            f"| errors (non-2xx) | {errors} |",
            f"| requests retried after a dropped connection | {retried} |",
            f"| votes in the store / answered 201 (all phases) / distinct keys | {n_stored:,} / "
            f"{votes + solo_votes + warm_votes:,} / {n_distinct:,} |",
            f"| nothing lost, nothing doubled | {'yes' if ok else 'NO'} |",
            "",
        ]
    )
    print(section)
    if not args.no_write:
        replace_section(TITLE, section)
    if not ok:
        sys.exit(1)


if __name__ == "__main__":
    main()
