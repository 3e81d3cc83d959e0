"""The HTTP API (``judge serve``; OpenAPI at ``/docs``): prompt sets, runs, verdicts, leaderboards, agreement
and audits for teams identified by API keys, each seeing only its own tenant's rows."""

from judge.api.app import create_app
from judge.settings import ApiSettings

__all__ = ["ApiSettings", "create_app"]
