"""Which sampling parameters a judge model accepts, from LiteLLM's own knowledge of each provider and model.

Reasoning models (``openai/o1``, ``o3-mini``, ``gpt-5``...) reject ``temperature=0`` and ``top_p``; LiteLLM
raises ``UnsupportedParamsError`` before any request is made. Rather than storing one error verdict per call,
judge asks LiteLLM (:func:`litellm.utils.get_optional_params`, the same mapping a call goes through) once per model
and parameter, and leaves out what the model does not accept: the model's own default applies. What was asked,
what was sent and why anything was left out is recorded in the run's method card and in every verdict's
``sampling`` (``{..sent.., "dropped": {"temperature": 0.0}}``); the verdict key hashes the same, so a judge with
nothing dropped keeps its keys.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from typing import Any

from pydantic import Field

from judge.core.types import Frozen
from judge.llm.client import SamplingParams
from judge.llm.lite import litellm

_ADVICE = re.compile(r"\s*(To drop|If you want to use|Set `?litellm\.drop_params).*$", re.DOTALL)


class SamplingChoice(Frozen):
    """The sampling parameters sent to one judge model, and those left out because the model rejects them."""

    sent: SamplingParams
    dropped: dict[str, float | int] = Field(default_factory=dict)
    reasons: dict[str, str] = Field(default_factory=dict)

    def recorded(self) -> dict[str, Any]:
        """The verdict's sampling provenance: the parameters sent, plus ``dropped`` (asked for, not sent)."""
        out: dict[str, Any] = self.sent.recorded()
        if self.dropped:
            out["dropped"] = dict(self.dropped)
        return out

    def note(self, model: str) -> str | None:
        """One line for the method card, or None when everything asked for is sent."""
        if not self.dropped:
            return None
        parts = [f"{name}={value} not sent ({self.reasons[name]})" for name, value in self.dropped.items()]
        return f"{model}: " + "; ".join(parts) + "; the model's default applies"


def _reason(exc: Exception) -> str:
    text = str(getattr(exc, "message", None) or exc)
    text = text.removeprefix("litellm.UnsupportedParamsError: ")
    return _ADVICE.sub("", text).strip() or "not supported by this model (LiteLLM)"


@functools.lru_cache(maxsize=4096)
def _rejection(model: str, name: str, value: float | int) -> str | None:
    """LiteLLM's reason why ``model`` rejects ``name=value``, or None when it accepts it (or cannot tell)."""
    try:
        bare, provider, _, _ = litellm().get_llm_provider(model)
    except Exception:  # a model LiteLLM cannot place: the call itself will say so
        return None
    try:
        params: dict[str, Any] = {name: value}
        litellm().utils.get_optional_params(model=bare, custom_llm_provider=provider, drop_params=False, **params)
    except litellm().exceptions.UnsupportedParamsError as exc:
        return _reason(exc)
    except Exception:  # any other complaint is not about this parameter: send it and let the call decide
        return None
    return None


@functools.lru_cache(maxsize=1024)
def supported_sampling(model: str, sampling: SamplingParams) -> SamplingChoice:
    """``sampling`` for ``model``: every parameter LiteLLM says the model rejects is left out, with its reason."""
    asked = sampling.recorded()
    reasons = {name: reason for name, value in asked.items() if (reason := _rejection(model, name, value)) is not None}
    if not reasons:
        return SamplingChoice(sent=sampling)
    sent = sampling.model_copy(update=dict.fromkeys(reasons))  # None: not sent (SamplingParams.recorded skips it)
    return SamplingChoice(sent=sent, dropped={name: asked[name] for name in reasons}, reasons=reasons)


def sampling_notes(models: Iterable[str], sampling: SamplingParams) -> dict[str, list[str]]:
    """``{"sampling_notes": [...]}`` for a method card, one line per judge model that is not sent everything
    asked for; ``{}`` when every judge is."""
    notes = [note for model in dict.fromkeys(models) if (note := supported_sampling(model, sampling).note(model))]
    return {"sampling_notes": notes} if notes else {}
