"""Which keys of a Celery run are still owed a task, kept in Redis, so that workers can finish a run nobody
follows (``--detach``, the HTTP API).

The producer adds the keys it enqueues to the run's set; a worker removes its keys once their verdicts are
committed (or skipped: already final, run cancelled or over budget). The worker whose removal empties the set
finishes the run (recount and final status). Removal is idempotent, so a redelivered or duplicated task changes
nothing; a task killed before its commit removes nothing, and its redelivery does. A set lost with its Redis
(restart without persistence) only means no worker finishes the run: a follower (``judge run`` without
``--detach``) still does, after enqueueing the lost keys again, which re-adds them here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import redis

TTL_S = 7 * 24 * 3600  # a run nobody finishes must not leave its set behind forever


def waiting_key(run_id: int) -> str:
    """The Redis set of run ``run_id``'s keys still owed a task."""
    return f"judge:run:{run_id}:waiting"


def track(client: redis.Redis, run_id: int, keys: Sequence[str]) -> None:
    """Record ``keys`` of run ``run_id`` as owed a task (before their messages are sent)."""
    if not keys:
        return
    pipe = client.pipeline()
    pipe.sadd(waiting_key(run_id), *keys)
    pipe.expire(waiting_key(run_id), TTL_S)
    pipe.execute()


def untrack(client: redis.Redis, run_id: int, keys: Sequence[str]) -> bool:
    """Remove ``keys`` (done) from run ``run_id``'s set; True when this call emptied it: the caller finishes
    the run. Atomic (MULTI/EXEC), so exactly one of several racing workers sees its own removal empty the set."""
    if not keys:
        return False
    pipe = client.pipeline(transaction=True)
    pipe.srem(waiting_key(run_id), *keys)
    pipe.scard(waiting_key(run_id))
    removed, left = pipe.execute()
    return int(removed) > 0 and int(left) == 0
