"""The Celery app built from the settings (``JUDGE_BROKER_URL``, the worker and queue fields of
:class:`judge.settings.Settings`, whose docstring says why the visibility timeout is derived as it is)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from judge.core.errors import InputError
from judge.settings import Settings, get_settings

if TYPE_CHECKING:
    from celery import Celery

TASK_NAME = "judge.judge_unit"
BATCH_TASK_NAME = "judge.batch_step"
"""One round of a ``--batch`` run (follow, collect, submit); it sends itself again while batches run."""
QUEUE = "judge"


def broker_url(settings: Settings | None = None) -> str:
    """``JUDGE_BROKER_URL``, or InputError when the Celery backend is asked for without one."""
    url = (settings or get_settings()).broker_url
    if url is None:
        raise InputError(
            "the celery backend needs JUDGE_BROKER_URL (e.g. redis://localhost:6379/0)", field="JUDGE_BROKER_URL"
        )
    return url.get_secret_value()


def celery_config(settings: Settings) -> dict[str, Any]:
    """Celery's configuration: late acks, redelivery on worker loss, a small prefetch (by default 2 messages
    per process: the next one waits in the worker while one runs, so the broker round trip overlaps a task;
    prefetched messages stay unacknowledged and come back after the visibility timeout if the worker dies),
    JSON only, time limits, worker recycling and the Redis visibility timeout."""
    result = settings.result_backend_url
    return {
        "broker_url": broker_url(settings),
        "result_backend": result.get_secret_value() if result is not None else None,
        "task_ignore_result": result is None,
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": settings.worker_prefetch_multiplier,
        "task_serializer": "json",
        "result_serializer": "json",
        "accept_content": ["json"],
        "result_accept_content": ["json"],
        "task_time_limit": settings.task_time_limit_s,
        "task_soft_time_limit": settings.soft_time_limit_s,
        "task_default_queue": QUEUE,
        "worker_max_tasks_per_child": settings.worker_max_tasks_per_child,
        "worker_max_memory_per_child": settings.worker_max_memory_per_child_kb,
        "broker_connection_retry_on_startup": True,
        "broker_connection_max_retries": None,
        "broker_transport_options": {
            "visibility_timeout": settings.effective_visibility_timeout_s,
            "unacked_restore_interval": settings.unacked_restore_interval_s,
            "unacked_restore_throttle": 1,
        },
        "worker_hijack_root_logger": False,
    }


def make_celery_app(settings: Settings | None = None) -> Celery:
    """A Celery app configured from the environment (the worker's and the producer's)."""
    from celery import Celery  # judge[worker]

    app = Celery("judge")
    app.conf.update(celery_config(settings or get_settings()))
    return app
