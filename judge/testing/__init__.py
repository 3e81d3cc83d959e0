"""For tests and benches only (production code never imports it): the fake OpenAI-compatible provider, toy
data, the local Redis + Celery worker cluster.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from judge.core.lazy import lazy_getattr

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


__getattr__ = lazy_getattr(__name__, _WHERE)
