"""Settings from the environment: one class, :class:`Settings`, every variable ``JUDGE_*``.

Top-level fields map to ``JUDGE_<NAME>``; the HTTP API's section to ``JUDGE_API_<NAME>`` and the arena's to
``JUDGE_ARENA_<NAME>`` (the arena's public URL is ``JUDGE_PUBLIC_URL``). Provider API keys are never settings of
ours: LiteLLM reads them from the provider's usual variables (``OPENAI_API_KEY``, ``ANTHROPIC_API_KEY``...), and
judge never stores or logs them.

Why the Redis ``visibility_timeout`` must exceed the task time limit plus the longest retry wait: with
``acks_late`` a message stays unacknowledged in Redis from delivery until its task returns, and Redis hands any
message unacknowledged for longer than the visibility timeout to another worker. A task legitimately holds its
message for up to its hard time limit, and the judge calls inside it may sleep through the whole retry backoff
(``RetryPolicy.max_total_wait_s``, Retry-After included) while a rate-limited provider recovers. A shorter
visibility timeout would make a healthy, slow task run twice at once: paid twice, and raced on its verdict key.
So the timeout is derived as ``time limit + longest retry wait + margin`` and a smaller explicit value is refused.
"""

from __future__ import annotations

import json
import os
from functools import lru_cache
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from judge.core.errors import InputError
from judge.core.types import Frozen

if TYPE_CHECKING:
    from judge.llm.endpoints import BaseUrl
    from judge.llm.retry import RetryPolicy

MIB = 1024 * 1024
HOSTED_PROVIDERS = ("openai", "anthropic", "gemini", "mistral", "groq")
"""Providers a judge without an api_base may use by default: hosted services at fixed public endpoints."""
VISIBILITY_MARGIN_S = 60.0


class RateLimit(Frozen):
    """A provider's limits for one judge model; None means unlimited."""

    requests_per_min: float | None = Field(default=None, gt=0)
    tokens_per_min: float | None = Field(default=None, gt=0)


class ApiSettings(BaseModel):
    """The HTTP API's section (``JUDGE_API_<NAME>``): body and page limits, which judge endpoints runs may call,
    failed-authentication throttling, how many verdicts one request may plan.

    ``allowed_api_bases``: base URLs a run's judge ``api_base`` may lie under, compared as normalised URLs
    (scheme, host, port, then whole path segments; see :mod:`judge.llm.endpoints`). Empty (the default) means
    runs use the providers' own endpoints only, so a tenant cannot make the server call arbitrary URLs.
    ``allowed_providers``: the LiteLLM providers a judge without an ``api_base`` may use (their endpoint is
    the operator's: LiteLLM's default or the provider's ``*_API_BASE`` variable); providers whose default
    endpoint is a local server (``ollama``, ``llamafile``...) are not in the default list.
    ``auth_failures_per_minute``: failed authentications one client address may make per minute before it is
    answered 429 with Retry-After (0 turns the throttle off).
    ``max_planned_verdicts``: the most verdicts one ``POST /v1/runs`` may plan (422 above it).
    """

    max_body_bytes: int = Field(default=10 * MIB, ge=1024)
    max_page_size: int = Field(default=500, ge=1)
    default_page_size: int = Field(default=100, ge=1)
    allowed_api_bases: list[str] = Field(default_factory=list)
    allowed_providers: list[str] = Field(default_factory=lambda: list(HOSTED_PROVIDERS))
    auth_failures_per_minute: int = Field(default=20, ge=0)
    max_planned_verdicts: int = Field(default=20_000, ge=1)
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)

    @field_validator("allowed_api_bases")
    @classmethod
    def _bases(cls, value: list[str]) -> list[str]:
        from judge.llm.endpoints import UrlError, normalise_url

        for entry in value:
            try:
                normalise_url(entry)
            except UrlError as exc:
                raise ValueError(f"{entry!r}: {exc}") from None
        return value

    def api_base_allowed(self, api_base: str) -> BaseUrl | None:
        """The normalised ``api_base`` when a run may send judge calls there, else None; raises
        :class:`~judge.llm.endpoints.UrlError` for a URL refused whatever the list (userinfo, ``..``...)."""
        from judge.llm.endpoints import allowed_base, normalise_url

        return allowed_base(api_base, [normalise_url(entry) for entry in self.allowed_api_bases])


class ArenaSettings(BaseModel):
    """The arena's section (``JUDGE_ARENA_<NAME>``). ``public_url``: where voters reach ``judge serve`` (the
    invitation URLs start with it; also ``JUDGE_PUBLIC_URL``). ``rate_per_minute``/``burst``: requests per voter
    token. ``refit_votes``/``refit_s``: the live Bradley-Terry board is refitted at most that often.
    ``secure_cookies``: mark the voter cookie Secure (serve over HTTPS)."""

    public_url: str = "http://127.0.0.1:8000"
    rate_per_minute: float = Field(default=120.0, gt=0)
    burst: int = Field(default=30, ge=1)
    refit_votes: int = Field(default=50, ge=1)
    refit_s: float = Field(default=30.0, ge=0)
    bootstrap: int = Field(default=200, ge=0)
    elo_k: float = Field(default=16.0, gt=0)
    secure_cookies: bool = False
    live_timeout_s: float = Field(default=60.0, gt=0)


