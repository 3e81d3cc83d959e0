"""Settings of the HTTP API (``JUDGE_API_*``): body and page limits, which judge endpoints runs may call."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

MIB = 1024 * 1024


class ApiSettings(BaseSettings):
    """Every field maps to ``JUDGE_API_<NAME>``.

    ``allowed_api_bases``: URL prefixes a run's judge ``api_base`` may start with. Empty (the default) means
    runs use the providers' own endpoints only, so a tenant cannot make the server call arbitrary URLs.
    """

    model_config = SettingsConfigDict(env_prefix="JUDGE_API_", extra="ignore")

    max_body_bytes: int = Field(default=10 * MIB, ge=1024)
    max_page_size: int = Field(default=500, ge=1)
    default_page_size: int = Field(default=100, ge=1)
    allowed_api_bases: list[str] = Field(default_factory=list)
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)

    def api_base_allowed(self, api_base: str) -> bool:
        """Whether a run may send judge calls to ``api_base``."""
        return any(api_base.startswith(prefix) for prefix in self.allowed_api_bases)
