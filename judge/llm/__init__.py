"""The LLM adapter: LiteLLM behind a small client protocol, the retry policy, rate limits, endpoints, the
bundled local judge.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from judge.llm.client import Completion, CompletionRequest, JudgeClient, LiteLLMClient, SamplingParams
    from judge.llm.retry import RetryPolicy

__all__ = [
    "Completion",
    "CompletionRequest",
    "JudgeClient",
    "LiteLLMClient",
    "RetryPolicy",
    "SamplingParams",
]
_WHERE = {
    "Completion": "judge.llm.client",
    "CompletionRequest": "judge.llm.client",
    "JudgeClient": "judge.llm.client",
    "LiteLLMClient": "judge.llm.client",
    "SamplingParams": "judge.llm.client",
    "RetryPolicy": "judge.llm.retry",
}


def __getattr__(name: str) -> Any:
    """The public names, imported on first use (importing the package stays light and free of cycles)."""
    if name in _WHERE:
        import importlib

        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
