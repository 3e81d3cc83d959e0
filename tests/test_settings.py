"""One settings class: every JUDGE_* variable, the API's and the arena's sections included, read in one place."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from judge.core.errors import InputError
from judge.settings import RateLimit, Settings


def test_sections_read_their_prefixed_variables(judge_env: pytest.MonkeyPatch) -> None:
    judge_env.setenv("JUDGE_API_MAX_PAGE_SIZE", "50")
    judge_env.setenv("JUDGE_API_ALLOWED_API_BASES", '["http://127.0.0.1:9/v1"]')
    judge_env.setenv("JUDGE_ARENA_BURST", "7")
    judge_env.setenv("JUDGE_ARENA_PUBLIC_URL", "http://arena.example")
    judge_env.setenv("JUDGE_MAX_RETRIES", "2")
    judge_env.setenv("JUDGE_RATE_LIMITS", '{"openai/m": {"requests_per_min": 60}}')
    settings = Settings()
    assert (settings.api.max_page_size, settings.api.allowed_api_bases) == (50, ["http://127.0.0.1:9/v1"])
    assert (settings.arena.burst, settings.arena.public_url) == (7, "http://arena.example")
    assert settings.retry_policy().max_attempts == 3  # JUDGE_MAX_RETRIES, read once for workers and the CLI
    assert settings.rate_limits == {"openai/m": RateLimit(requests_per_min=60)}
    judge_env.setenv("JUDGE_PUBLIC_URL", "https://votes.example")
    assert Settings().arena.public_url == "https://votes.example"


def test_bad_values_name_their_variable(judge_env: pytest.MonkeyPatch) -> None:
    judge_env.setenv("JUDGE_RATE_LIMITS", "{not json")
    with pytest.raises(InputError, match="JUDGE_RATE_LIMITS"):
        Settings()
    judge_env.delenv("JUDGE_RATE_LIMITS")
    judge_env.setenv("JUDGE_API_ALLOWED_API_BASES", '["http://user@host/v1"]')
    with pytest.raises(ValidationError, match="user@host"):
        Settings()
