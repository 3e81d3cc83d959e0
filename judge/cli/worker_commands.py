"""``judge worker``: a Celery worker judging the units that ``judge run --backend celery`` enqueues."""

from __future__ import annotations

from typing import Annotated

import typer

from judge.cli.app import app, reports_errors
from judge.core.errors import require_extra
from judge.runs.backends.celery_config import QUEUE, broker_url


@app.command("worker")
@reports_errors
def worker(
    concurrency: Annotated[int, typer.Option(help="Worker processes (each judges one task at a time).")] = 4,
    pool: Annotated[str, typer.Option(help="Celery pool: prefork (recycles children), threads or solo.")] = "prefork",
    loglevel: Annotated[str, typer.Option(help="Celery log level.")] = "INFO",
    name: Annotated[str | None, typer.Option(help="Worker node name (default celery@HOST).")] = None,
) -> None:
    """Start a worker on JUDGE_BROKER_URL; run as many as you need, on as many machines as you have."""
    require_extra("worker", "celery", "redis")
    broker_url()  # fail with a clear message when no broker is configured
    from workers.celery_app import app as celery_app

    argv = ["worker", f"--concurrency={concurrency}", f"--pool={pool}", f"--loglevel={loglevel}", f"--queues={QUEUE}"]
    celery_app.worker_main([*argv, *([f"--hostname={name}"] if name else [])])
