"""Settings from the environment (prefix ``JUDGE_``).

Provider API keys are never settings of ours: LiteLLM reads them from the provider's usual variables
(``OPENAI_API_KEY``, ``ANTHROPIC_API_KEY``...), and judge never stores or logs them.
"""

from __future__ import annotations

from functools import lru_cache

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Runtime configuration; every field maps to ``JUDGE_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="JUDGE_", extra="ignore")

    database_url: str = "sqlite:///./judge.db"
    broker_url: SecretStr | None = None
    result_backend_url: SecretStr | None = None
    request_timeout_s: float = 60.0
    max_retries: int = 5
    concurrency: int = 16
    local_judge_port: int = 8765
    local_judge_dir: str = "~/.cache/judge/local"
    # pay once (judge/execution.py): verdict-key leases, and paid verdicts held until the database takes them
    lease_ttl_s: float = 120.0  # a lease whose owner stops renewing it (every ttl/4) is retaken after this
    write_retry_max_s: float = 300.0  # how long paid verdicts wait for a locked/unreachable database
    recovery_dir: str = "judge-recovery"  # then they go to <dir>/run-<id>-<owner>.jsonl; resume loads them
    journal_fsync: bool = False  # fsync each journaled answer (survives a power loss, not only a kill -9)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
