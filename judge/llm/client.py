"""Judge model calls through LiteLLM: explicit timeouts, retries, structured output, tokens, cost, latency.

Any LiteLLM model string works (``openai/gpt-4o-mini``, ``anthropic/...``, ``ollama/...``, ``openai/<name>``
with an ``api_base`` for any OpenAI-compatible server). LiteLLM's own retries, callbacks and chatter are off;
our retry policy (:mod:`judge.llm.retry`) decides. There is never a fallback to another model. API keys come
from the provider's environment variables and are never logged (request headers are never logged).

Error mapping: 429, 5xx, timeouts, connection errors and unreadable (non-JSON) bodies raise
:class:`RetryableProviderError` (with the server's Retry-After); 400, 401, 403, 404, 422 raise
:class:`FatalProviderError` at once. When structured output is requested and the provider answers 400, the
call is repeated once without ``response_format`` and ``structured_output_used`` is False; that model and
api_base are remembered, so later calls do not ask again.
"""

from __future__ import annotations

import asyncio
import email.utils
import functools
import logging
import os
import time
import weakref
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import Field

from judge.core.errors import FatalProviderError, ProviderError, RetryableProviderError, classify_failure
from judge.core.redaction import redact
from judge.core.render import ResponseFormatStyle, response_format_for
from judge.core.types import ChatMessage, Frozen
from judge.llm.endpoints import OPENAI_COMPATIBLE
from judge.llm.lite import error_classes, litellm
from judge.llm.retry import RetryPolicy, call_with_retries

if TYPE_CHECKING:
    import openai

log = logging.getLogger("judge.llm")
NO_KEY = "no-key-required"


class _ResponseFormatRejected(Exception):
    """The provider answered 400/422 to a request carrying ``response_format``."""


class SamplingParams(Frozen):
    """Sampling parameters sent with every call, and recorded with every verdict (temperature 0 default)."""

    temperature: float = Field(default=0.0, ge=0, allow_inf_nan=False)
    top_p: float | None = Field(default=None, ge=0, le=1, allow_inf_nan=False)
    max_tokens: int | None = Field(default=None, ge=1)
    seed: int | None = None

    def recorded(self) -> dict[str, float | int]:
        """The parameters actually sent (unset ones are left to the provider's default)."""
        return {k: v for k, v in self.model_dump().items() if v is not None}


class CompletionRequest(Frozen):
    """One judge call. ``json_schema`` set: ask for structured output, as OpenAI's ``json_schema``
    response_format, or (``response_format_style="json_object"``, llama-cpp-python) ``json_object`` + schema.

    ``tenant_base``: ``api_base`` was chosen by an API tenant. Such a call goes through judge's own OpenAI
    client (``openai/`` models only): no redirect is followed and no operator key is sent (the SDK needs a key
    string: ``no-key-required``)."""

    model: str
    messages: tuple[ChatMessage, ...]
    sampling: SamplingParams = Field(default_factory=SamplingParams)
    json_schema: dict[str, Any] | None = None
    schema_name: str = "verdict"
    response_format_style: ResponseFormatStyle = "json_schema"
    api_base: str | None = None
    tenant_base: bool = False
    timeout_s: float = Field(default=60.0, gt=0)


class Completion(Frozen):
    """The judge's answer and its provenance. ``cost_usd`` is None when the price is unknown;
    ``latency_ms`` is the successful attempt's; ``attempts`` counts every HTTP request made."""

    text: str
    prompt_tokens: int | None
    completion_tokens: int | None
    cost_usd: float | None
    latency_ms: float
    model: str
    structured_output_used: bool
    attempts: int
    finish_reason: str | None = None


class JudgeClient(Protocol):
    """Anything that can answer a :class:`CompletionRequest`."""

    async def complete(self, req: CompletionRequest) -> Completion: ...


