"""Settings of the HTTP API (``JUDGE_API_*``): body and page limits, which judge endpoints runs may call,
failed-authentication throttling, how many verdicts one request may plan."""

from __future__ import annotations

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from judge.llm.endpoints import BaseUrl, UrlError, allowed_base, normalise_url

MIB = 1024 * 1024
HOSTED_PROVIDERS = ("openai", "anthropic", "gemini", "mistral", "groq")
"""Providers a judge without an api_base may use by default: hosted services at fixed public endpoints."""


class ApiSettings(BaseSettings):
    """Every field maps to ``JUDGE_API_<NAME>``.

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

    model_config = SettingsConfigDict(env_prefix="JUDGE_API_", extra="ignore")

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
        for entry in value:
            try:
                normalise_url(entry)
            except UrlError as exc:
                raise ValueError(f"{entry!r}: {exc}") from None
        return value

    def api_base_allowed(self, api_base: str) -> BaseUrl | None:
        """The normalised ``api_base`` when a run may send judge calls there, else None; raises
        :class:`~judge.llm.endpoints.UrlError` for a URL refused whatever the list (userinfo, ``..``...)."""
        return allowed_base(api_base, [normalise_url(entry) for entry in self.allowed_api_bases])
