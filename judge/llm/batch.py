"""Judge calls through a provider's batch API (LiteLLM's files and batches), at the provider's batch price.

A batch is one uploaded JSONL file of chat-completion requests to one model, each line's ``custom_id`` the verdict
key it answers; the provider answers within its completion window (24 h) at about half the live price. The line
bodies are what a live call sends (:func:`line_body`: messages, sampling, ``response_format``). Results come back
as an output file (answered lines) and an error file (failed lines); a line that answered with a non-200 status is
a failure wherever it is. Every API call goes through the retry policy. The endpoint rules of live calls apply:
batch calls go to the judge's api_base (its ``/files`` and ``/batches``) or provider, which the API checked
against its allowlist (``JUDGE_API_ALLOWED_API_BASES``, ``JUDGE_API_ALLOWED_PROVIDERS``) when it created the run,
and the calls to a tenant-chosen api_base follow no redirect and carry no operator key.

Price: LiteLLM's batch price of the model (``input_cost_per_token_batches``, ``output_cost_per_token_batches``)
where its cost map has one, else half the live price; unknown (None, never 0) when it knows no price at all.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import os
import weakref
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, Protocol

from judge.core.errors import FatalProviderError, ProviderError, RetryableProviderError
from judge.core.render import response_format_for
from judge.core.types import Frozen
from judge.llm.client import NO_KEY, Completion, CompletionRequest, classify_error
from judge.llm.endpoints import OPENAI_COMPATIBLE
from judge.llm.lite import litellm  # imported at first use: seconds to import, most commands call no model
from judge.llm.retry import RetryPolicy, call_with_retries

if TYPE_CHECKING:
    import openai

log = logging.getLogger("judge.llm.batch")
BATCH_ENDPOINT = "/v1/chat/completions"
COMPLETION_WINDOW = "24h"
COMPLETION_WINDOW_S = 24 * 3600.0
TERMINAL_STATUSES = ("completed", "failed", "expired", "cancelled")
"""A batch in one of these provider statuses changes no more: its files hold every result it will give."""
PriceSource = Literal["batch", "half_live", "unknown"]
PRICE_SOURCES: dict[PriceSource, str] = {
    "batch": "the model's batch price in LiteLLM's cost map",
    "half_live": "half the live price (LiteLLM's cost map has no batch price for the model)",
    "unknown": "unknown (LiteLLM's cost map has no price for the model): cost null",
}


class BatchPrice(Frozen):
    """USD per token of one model's batch calls, and where the figures come from."""

    input_per_token: float | None
    output_per_token: float | None
    source: PriceSource

    def cost(self, prompt_tokens: int | None, completion_tokens: int | None) -> float | None:
        """The cost of one answered line; None when the price or a token count is unknown."""
        if self.input_per_token is None or self.output_per_token is None:
            return None
        if prompt_tokens is None or completion_tokens is None:
            return None
        return prompt_tokens * self.input_per_token + completion_tokens * self.output_per_token


@functools.lru_cache(maxsize=256)
def batch_price(model: str) -> BatchPrice:
    """``model``'s batch price from LiteLLM's cost map (see the module docstring; cached per model)."""
    try:
        info = litellm().get_model_info(model=model)
    except Exception:  # an unknown model: LiteLLM raises
        return BatchPrice(input_per_token=None, output_per_token=None, source="unknown")
    batch_in, batch_out = info.get("input_cost_per_token_batches"), info.get("output_cost_per_token_batches")
    if batch_in is not None and batch_out is not None:
        return BatchPrice(input_per_token=float(batch_in), output_per_token=float(batch_out), source="batch")
    live_in, live_out = info.get("input_cost_per_token"), info.get("output_cost_per_token")
    if live_in is None or live_out is None:
        return BatchPrice(input_per_token=None, output_per_token=None, source="unknown")
    return BatchPrice(input_per_token=float(live_in) / 2, output_per_token=float(live_out) / 2, source="half_live")


def estimate_prompt_tokens(req: CompletionRequest) -> int:
    """The prompt tokens of ``req`` as LiteLLM counts them for its model (a budget estimate before submission)."""
    messages = [m.model_dump() for m in req.messages]
    try:
        return int(litellm().token_counter(model=req.model, messages=messages))
    except Exception:  # a tokenizer LiteLLM cannot load: about four characters a token
        return sum(len(m["content"]) for m in messages) // 4 + 4 * len(messages)


