"""Scale-out configuration (``JUDGE_*`` variables) and the Celery app built from it.

Why the Redis ``visibility_timeout`` must exceed the task time limit plus the longest retry wait: with
``acks_late`` a message stays unacknowledged in Redis from delivery until its task returns, and Redis hands any
message unacknowledged for longer than the visibility timeout to another worker. A task legitimately holds its
message for up to its hard time limit, and the judge calls inside it may sleep through the whole retry backoff
(``RetryPolicy.max_total_wait_s``, Retry-After included) while a rate-limited provider recovers. A shorter
visibility timeout would make a healthy, slow task run twice at once: paid twice, and raced on its verdict key.
So the timeout is derived as ``time limit + longest retry wait + margin`` and a smaller explicit value is refused.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from judge.errors import InputError
from judge.llm.retry import RetryPolicy
from judge.settings import Settings, get_settings

if TYPE_CHECKING:
    from celery import Celery

TASK_NAME = "judge.judge_unit"
QUEUE = "judge"
VISIBILITY_MARGIN_S = 60.0


class ScaleOutSettings(BaseSettings):
    """Worker, queue and retry settings; every field maps to ``JUDGE_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="JUDGE_", extra="ignore")

    task_time_limit_s: float = Field(default=900.0, gt=0)
    visibility_timeout_s: float | None = Field(default=None, gt=0)
    retry_base_s: float = Field(default=1.0, gt=0)
    retry_cap_s: float = Field(default=60.0, gt=0)
    max_retries: int = Field(default=5, ge=0)
    batch_size: int = Field(default=4, ge=1, le=256)
    worker_prefetch_multiplier: int = Field(default=2, ge=1, le=16)
    worker_max_tasks_per_child: int = Field(default=1000, ge=1)
    worker_max_memory_per_child_kb: int = Field(default=600_000, ge=10_000)
    unacked_restore_interval_s: int = Field(default=10, ge=1)
    follow_poll_s: float = Field(default=0.5, gt=0)
    stall_s: float = Field(default=30.0, gt=0)

    @property
    def soft_time_limit_s(self) -> float:
        """The task's soft limit: a little before the hard one, so it can end cleanly."""
        return self.task_time_limit_s - min(30.0, self.task_time_limit_s / 10)

    def retry_policy(self) -> RetryPolicy:
        """The judge-call retry policy of workers and of the in-process backend."""
        return RetryPolicy(max_attempts=self.max_retries + 1, base_s=self.retry_base_s, cap_s=self.retry_cap_s)

    def minimum_visibility_s(self) -> float:
        """The task time limit plus the longest retry wait of one call (see the module docstring)."""
        return self.task_time_limit_s + self.retry_policy().max_total_wait_s()

    @property
    def effective_visibility_timeout_s(self) -> float:
        """The configured visibility timeout, or the minimum plus a margin."""
        return self.visibility_timeout_s or self.minimum_visibility_s() + VISIBILITY_MARGIN_S

    @model_validator(mode="after")
    def _visibility_covers_a_task(self) -> ScaleOutSettings:
        if self.visibility_timeout_s is not None and self.visibility_timeout_s <= self.minimum_visibility_s():
            raise ValueError(
                f"JUDGE_VISIBILITY_TIMEOUT_S={self.visibility_timeout_s:g} must exceed the task time "
                f"limit plus the longest retry wait ({self.minimum_visibility_s():g} s), or a slow "
                "task would be delivered twice"
            )
        return self

    def check_call_fits(self, timeout_s: float) -> None:
        """Refuse a run whose slowest possible judge call (every attempt timing out, every wait) outlasts a task."""
        worst = self.retry_policy().max_total_duration_s(timeout_s)
        if worst > self.soft_time_limit_s:
            raise InputError(
                f"a judge call may take up to {worst:g} s ({self.max_retries + 1} attempts of "
                f"{timeout_s:g} s plus backoff), more than the worker's soft time limit of "
                f"{self.soft_time_limit_s:g} s: lower --timeout or raise JUDGE_TASK_TIME_LIMIT_S",
                field="--timeout",
            )


def broker_url(settings: Settings | None = None) -> str:
    """``JUDGE_BROKER_URL``, or InputError when the Celery backend is asked for without one."""
    url = (settings or get_settings()).broker_url
    if url is None:
        raise InputError(
            "the celery backend needs JUDGE_BROKER_URL (e.g. redis://localhost:6379/0)", field="JUDGE_BROKER_URL"
        )
    return url.get_secret_value()


def celery_config(settings: Settings, scale: ScaleOutSettings) -> dict[str, Any]:
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
        "worker_prefetch_multiplier": scale.worker_prefetch_multiplier,
        "task_serializer": "json",
        "result_serializer": "json",
        "accept_content": ["json"],
        "result_accept_content": ["json"],
        "task_time_limit": scale.task_time_limit_s,
        "task_soft_time_limit": scale.soft_time_limit_s,
        "task_default_queue": QUEUE,
        "worker_max_tasks_per_child": scale.worker_max_tasks_per_child,
        "worker_max_memory_per_child": scale.worker_max_memory_per_child_kb,
        "broker_connection_retry_on_startup": True,
        "broker_connection_max_retries": None,
        "broker_transport_options": {
            "visibility_timeout": scale.effective_visibility_timeout_s,
            "unacked_restore_interval": scale.unacked_restore_interval_s,
            "unacked_restore_throttle": 1,
        },
        "worker_hijack_root_logger": False,
    }


def make_celery_app(settings: Settings | None = None, scale: ScaleOutSettings | None = None) -> Celery:
    """A Celery app configured from the environment (the worker's and the producer's)."""
    from celery import Celery  # judge[worker]

    app = Celery("judge")
    app.conf.update(celery_config(settings or get_settings(), scale or ScaleOutSettings()))
    return app