class Settings(BaseSettings):
    """Runtime configuration; every field maps to ``JUDGE_<NAME>``, the sections to ``JUDGE_API_<NAME>`` and
    ``JUDGE_ARENA_<NAME>``."""

    model_config = SettingsConfigDict(
        env_prefix="JUDGE_", extra="ignore", env_nested_delimiter="_", env_nested_max_split=1
    )

    database_url: str = "sqlite:///./judge.db"
    broker_url: SecretStr | None = None
    result_backend_url: SecretStr | None = None
    request_timeout_s: float = 60.0
    concurrency: int = 16
    processes: int = Field(default_factory=lambda: os.cpu_count() or 1, ge=1, le=256)
    """``JUDGE_PROCESSES``: worker processes an in-process run spreads its calls over (default: the cores)."""
    keys_per_process: int = Field(default=1000, ge=1)
    """``JUDGE_KEYS_PER_PROCESS``: an in-process run uses one more worker process per this many keys to judge.
    The workers' forkserver takes seconds to start (a fresh interpreter importing judge and LiteLLM), which only
    a run of thousands of calls wins back; a smaller run stays in one process."""
    local_judge_port: int = 8765
    local_judge_dir: str = "~/.cache/judge/local"
    # pay once (judge/runs/execution.py): verdict-key leases, and paid verdicts held until the database takes them
    lease_ttl_s: float = 120.0  # a lease whose owner stops renewing it (every ttl/4) is retaken after this
    write_retry_max_s: float = 300.0  # how long paid verdicts wait for a locked/unreachable database
    recovery_dir: str = "judge-recovery"  # then they go to <dir>/run-<id>-<owner>.jsonl; resume loads them
    journal_fsync: bool = False  # fsync each journaled answer (survives a power loss, not only a kill -9)
    # judge calls: retries after the first attempt (exponential backoff with jitter, capped), rate limits
    max_retries: int = Field(default=5, ge=0)
    retry_base_s: float = Field(default=1.0, gt=0)
    retry_cap_s: float = Field(default=60.0, gt=0)
    rate_limits: Annotated[dict[str, RateLimit], NoDecode] = Field(default_factory=dict)
    """``JUDGE_RATE_LIMITS``: JSON ``{"model": {"requests_per_min": 500, "tokens_per_min": 200000}}``."""
    rate_limit_burst_s: float = Field(default=1.0, ge=0)
    """How far ahead of its rate a model may run (seconds of its budget)."""
    # Celery workers and queue
    task_time_limit_s: float = Field(default=900.0, gt=0)
    visibility_timeout_s: float | None = Field(default=None, gt=0)
    batch_size: int = Field(default=4, ge=1, le=256)
    worker_prefetch_multiplier: int = Field(default=2, ge=1, le=16)
    worker_max_tasks_per_child: int = Field(default=1000, ge=1)
    worker_max_memory_per_child_kb: int = Field(default=600_000, ge=10_000)
    unacked_restore_interval_s: int = Field(default=10, ge=1)
    follow_poll_s: float = Field(default=0.5, gt=0)
    stall_s: float = Field(default=30.0, gt=0)
    batch_poll_s: float = Field(default=30.0, gt=0)
    """``JUDGE_BATCH_POLL_S``: seconds between polls of a run's provider batches (``judge run --batch``)."""
    # sections
    api: ApiSettings = Field(default_factory=ApiSettings)
    arena: ArenaSettings = Field(default_factory=ArenaSettings)
    public_url: str | None = None
    """``JUDGE_PUBLIC_URL``: the arena's public URL (wins over ``JUDGE_ARENA_PUBLIC_URL``)."""

    @field_validator("rate_limits", mode="before")
    @classmethod
    def _rate_limits(cls, value: Any) -> Any:
        if isinstance(value, str):
            try:
                return json.loads(value) if value.strip() else {}
            except ValueError as exc:
                raise InputError(f"not JSON: {exc}", field="JUDGE_RATE_LIMITS") from exc
        return value

    @model_validator(mode="after")
    def _checked(self) -> Settings:
        if self.public_url is not None:
            self.arena = self.arena.model_copy(update={"public_url": self.public_url})
        if self.visibility_timeout_s is not None and self.visibility_timeout_s <= self.minimum_visibility_s():
            raise ValueError(
                f"JUDGE_VISIBILITY_TIMEOUT_S={self.visibility_timeout_s:g} must exceed the task time "
                f"limit plus the longest retry wait ({self.minimum_visibility_s():g} s), or a slow "
                "task would be delivered twice"
            )
        return self

    @property
    def soft_time_limit_s(self) -> float:
        """A worker task's soft limit: a little before the hard one, so it can end cleanly."""
        return self.task_time_limit_s - min(30.0, self.task_time_limit_s / 10)

    def retry_policy(self) -> RetryPolicy:
        """The judge-call retry policy of workers and of the in-process backend."""
        from judge.llm.retry import RetryPolicy

        return RetryPolicy(max_attempts=self.max_retries + 1, base_s=self.retry_base_s, cap_s=self.retry_cap_s)

    def minimum_visibility_s(self) -> float:
        """The task time limit plus the longest retry wait of one call (see the module docstring)."""
        return self.task_time_limit_s + self.retry_policy().max_total_wait_s()

    @property
    def effective_visibility_timeout_s(self) -> float:
        """The configured visibility timeout, or the minimum plus a margin."""
        return self.visibility_timeout_s or self.minimum_visibility_s() + VISIBILITY_MARGIN_S

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


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
