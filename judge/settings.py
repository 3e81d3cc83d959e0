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


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
