"""Judge one work item: render, call the judge model, parse; the result is a verdict row (no I/O but the call).

Failures are data: a call that finally fails becomes a verdict with status ``error`` and its short classified
reason (:func:`judge.core.errors.classify_failure`; the full detail goes to the log), an
answer that cannot be read one with status ``unparseable`` and its raw text. Nothing is coerced into a verdict.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from judge.core.errors import ProviderError, classify_failure
from judge.core.parse import ParsedOutput, parse_output, to_winner
from judge.core.render import render_messages, render_reask, render_request_hash, schema_name
from judge.core.rubrics import Rubric
from judge.core.types import JudgeTask, Mode, VerdictRecord, VerdictStatus
from judge.llm.client import Completion, CompletionRequest, JudgeClient, wants_structured_output
from judge.llm.params import supported_sampling
from judge.runs.plan import WorkItem
from judge.runs.request import RunConfig

log = logging.getLogger("judge.runs.judging")


def _sum_optional(values: list[int | None]) -> int | None:
    return None if any(v is None for v in values) else sum(v for v in values if v is not None)


def _total_cost(completions: list[Completion]) -> float | None:
    costs = [c.cost_usd for c in completions]
    return None if any(c is None for c in costs) else sum(c for c in costs if c is not None)


def _row_base(
    item: WorkItem, rubric: Rubric, rubric_hash: str, config: RunConfig, run_id: int | None
) -> dict[str, Any]:
    return {
        "verdict_key": item.verdict_key,
        "run_id": run_id,
        "judge_model": item.judge.model,
        "rubric_id": rubric.id,
        "rubric_version": str(rubric.version),
        "rubric_hash": rubric_hash,
        "mode": rubric.mode.value,
        "prompt_id": item.prompt_id,
        "turn": item.turn,
        "model_a": item.model_a,
        "model_b": item.model_b,
        "order": item.order.value,
        "sampling": config.sampling.recorded(),
        "label": None,
        "winner": None,
        "score": None,
        "reason": None,
        "parse_rule": None,
        "parse_span_start": None,
        "parse_span_end": None,
        "error": None,
        "raw_output": None,
    }


def _parsed_fields(rubric: Rubric, item: WorkItem, parsed: ParsedOutput, offset: int) -> dict[str, Any]:
    """The row fields of a parsed reply; ``offset``: where the parsed reply starts in the stored raw output."""
    winner = to_winner(parsed, item.order) if rubric.mode is Mode.PAIRWISE else None
    label = parsed.correctness.value if parsed.correctness is not None else parsed.label
    return {
        "status": parsed.status.value,
        "label": label,
        "winner": winner.value if winner else None,
        "score": parsed.score,
        "reason": parsed.reason,
        "parse_rule": parsed.parse_rule.value if parsed.parse_rule else None,
        "parse_span_start": None if parsed.span_start is None else offset + parsed.span_start,
        "parse_span_end": None if parsed.span_end is None else offset + parsed.span_end,
        "error": parsed.error,
    }


def prepare_call(
    rubric: Rubric,
    task: JudgeTask,
    item: WorkItem,
    config: RunConfig,
    run_id: int | None = None,
    rubric_hash: str | None = None,
) -> tuple[CompletionRequest, dict[str, Any]]:
    """The request to send for ``item`` (rendered, with the sampling the model accepts) and its verdict row so far
    (provenance and request hash), completed by :func:`finish_row`. A live call and a batch line are the same."""
    structured = wants_structured_output(item.judge.model, item.judge.api_base)
    messages = render_messages(rubric, task, item.order, structured=structured)
    row = _row_base(item, rubric, rubric_hash or rubric.content_hash, config, run_id)
    sampling = supported_sampling(item.judge.model, config.sampling)  # params the model rejects are not sent
    row["sampling"] = sampling.recorded()  # what was sent, and what was asked for but dropped
    if item.sample:
        row["sampling"]["sample"] = item.sample  # which of the run's --repeats samples (0 is not written)
    row["request_hash"] = render_request_hash(messages, item.judge.model, sampling.sent.recorded())
    request = CompletionRequest(
        model=item.judge.model,
        messages=tuple(messages),
        sampling=sampling.sent,
        json_schema=rubric.json_schema if structured else None,
        schema_name=schema_name(rubric),
        api_base=item.judge.api_base,
        tenant_base=config.tenant_api_bases and item.judge.api_base is not None,
        response_format_style=item.judge.response_format_style,
        timeout_s=config.timeout_s,
    )
    return request, row


def finish_row(
    rubric: Rubric,
    item: WorkItem,
    row: dict[str, Any],
    completions: list[Completion],
    outcome: ParsedOutput | ProviderError,
    latency_ms: float | None,
) -> VerdictRecord:
    """The verdict of ``row``'s call(s): the last completion's parsed reply (``outcome``; a re-asked one's raw
    outputs joined), or the classified failure; tokens and cost summed over ``completions``."""
    if isinstance(outcome, ProviderError):
        row.update(
            status=VerdictStatus.ERROR.value,
            error=classify_failure(outcome),  # the short reason a tenant sees; the detail is in the server log
            raw_output=completions[-1].text if completions else None,
        )
    else:
        parsed = outcome
        row["raw_output"] = "\n\n--- re-ask ---\n\n".join(c.text for c in completions)
        # the spans index the stored raw output, where the parsed (last) reply comes after any re-asked one
        row.update(_parsed_fields(rubric, item, parsed, len(row["raw_output"]) - len(completions[-1].text)))
    row.update(
        structured_output=bool(completions) and completions[-1].structured_output_used,
        attempts=sum(c.attempts for c in completions) or 1,
        prompt_tokens=_sum_optional([c.prompt_tokens for c in completions]) if completions else None,
        completion_tokens=_sum_optional([c.completion_tokens for c in completions]) if completions else None,
        cost_usd=_total_cost(completions) if completions else None,
        latency_ms=latency_ms,
    )
    return VerdictRecord.model_validate(row)


async def judge_item(
    client: JudgeClient,
    rubric: Rubric,
    task: JudgeTask,
    item: WorkItem,
    config: RunConfig,
    run_id: int | None = None,
    rubric_hash: str | None = None,
) -> VerdictRecord:
    """Ask ``item.judge`` about ``task`` and return the verdict to store (status ok/unparseable/error).

    ``rubric_hash`` is ``rubric.content_hash``, passed by callers that judge many items to hash the rubric once.
    """
    first, row = prepare_call(rubric, task, item, config, run_id, rubric_hash)
    completions: list[Completion] = []
    outcome: ParsedOutput | ProviderError
    started = time.perf_counter()
    try:
        completions.append(await client.complete(first))
        outcome = parse_output(rubric, completions[-1].text, completions[-1].structured_output_used)
        if outcome.status is VerdictStatus.UNPARSEABLE and config.reask:
            reask = render_reask(
                rubric, first.messages, completions[-1].text, structured=completions[-1].structured_output_used
            )
            completions.append(await client.complete(first.model_copy(update={"messages": tuple(reask)})))
            outcome = parse_output(rubric, completions[-1].text, completions[-1].structured_output_used)
    except ProviderError as exc:
        log.info("verdict %s of %s failed: %s: %s", item.verdict_key[:12], item.judge.model, type(exc).__name__, exc)
        outcome = exc
    latency = (
        round(sum(c.latency_ms for c in completions), 3)
        if completions
        else round((time.perf_counter() - started) * 1000, 3)
    )
    return finish_row(rubric, item, row, completions, outcome, latency)