def provider_model(model: str) -> tuple[str, str]:
    """``(provider, model name the provider knows)`` of a LiteLLM model string (``openai/x`` -> ``openai``, ``x``)."""
    try:
        name, provider, _key, _base = litellm().get_llm_provider(model)
    except Exception:  # a model LiteLLM cannot place
        raise FatalProviderError(
            f"LiteLLM cannot place model {model!r} with a provider", reason="judge not allowed"
        ) from None
    return str(provider), str(name)


def line_body(req: CompletionRequest, *, structured: bool) -> dict[str, Any]:
    """The JSON body of one batch line: what a live call of ``req`` sends (with ``response_format`` when
    ``structured``)."""
    body: dict[str, Any] = {
        "model": provider_model(req.model)[1],
        "messages": [m.model_dump() for m in req.messages],
        **req.sampling.recorded(),
    }
    if structured and req.json_schema is not None:
        body["response_format"] = response_format_for(req.json_schema, req.schema_name, req.response_format_style)
    return body


class BatchTarget(Frozen):
    """Where a batch goes: the judge model, its api_base, and whether a tenant (an API run) chose them."""

    model: str
    api_base: str | None = None
    tenant: bool = False


class BatchLine(Frozen):
    """One request line: the verdict key it answers and the call it makes."""

    custom_id: str
    request: CompletionRequest


class BatchState(Frozen):
    """A provider batch as last seen: its status, request counts and result files."""

    batch_id: str
    status: str
    input_file_id: str | None = None
    output_file_id: str | None = None
    error_file_id: str | None = None
    total: int = 0
    completed: int = 0
    failed: int = 0
    metadata: dict[str, str] | None = None

    @property
    def terminal(self) -> bool:
        """The batch changes no more (completed, failed, expired or cancelled)."""
        return self.status in TERMINAL_STATUSES


class LineResult(Frozen):
    """What the provider gave for one line: a completion, or a failure (its HTTP status when it had one)."""

    custom_id: str
    completion: Completion | None = None
    status_code: int | None = None
    message: str | None = None

    def failure(self) -> ProviderError:
        """The line's failure as a live call's would be: retryable (429, 5xx, expired) or fatal."""
        text = self.message or "the batch line failed"
        status = self.status_code
        if status is None:  # expired or never run: the provider gave no answer to retry sooner
            return RetryableProviderError(text, reason="batch line not answered")
        if status >= 500 or status in (408, 409, 429):
            return RetryableProviderError(text, status_code=status)  # classified by its status, as a live call
        return FatalProviderError(text, status_code=status)


class BatchApi(Protocol):
    """A provider's batch API: submit lines, follow a batch, find one by its metadata, read its results."""

    async def submit(
        self, target: BatchTarget, lines: Sequence[BatchLine], metadata: Mapping[str, str]
    ) -> BatchState: ...

    async def retrieve(self, target: BatchTarget, batch_id: str) -> BatchState: ...

    async def find(self, target: BatchTarget, metadata: Mapping[str, str]) -> BatchState | None: ...

    async def results(self, target: BatchTarget, state: BatchState) -> list[LineResult]: ...

    async def cancel(self, target: BatchTarget, batch_id: str) -> BatchState: ...


def parse_results(text: str, model: str, price: BatchPrice) -> list[LineResult]:
    """The lines of an output or error file: each a completion (status 200 with a chat completion body) or a
    failure. Tokens come from the body's usage, the cost from ``price``; latency is not known per line."""
    results: list[LineResult] = []
    for raw in text.splitlines():
        if not raw.strip():
            continue
        line = json.loads(raw)
        custom_id = str(line.get("custom_id"))
        response = line.get("response") or {}
        status = response.get("status_code")
        body = response.get("body")
        error = line.get("error")
        if error or status != 200 or not isinstance(body, dict) or not body.get("choices"):
            message = (error or {}).get("message") if isinstance(error, dict) else None
            if message is None and isinstance(body, dict) and isinstance(body.get("error"), dict):
                message = body["error"].get("message")
            code = (error or {}).get("code") if isinstance(error, dict) else None
            results.append(
                LineResult(
                    custom_id=custom_id,
                    status_code=status if isinstance(status, int) else None,
                    message=str(message or code or f"status {status}"),
                )
            )
            continue
        choice = body["choices"][0]
        usage = body.get("usage") or {}
        prompt_tokens, completion_tokens = usage.get("prompt_tokens"), usage.get("completion_tokens")
        results.append(
            LineResult(
                custom_id=custom_id,
                completion=Completion(
                    text=(choice.get("message") or {}).get("content") or "",
                    prompt_tokens=prompt_tokens,
                    completion_tokens=completion_tokens,
                    cost_usd=price.cost(prompt_tokens, completion_tokens),
                    latency_ms=0.0,
                    model=str(body.get("model") or model),
                    structured_output_used=False,
                    attempts=1,
                    finish_reason=choice.get("finish_reason"),
                ),
            )
        )
    return results


