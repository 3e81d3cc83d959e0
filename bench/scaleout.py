"""Scale-out benchmark: verdicts/s in-process, on 1 and on 2 Celery workers, the Celery path's per-verdict
overhead, and a worker's memory after 1,000 and 10,000 verdicts; all in one run against the fake provider.

    .venv/bin/python bench/scaleout.py [--latency-ms 100] [--verdicts 400] [--memory-verdicts 10000]

Private Redis on a free port, SQLite file database (WAL), prefork workers (`celery -A workers.celery_app`).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from judge.runs.backends import BackendName, execute_on
from judge.runs.request import JudgeSpec, RunConfig
from judge.runs.service import create_run
from judge.settings import get_settings
from judge.store.engine import get_engine, session_scope, upgrade_database
from judge.store.ingest import write_bundle
from judge.testing.fake_provider import FakeProvider
from judge.testing.local_cluster import FAST_ENV, RedisServer, Worker
from judge.testing.toy import toy_bundle


def make_set(url: str, name: str, verdicts: int) -> None:
    bundle = toy_bundle(verdicts // 2, tag=name)
    with session_scope(get_engine(url)) as session:
        write_bundle(session, set_name=name, bundle=bundle)


def timed_run(url: str, provider: FakeProvider, name: str, backend: BackendName, concurrency: int) -> dict[str, Any]:
    config = RunConfig(
        set_name=name,
        judges=(JudgeSpec(model="openai/fake-judge", api_base=provider.url),),
        rubric="pairwise",
        timeout_s=30.0,
        concurrency=concurrency,
    )
    engine = get_engine(url)
    with session_scope(engine) as session:
        run, plan = create_run(session, config=config)
    assert run.id is not None
    started = time.perf_counter()
    progress = execute_on(backend, engine, run.id)
    seconds = time.perf_counter() - started
    done = getattr(progress, "done", 0)
    assert done == len(plan.items), (done, len(plan.items))
    return {"verdicts": done, "seconds": round(seconds, 3), "per_s": round(done / seconds, 1)}


def rss_mb(worker: Worker) -> float:
    total = 0
    for pid in worker.pids():
        status = Path(f"/proc/{pid}/status")
        if status.exists():
            for line in status.read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
    return round(total / 1024, 1)


def overhead(url: str, provider: FakeProvider, env: dict[str, str], tmp: Path, batch: int, reps: int) -> dict[str, Any]:
    """Per-verdict overhead of Celery over in-process at ``batch`` judge calls in flight on both sides (one
    worker process judging batches of ``batch`` keys; in-process concurrency ``batch``), zero provider latency,
    after a warm-up run on each side (imports, LiteLLM's first call, the worker's RunContext cache). The two
    paths alternate ``reps`` times on fresh sets; the figure is the median of the per-pair differences (the
    2 shared cores make single runs vary by several ms per verdict)."""
    os.environ["JUDGE_BATCH_SIZE"] = str(batch)
    worker = Worker(f"serial{batch}", {**env, "JUDGE_BATCH_SIZE": str(batch)}, tmp, concurrency=1).wait_ready()
    pairs: list[tuple[dict[str, Any], dict[str, Any]]] = []
    try:
        timed_run(url, provider, f"warm_in{batch}", BackendName.INPROCESS, batch)
        timed_run(url, provider, f"warm_celery{batch}", BackendName.CELERY, batch)
        for rep in range(reps):
            inproc = timed_run(url, provider, f"serial_in{batch}_{rep}", BackendName.INPROCESS, batch)
            celery = timed_run(url, provider, f"serial_celery{batch}_{rep}", BackendName.CELERY, batch)
            pairs.append((inproc, celery))
    finally:
        worker.stop()
    differences = sorted(1000 * (c["seconds"] / c["verdicts"] - i["seconds"] / i["verdicts"]) for i, c in pairs)
    return {
        "in_flight": batch,
        "inprocess_s": [i["seconds"] for i, _ in pairs],
        "celery_s": [c["seconds"] for _, c in pairs],
        "verdicts_each": pairs[0][0]["verdicts"],
        "overhead_ms_per_verdict": [round(d, 2) for d in differences],
        "median_overhead_ms_per_verdict": round(statistics.median(differences), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--latency-ms", type=float, default=100.0)
    parser.add_argument("--verdicts", type=int, default=400)
    parser.add_argument("--per-worker", type=int, default=8, help="judge calls in flight per worker")
    parser.add_argument("--overhead-verdicts", type=int, default=200)
    parser.add_argument("--warmup-verdicts", type=int, default=40)
    parser.add_argument("--overhead-reps", type=int, default=5)
    parser.add_argument("--memory-verdicts", type=int, default=10_000)
    parser.add_argument("--parts", default="throughput,overhead,memory", help="comma-separated subset")
    args = parser.parse_args()
    parts = set(args.parts.split(","))
    tmp = Path(tempfile.mkdtemp(prefix="judge-scaleout-"))
    url = f"sqlite:///{tmp / 'bench.db'}"
    upgrade_database(url)
    redis_server = RedisServer(tmp).start()
    processes = 2  # prefork children per worker; each judges a batch of per_worker/2 keys concurrently
    env = {
        **FAST_ENV,
        "JUDGE_TASK_TIME_LIMIT_S": "120",
        "JUDGE_VISIBILITY_TIMEOUT_S": "200",
        "JUDGE_DATABASE_URL": url,
        "JUDGE_BROKER_URL": redis_server.url,
        "JUDGE_STALL_S": "30",
        "JUDGE_BATCH_SIZE": str(args.per_worker // processes),
        "JUDGE_WORKER_MAX_TASKS_PER_CHILD": "500",
        "JUDGE_WORKER_MAX_MEMORY_PER_CHILD_KB": "600000",
    }
    os.environ.update(env)
    get_settings.cache_clear()
    results: dict[str, Any] = {"latency_ms": args.latency_ms, "in_flight_per_worker": args.per_worker}
    sizes = {"inproc": args.verdicts, "one": args.verdicts, "two": args.verdicts, "mem1": 1000}
    sizes["mem2"] = args.memory_verdicts - 1000
    for batch in (1, 4):
        for prefix in ("warm_in", "warm_celery"):
            sizes[f"{prefix}{batch}"] = args.warmup_verdicts
        for rep in range(args.overhead_reps):
            for prefix in ("serial_in", "serial_celery"):
                sizes[f"{prefix}{batch}_{rep}"] = args.overhead_verdicts
    for name, verdicts in sizes.items():
        make_set(url, name, verdicts)
    workers: list[Worker] = []
    with FakeProvider() as provider:
        latency = {"kind": "verdict", "label": "A", "latency_ms": args.latency_ms}
        provider.script(default=latency)  # type: ignore[arg-type]
        try:
            if "throughput" in parts:
                results["inprocess"] = timed_run(url, provider, "inproc", BackendName.INPROCESS, args.per_worker)
                workers.append(Worker("bench0", env, tmp, concurrency=processes).wait_ready())
                results["celery_1_worker"] = timed_run(url, provider, "one", BackendName.CELERY, args.per_worker)
                workers.append(Worker("bench1", env, tmp, concurrency=processes).wait_ready())
                results["celery_2_workers"] = timed_run(url, provider, "two", BackendName.CELERY, args.per_worker)
                results["scaling_2_over_1"] = round(
                    results["celery_2_workers"]["per_s"] / results["celery_1_worker"]["per_s"], 2
                )
                for w in workers:
                    w.stop()
            if "overhead" in parts:
                provider.script(default={**latency, "latency_ms": 0})  # type: ignore[arg-type]
                results["overhead"] = [overhead(url, provider, env, tmp, batch, args.overhead_reps) for batch in (1, 4)]
                provider.script(default=latency)  # type: ignore[arg-type]
            if "memory" in parts:  # one worker (2 prefork children, recycled by task count and memory)
                os.environ["JUDGE_BATCH_SIZE"] = "8"
                workers.append(
                    Worker("memory", {**env, "JUDGE_BATCH_SIZE": "8"}, tmp, concurrency=processes).wait_ready()
                )
                results["memory_after_1000"] = {
                    **timed_run(url, provider, "mem1", BackendName.CELERY, 8),
                    "worker_rss_mb": rss_mb(workers[-1]),
                }
                results["memory_after_10000"] = {
                    **timed_run(url, provider, "mem2", BackendName.CELERY, 8),
                    "worker_rss_mb": rss_mb(workers[-1]),
                }
        finally:
            for w in workers:
                w.stop()
            redis_server.stop()
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
