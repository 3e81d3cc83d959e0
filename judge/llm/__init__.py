"""The LLM adapter: LiteLLM behind a small client protocol, the retry policy, rate limits, endpoints, the
bundled local judge.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from judge.core.lazy import lazy_getattr

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


__getattr__ = lazy_getattr(__name__, _WHERE)