def wants_structured_output(model: str, api_base: str | None) -> bool:
    """Whether to ask ``model`` for JSON-schema output: always for ``openai/`` on a custom api_base, else when
    LiteLLM's model map says the model supports a response schema."""
    if api_base is not None and model.startswith("openai/"):
        return True
    try:
        return bool(litellm().supports_response_schema(model=model))
    except Exception:  # unknown provider or model: do not ask
        return False


def parse_retry_after(headers: Any) -> float | None:
    """Seconds from ``retry-after-ms`` or ``Retry-After`` (seconds or an HTTP date); None when absent."""
    if headers is None:
        return None
    millis = headers.get("retry-after-ms")
    if millis is not None:
        try:
            return max(0.0, float(millis) / 1000.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        when = email.utils.parsedate_to_datetime(value) if value.strip() else None
        return None if when is None else max(0.0, when.timestamp() - time.time())


def classify_error(exc: Exception) -> ProviderError:
    """Our error for a LiteLLM / OpenAI-SDK exception; its message has secrets redacted (providers may echo
    the key), as it is stored as the verdict's error reason."""
    status = getattr(exc, "status_code", None)
    status = status if isinstance(status, int) else None
    reason = redact(f"{type(exc).__name__}: {getattr(exc, 'message', None) or exc}")
    short = classify_failure(exc)  # what a tenant may see; ``reason`` (the detail) is for the server log
    if isinstance(exc, error_classes()["fatal"]):
        return FatalProviderError(reason, status_code=status, reason=short)
    if isinstance(exc, error_classes()["retryable"]):
        response = getattr(exc, "response", None)
        retry_after = parse_retry_after(getattr(response, "headers", None))
        return RetryableProviderError(reason, status_code=status, retry_after=retry_after, reason=short)
    if status is not None and (status >= 500 or status in (408, 409, 429)):
        return RetryableProviderError(reason, status_code=status, reason=short)
    return FatalProviderError(reason, status_code=status, reason=short)


def compute_cost(response: Any) -> float | None:
    """USD cost from LiteLLM's price map; None (never 0) when the model's price is unknown.

    Reuses the cost LiteLLM already computed for the response (``_hidden_params``) when it did so.
    """
    hidden = getattr(response, "_hidden_params", None) or {}
    cost: float | None
    if "response_cost" in hidden:
        cost = None if hidden["response_cost"] is None else float(hidden["response_cost"])
    elif not has_known_price(str(response.model)):
        return None  # LiteLLM's own lookup of an unknown model costs ~1 ms per call; the answer never changes
    else:
        try:
            cost = float(litellm().completion_cost(completion_response=response))
        except Exception:
            return None
    if cost == 0.0 and not has_known_price(str(response.model)):
        return None
    return cost


@functools.lru_cache(maxsize=1024)
def has_known_price(model: str) -> bool:
    """Whether LiteLLM's price map knows ``model``'s input token price (cached per model name)."""
    try:
        info = litellm().get_model_info(model=model)
    except Exception:  # unknown model: LiteLLM raises
        return False
    return info.get("input_cost_per_token") is not None


class LiteLLMClient:
    """A :class:`JudgeClient` calling ``litellm.acompletion`` under a :class:`RetryPolicy`."""

    def __init__(self, policy: RetryPolicy | None = None) -> None:
        self.policy = policy or RetryPolicy.from_settings()
        self._no_structured: set[tuple[str, str | None]] = set()
        # per event loop (httpx connections are bound to the loop that opened them): base URL -> SDK client
        self._tenant_clients: weakref.WeakKeyDictionary[Any, dict[str, openai.AsyncOpenAI]] = (
            weakref.WeakKeyDictionary()
        )

    def _tenant_client(self, req: CompletionRequest) -> openai.AsyncOpenAI:
        """The OpenAI SDK client of a tenant-chosen api_base: redirects not followed, no operator credentials."""
        assert req.api_base is not None
        if not req.model.startswith(f"{OPENAI_COMPATIBLE}/"):
            raise FatalProviderError(
                f"a tenant-chosen api_base needs an OpenAI-compatible judge (openai/NAME), got {req.model!r}",
                reason="judge not allowed",
            )
        clients = self._tenant_clients.setdefault(asyncio.get_running_loop(), {})
        client = clients.get(req.api_base)
        if client is None:
            import openai

            http = openai.DefaultAsyncHttpxClient(follow_redirects=False, timeout=req.timeout_s)
            client = openai.AsyncOpenAI(api_key=NO_KEY, base_url=req.api_base, max_retries=0, http_client=http)
            clients[req.api_base] = client
        client.organization = None  # the SDK reads OPENAI_ORG_ID / OPENAI_PROJECT_ID: the operator's, not sent
        client.project = None
        return client

    async def complete(self, req: CompletionRequest) -> Completion:
        """Call the judge model, retrying transient failures; raises a ProviderError when it finally fails."""
        attempts = 0

        async def attempt() -> Completion:
            nonlocal attempts
            use_schema = req.json_schema is not None and (req.model, req.api_base) not in self._no_structured
            try:
                attempts += 1
                return await self._call(req, use_schema, attempts)
            except _ResponseFormatRejected as exc:
                log.warning("%s rejected response_format (%s); retrying without it", req.model, exc)
                attempts += 1
                completion = await self._call(req, False, attempts)
                self._no_structured.add((req.model, req.api_base))  # only once plain output worked
                return completion

        return await call_with_retries(self.policy, attempt)

    async def _call(self, req: CompletionRequest, use_schema: bool, attempts: int) -> Completion:
        kwargs: dict[str, Any] = {
            "model": req.model,
            "messages": [m.model_dump() for m in req.messages],
            "timeout": req.timeout_s,
            "num_retries": 0,
            "max_retries": 0,
            **req.sampling.recorded(),
        }
        if req.api_base is not None and req.tenant_base:
            kwargs["api_base"] = req.api_base
            kwargs["client"] = self._tenant_client(req)
        elif req.api_base is not None:
            kwargs["api_base"] = req.api_base
            if req.model.startswith("openai/") and not os.environ.get("OPENAI_API_KEY"):
                kwargs["api_key"] = NO_KEY  # local OpenAI-compatible servers need none, the SDK insists
        if use_schema and req.json_schema is not None:
            kwargs["response_format"] = response_format_for(req.json_schema, req.schema_name, req.response_format_style)
        log.debug("judge call model=%s attempt=%d structured=%s", req.model, attempts, use_schema)
        started = time.perf_counter()
        import openai

        try:
            response = await litellm().acompletion(**kwargs)
        except openai.OpenAIError as exc:
            status = getattr(exc, "status_code", None)
            if isinstance(status, int) and 300 <= status < 400:  # only judge's own client leaves them unfollowed
                log.info(
                    "judge call model=%s attempt=%d answered a redirect (%d): not followed", req.model, attempts, status
                )
                raise FatalProviderError(
                    f"the judge server answered with a redirect ({status}); judge does not follow redirects of a "
                    "tenant-chosen api_base",
                    status_code=status,
                    reason="redirect refused",
                ) from None
            error = classify_error(exc)
            rejected = isinstance(exc, error_classes()["schema_rejection"])
            if use_schema and rejected and not isinstance(exc, error_classes()["not_schema"]):
                raise _ResponseFormatRejected(str(error)) from None
            log.info("judge call model=%s attempt=%d failed: %s", req.model, attempts, error)
            raise error from None
        latency_ms = (time.perf_counter() - started) * 1000.0
        choice = response.choices[0]
        usage = getattr(response, "usage", None)
        return Completion(
            text=choice.message.content or "",
            prompt_tokens=getattr(usage, "prompt_tokens", None),
            completion_tokens=getattr(usage, "completion_tokens", None),
            cost_usd=compute_cost(response),
            latency_ms=latency_ms,
            model=str(response.model or req.model),
            structured_output_used=use_schema,
            attempts=attempts,
            finish_reason=choice.finish_reason,
        )
