"""A local cluster for the scale-out tests and benchmark: a private Redis, Celery worker processes, a toy set.

Never touches a shared Redis: :class:`RedisServer` starts its own on a free port. :class:`Worker` runs
``celery -A workers.celery_app worker`` in its own process group, so ``kill()`` is a real ``kill -9`` of the worker
and its pool children.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import redis
from sqlalchemy.engine import Engine

from judge.store.engine import session_scope
from judge.store.ingest import write_bundle
from judge.testing.toy import toy_bundle

REPO = Path(__file__).resolve().parents[2]
CELERY = Path(sys.executable).parent / "celery"
FAST_ENV = {  # small limits so redelivery after a lost worker takes seconds, not an hour
    "JUDGE_TASK_TIME_LIMIT_S": "4",
    "JUDGE_MAX_RETRIES": "2",
    "JUDGE_RETRY_BASE_S": "0.05",
    "JUDGE_RETRY_CAP_S": "0.2",
    "JUDGE_VISIBILITY_TIMEOUT_S": "5",
    "JUDGE_UNACKED_RESTORE_INTERVAL_S": "1",
    "JUDGE_BATCH_SIZE": "2",
    "JUDGE_STALL_S": "2",
    "JUDGE_FOLLOW_POLL_S": "0.2",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RedisServer:
    """A redis-server of our own on a free port (never the shared one), restartable."""

    def __init__(self, workdir: Path, *, persistent: bool = False) -> None:
        self.port, self.workdir, self.persistent = free_port(), workdir, persistent
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        persistence = ["--appendonly", "yes", "--appendfsync", "always"] if self.persistent else ["--appendonly", "no"]
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--dir",
                str(self.workdir),
                *persistence,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis.from_url(self.url)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        client.close()
        return self

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None


class Worker:
    """``celery -A workers.celery_app worker`` in its own process group (so kill -9 takes its children too)."""

    def __init__(
        self,
        name: str,
        env: dict[str, str],
        logdir: Path,
        *,
        concurrency: int = 2,
        pool: str = "prefork",
        extra: tuple[str, ...] = (),
    ) -> None:
        self.log = logdir / f"{name}.log"
        full_env = {**os.environ, **env, "PYTHONPATH": str(REPO)}
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                [
                    str(CELERY),
                    "-A",
                    "workers.celery_app",
                    "worker",
                    f"--pool={pool}",
                    f"--concurrency={concurrency}",
                    "--loglevel=INFO",
                    f"--hostname={name}@%h",
                    "--without-gossip",
                    "--without-mingle",
                    "--without-heartbeat",
                    "--queues=judge",
                    *extra,
                ],
                cwd=REPO,
                env=full_env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def wait_ready(self, timeout_s: float = 60.0) -> Worker:
        deadline = time.monotonic() + timeout_s
        while b" ready." not in self.log.read_bytes():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"worker did not start:\n{self.log.read_text()[-3000:]}")
            time.sleep(0.1)
        return self

    def kill(self) -> None:
        """SIGKILL the worker and every child: no warm shutdown, no ack, no cleanup."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()

    def pids(self) -> list[int]:
        """The worker's main process and its children."""
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        found = [int(p) for p in children.read_text().split()] if children.exists() else []
        return [self.process.pid, *found]


def load_toy_set(engine: Engine, prompts: int) -> None:
    with session_scope(engine) as session:
        write_bundle(session, set_name="toy", bundle=toy_bundle(prompts))
