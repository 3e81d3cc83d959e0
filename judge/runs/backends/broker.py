"""The Celery producer side: enqueue a run's missing verdict keys, and see which of its messages are still
in the broker (queued, or delivered and not yet acknowledged)."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Sequence
from typing import Any

import redis
from celery import Celery
from kombu.exceptions import OperationalError

from judge.core.errors import BrokerError
from judge.runs.backends.celery_config import BATCH_TASK_NAME, QUEUE, TASK_NAME, broker_url, make_celery_app
from judge.runs.backends.tracking import track
from judge.settings import Settings, get_settings

UNACKED_KEY = "unacked"  # kombu's Redis transport keeps delivered, unacknowledged messages in this hash


def message_run_id(payload: dict[str, Any]) -> int | None:
    """The run id a kombu message carries, when it is a ``judge.judge_unit`` task (protocol 2, JSON body)."""
    if payload.get("headers", {}).get("task") != TASK_NAME:
        return None
    body = payload.get("body", "")
    if payload.get("properties", {}).get("body_encoding") == "base64":
        body = base64.b64decode(body)
    args = json.loads(body)[0]
    return int(args[0]) if args else None


def batches(keys: Sequence[str], size: int) -> Iterable[list[str]]:
    """``keys`` in consecutive lists of at most ``size``."""
    for start in range(0, len(keys), size):
        yield list(keys[start : start + size])


class CeleryBroker:
    """Sends ``judge.judge_unit`` tasks and inspects the Redis broker."""

    def __init__(self, settings: Settings | None = None) -> None:
        settings = settings or get_settings()
        self.scale = settings
        self.app: Celery = make_celery_app(settings)
        self.redis = redis.Redis.from_url(broker_url(settings), socket_timeout=5, socket_connect_timeout=5)

    def enqueue(self, run_id: int, keys: Sequence[str]) -> int:
        """Record ``keys`` of run ``run_id`` as owed a task (:mod:`judge.runs.backends.tracking`) and send them in
        batches; returns the number of messages sent."""
        sent = 0
        try:
            track(self.redis, run_id, keys)
            with self.app.producer_or_acquire() as producer:
                for batch in batches(keys, self.scale.batch_size):
                    self.app.send_task(TASK_NAME, args=[run_id, batch], queue=QUEUE, producer=producer)
                    sent += 1
        except (OperationalError, redis.RedisError, OSError) as exc:
            raise BrokerError(f"cannot enqueue run {run_id} ({sent} of its messages sent): {exc}") from exc
        return sent

    def enqueue_batch_step(self, run_id: int, since: str) -> None:
        """Send the first round of ``--batch`` run ``run_id``'s execution begun at ``since`` (ISO time; see
        :func:`judge.runs.backends.unit.batch_step_sync`)."""
        try:
            self.app.send_task(BATCH_TASK_NAME, args=[run_id, since], queue=QUEUE)
        except (OperationalError, redis.RedisError, OSError) as exc:
            raise BrokerError(f"cannot enqueue run {run_id}'s batch round: {exc}") from exc

    def pending(self, run_id: int) -> int | None:
        """Messages of run ``run_id`` queued or in flight; None when the broker cannot be read right now."""
        try:
            queued = [json.loads(raw) for raw in self.redis.lrange(QUEUE, 0, -1)]
            unacked = [json.loads(raw)[0] for raw in self.redis.hvals(UNACKED_KEY)]
        except (redis.RedisError, OSError):
            return None
        return sum(1 for payload in queued + unacked if message_run_id(payload) == run_id)

    def close(self) -> None:
        """Release the broker connections."""
        self.redis.close()
        self.app.close()