def _state(batch: Any) -> BatchState:
    counts = getattr(batch, "request_counts", None)
    metadata = getattr(batch, "metadata", None)
    return BatchState(
        batch_id=str(batch.id),
        status=str(batch.status),
        input_file_id=getattr(batch, "input_file_id", None),
        output_file_id=getattr(batch, "output_file_id", None),
        error_file_id=getattr(batch, "error_file_id", None),
        total=int(getattr(counts, "total", 0) or 0),
        completed=int(getattr(counts, "completed", 0) or 0),
        failed=int(getattr(counts, "failed", 0) or 0),
        metadata={str(k): str(v) for k, v in dict(metadata).items()} if metadata else None,
    )


class LiteLLMBatchApi:
    """A :class:`BatchApi` over LiteLLM's ``acreate_file``, ``acreate_batch``, ``aretrieve_batch``,
    ``alist_batches``, ``afile_content`` and ``acancel_batch``, each call under a :class:`RetryPolicy`. A
    tenant-chosen api_base is called, as its live calls are, through judge's own OpenAI SDK client (the same
    endpoints): LiteLLM's batch functions take no client, and that one follows no redirect and sends no
    operator key or organisation."""

    def __init__(self, policy: RetryPolicy | None = None, timeout_s: float = 600.0) -> None:
        self.policy = policy or RetryPolicy.from_settings()
        self.timeout_s = timeout_s
        self._tenant_clients: weakref.WeakKeyDictionary[Any, dict[str, openai.AsyncOpenAI]] = (
            weakref.WeakKeyDictionary()
        )

    def _route(self, target: BatchTarget) -> tuple[openai.AsyncOpenAI | None, dict[str, Any]]:
        """Judge's own client for a tenant-chosen api_base (else None), and LiteLLM's provider and endpoint
        arguments."""
        provider, _name = provider_model(target.model)
        if target.tenant and target.api_base is not None:
            if provider != OPENAI_COMPATIBLE:
                raise FatalProviderError(
                    f"a tenant-chosen api_base needs an OpenAI-compatible judge (openai/NAME), got {target.model!r}",
                    reason="judge not allowed",
                )
            return self._tenant_client(target.api_base), {}
        kwargs: dict[str, Any] = {"custom_llm_provider": provider, "timeout": self.timeout_s, "max_retries": 0}
        if target.api_base is not None:
            kwargs["api_base"] = target.api_base
            if provider == OPENAI_COMPATIBLE and not os.environ.get("OPENAI_API_KEY"):
                kwargs["api_key"] = NO_KEY  # local OpenAI-compatible servers need none, the SDK insists
        return None, kwargs

    def _tenant_client(self, api_base: str) -> openai.AsyncOpenAI:
        """The OpenAI SDK client of a tenant-chosen api_base: redirects not followed, no operator credentials."""
        clients = self._tenant_clients.setdefault(asyncio.get_running_loop(), {})
        client = clients.get(api_base)
        if client is None:
            import openai

            http = openai.DefaultAsyncHttpxClient(follow_redirects=False, timeout=self.timeout_s)
            client = openai.AsyncOpenAI(api_key=NO_KEY, base_url=api_base, max_retries=0, http_client=http)
            clients[api_base] = client
        client.organization = None  # the SDK reads OPENAI_ORG_ID / OPENAI_PROJECT_ID: the operator's, not sent
        client.project = None
        return client

    async def _call(self, what: str, action: Callable[[], Awaitable[Any]]) -> Any:
        """``action()`` under the retry policy, its exceptions classified as a live call's."""

        async def attempt() -> Any:
            try:
                return await action()
            except ProviderError:
                raise
            except Exception as exc:  # LiteLLM and the SDK raise their own
                error = classify_error(exc)
                log.info("batch %s failed: %s", what, error)
                raise error from None

        return await call_with_retries(self.policy, attempt)

    async def submit(self, target: BatchTarget, lines: Sequence[BatchLine], metadata: Mapping[str, str]) -> BatchState:
        """Upload ``lines`` as one JSONL file and create a batch over it (``metadata`` names it for :meth:`find`)."""
        client, kwargs = self._route(target)
        content = "".join(
            json.dumps(
                {
                    "custom_id": line.custom_id,
                    "method": "POST",
                    "url": BATCH_ENDPOINT,
                    "body": line_body(line.request, structured=line.request.json_schema is not None),
                },
                ensure_ascii=False,
            )
            + "\n"
            for line in lines
        ).encode("utf-8")
        upload = ("judge-batch.jsonl", content, "application/jsonl")
        if client is not None:
            created = await self._call("upload", lambda: client.files.create(file=upload, purpose="batch"))
        else:
            created = await self._call("upload", lambda: litellm().acreate_file(file=upload, purpose="batch", **kwargs))
        request: dict[str, Any] = {
            "completion_window": COMPLETION_WINDOW,
            "endpoint": BATCH_ENDPOINT,
            "input_file_id": str(created.id),
            "metadata": dict(metadata),
        }
        if client is not None:
            batch = await self._call("create", lambda: client.batches.create(**request))
        else:
            batch = await self._call("create", lambda: litellm().acreate_batch(**request, **kwargs))
        return _state(batch)

    async def retrieve(self, target: BatchTarget, batch_id: str) -> BatchState:
        """The batch as the provider has it now."""
        client, kwargs = self._route(target)
        if client is not None:
            return _state(await self._call("retrieve", lambda: client.batches.retrieve(batch_id)))
        return _state(await self._call("retrieve", lambda: litellm().aretrieve_batch(batch_id=batch_id, **kwargs)))

    async def find(self, target: BatchTarget, metadata: Mapping[str, str]) -> BatchState | None:
        """The most recent of the provider's last 100 batches whose metadata holds every item of ``metadata``
        (one created by a submission that died before recording it), or None."""
        client, kwargs = self._route(target)
        if client is not None:
            listed = await self._call("list", lambda: client.batches.list(limit=100))
        else:
            listed = await self._call("list", lambda: litellm().alist_batches(limit=100, **kwargs))
        data = listed.get("data", []) if isinstance(listed, dict) else getattr(listed, "data", [])
        for batch in data:
            found = _Obj(batch) if isinstance(batch, dict) else batch
            raw = getattr(found, "metadata", None)
            if raw and all(str(dict(raw).get(k)) == v for k, v in metadata.items()):
                return _state(found)
        return None

    async def results(self, target: BatchTarget, state: BatchState) -> list[LineResult]:
        """Every line result of an ended batch: its output file, then its error file."""
        client, kwargs = self._route(target)
        price = batch_price(target.model)
        found: list[LineResult] = []
        for file_id in (state.output_file_id, state.error_file_id):
            if not file_id:
                continue
            if client is not None:
                content = await self._call("download", functools.partial(client.files.content, file_id))
            else:
                content = await self._call(
                    "download", functools.partial(litellm().afile_content, file_id=file_id, **kwargs)
                )
            found.extend(parse_results(_text(content), target.model, price))
        return found

    async def cancel(self, target: BatchTarget, batch_id: str) -> BatchState:
        """Ask the provider to cancel the batch (lines already answered stay in its output file)."""
        client, kwargs = self._route(target)
        if client is not None:
            return _state(await self._call("cancel", lambda: client.batches.cancel(batch_id)))
        return _state(await self._call("cancel", lambda: litellm().acancel_batch(batch_id=batch_id, **kwargs)))


class _Obj:
    """Attribute access over a listed batch's dict."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.__dict__.update(data)
        counts = data.get("request_counts")
        if isinstance(counts, dict):
            self.request_counts = _Obj(counts)


def _text(content: Any) -> str:
    """A downloaded file's text (LiteLLM returns the SDK's binary response)."""
    raw = getattr(content, "content", content)
    return raw.decode("utf-8") if isinstance(raw, bytes) else str(getattr(content, "text", raw))


def deadline_after(submitted: float) -> float:
    """When a batch submitted at ``submitted`` (unix s) must have ended at the latest (its completion window and
    an hour's margin): the expiry of the leases of its keys."""
    return submitted + COMPLETION_WINDOW_S + 3600.0


__all__ = [
    "BatchApi",
    "BatchLine",
    "BatchPrice",
    "BatchState",
    "BatchTarget",
    "LineResult",
    "LiteLLMBatchApi",
    "batch_price",
    "deadline_after",
    "estimate_prompt_tokens",
    "line_body",
    "parse_results",
]
