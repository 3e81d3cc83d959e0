"""Settings of the arena (``JUDGE_ARENA_*``; the public base URL of invitations is ``JUDGE_PUBLIC_URL``)."""

from __future__ import annotations

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ArenaSettings(BaseSettings):
    """``public_url``: where voters reach ``judge serve`` (the invitation URLs start with it).
    ``rate_per_minute``/``burst``: requests per voter token. ``refit_votes``/``refit_s``: the live Bradley-Terry
    board is refitted at most that often. ``secure_cookies``: mark the voter cookie Secure (serve over HTTPS)."""

    model_config = SettingsConfigDict(env_prefix="JUDGE_ARENA_", extra="ignore", populate_by_name=True)

    public_url: str = Field(
        default="http://127.0.0.1:8000", validation_alias=AliasChoices("JUDGE_PUBLIC_URL", "JUDGE_ARENA_PUBLIC_URL")
    )
    rate_per_minute: float = Field(default=120.0, gt=0)
    burst: int = Field(default=30, ge=1)
    refit_votes: int = Field(default=50, ge=1)
    refit_s: float = Field(default=30.0, ge=0)
    bootstrap: int = Field(default=200, ge=0)
    elo_k: float = Field(default=16.0, gt=0)
    secure_cookies: bool = False
    live_timeout_s: float = Field(default=60.0, gt=0)
