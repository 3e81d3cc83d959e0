"""For tests and benches only (production code never imports it): the fake OpenAI-compatible provider, toy
data, the local Redis + Celery worker cluster.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from judge.testing.fake_provider import FakeProvider
    from judge.testing.toy import toy_bundle

__all__ = [
    "FakeProvider",
    "toy_bundle",
]
_WHERE = {
    "FakeProvider": "judge.testing.fake_provider",
    "toy_bundle": "judge.testing.toy",
}


def __getattr__(name: str) -> Any:
    """The public names, imported on first use (importing the package stays light and free of cycles)."""
    if name in _WHERE:
        import importlib

        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
