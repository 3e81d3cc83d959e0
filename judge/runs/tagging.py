"""``judge tag``: run a tagging rubric over a set's prompts through the judge client, store each result with its
provenance, and read the tags back for ``--category tag:NAME`` and ``--by tag:NAME``.

Each result is a verdict row of mode ``tag`` (judge model, rubric id/version/hash, sampling, raw output, the
criteria as JSON in ``reason`` and the tags, comma-separated, in ``label``), keyed by
:func:`judge.core.tagging.tag_key`, so tagging again calls the judge only for prompts not tagged yet.
Failed calls are not stored (a rerun retries).
"""

from __future__ import annotations

import asyncio
from collections import Counter

from sqlalchemy.engine import Engine
from sqlmodel import Session

from judge.core.errors import InputError, ProviderError
from judge.core.hashing import canonical_json, content_hash
from judge.core.tagging import MODE, TagRubric, parse_criteria, tag_key, tag_messages, tags_of
from judge.core.types import Frozen, Order, VerdictRecord, VerdictStatus
from judge.llm.client import CompletionRequest, JudgeClient, SamplingParams
from judge.metrics.categories import category_tags
from judge.runs.request import JudgeSpec
from judge.store import DEFAULT_TENANT
from judge.store.engine import session_scope
from judge.store.queries import get_set, load_prompts
from judge.store.records import SetRecord
from judge.store.verdicts import final_keys, set_verdicts, upsert_verdicts

PROMPT_SUBJECT = "(prompt)"
"""``model_a`` of a tag verdict: the prompt itself is what is judged."""


class TagCounts(Frozen):
    """What one ``judge tag`` did: per status, the calls made and the tags found."""

    prompts: int
    cached: int
    ok: int
    unparseable: int
    errors: int
    cost_usd: float
    tags: dict[str, int]


def rubric_label(rubric: TagRubric) -> str:
    """The ``rubric_id`` tag verdicts are stored under."""
    return f"tags/{rubric.id}"


async def tag_prompts(
    engine: Engine,
    *,
    set_name: str,
    judge: JudgeSpec,
    rubric: TagRubric,
    client: JudgeClient,
    sampling: SamplingParams | None = None,
    concurrency: int = 4,
    tenant: str = DEFAULT_TENANT,
) -> TagCounts:
    """Tag every prompt of ``set_name`` not tagged yet by this judge, rubric and sampling."""
    params = sampling or SamplingParams()
    recorded = params.recorded()
    with session_scope(engine) as session:
        prompt_set = get_set(session, name=set_name, tenant=tenant)
        prompts = [(p.id, list(p.turns)) for p in load_prompts(session, set_id=prompt_set.id).values()]
        keys = {pid: tag_key(rubric, judge.model, turns, recorded) for pid, turns in prompts if turns}
        stored = final_keys(session, keys=keys.values())  # only ok and unparseable tags are stored
    todo = [(pid, turns) for pid, turns in prompts if turns and keys[pid] not in stored]
    gate = asyncio.Semaphore(max(1, concurrency))
    rows: list[VerdictRecord] = []
    errors = 0

    async def one(pid: int, turns: list[str]) -> None:
        nonlocal errors
        messages = tag_messages(rubric, turns[0])
        request = CompletionRequest(
            model=judge.model,
            messages=messages,
            sampling=params,
            json_schema=rubric.json_schema(),
            schema_name="tags",
            response_format_style=judge.response_format_style,
            api_base=judge.api_base,
        )
        async with gate:
            try:
                completion = await client.complete(request)
            except ProviderError:
                errors += 1
                return
        criteria = parse_criteria(rubric, completion.text)
        rows.append(
            VerdictRecord(
                verdict_key=keys[pid],
                judge_model=judge.model,
                rubric_id=rubric_label(rubric),
                rubric_version=str(rubric.version),
                rubric_hash=rubric.content_hash,
                mode=MODE,
                prompt_id=pid,
                model_a=PROMPT_SUBJECT,
                order=Order.SINGLE,
                request_hash=content_hash([m.model_dump() for m in messages]),
                sampling=recorded,
                raw_output=completion.text,
                label=None if criteria is None else ",".join(tags_of(rubric, criteria)),
                reason=None if criteria is None else canonical_json(criteria),
                status=VerdictStatus.UNPARSEABLE if criteria is None else VerdictStatus.OK,
                structured_output=completion.structured_output_used,
                attempts=completion.attempts,
                prompt_tokens=completion.prompt_tokens,
                completion_tokens=completion.completion_tokens,
                cost_usd=completion.cost_usd,
                latency_ms=completion.latency_ms,
            )
        )

    await asyncio.gather(*(one(pid, turns) for pid, turns in todo))
    if rows:
        with session_scope(engine) as session:
            upsert_verdicts(session, rows)
    found = Counter(t for r in rows if r.label for t in r.label.split(","))
    return TagCounts(
        prompts=len(prompts),
        cached=len(prompts) - len(todo),
        ok=sum(r.status is VerdictStatus.OK for r in rows),
        unparseable=sum(r.status is VerdictStatus.UNPARSEABLE for r in rows),
        errors=errors,
        cost_usd=sum(r.cost_usd or 0.0 for r in rows),
        tags=dict(sorted(found.items())),
    )


def prompt_tags(session: Session, *, prompt_set: SetRecord, tagger: str | None = None) -> dict[str, set[str]]:
    """Each tagged prompt's tags (external id -> tags): per (judge, rubric) the newest ok result, all united."""
    prompts = load_prompts(session, set_id=prompt_set.id)
    newest: dict[tuple[str, str, str], VerdictRecord] = {}
    for verdict in set_verdicts(session, set_id=prompt_set.id, mode=MODE, judge_model=tagger):  # oldest first
        if verdict.status is VerdictStatus.OK:
            newest[(prompts[verdict.prompt_id].external_id, verdict.judge_model, verdict.rubric_id)] = verdict
    tags: dict[str, set[str]] = {}
    for (external_id, _, _), verdict in newest.items():
        tags.setdefault(external_id, set()).update(category_tags(verdict.label))
    return tags


def tag_filter(session: Session, prompt_set: SetRecord | None, spec: str) -> set[str]:
    """The external prompt ids a ``tag:NAME`` (tagged NAME) or ``tag:!NAME`` (tagged, but not NAME) spec selects."""
    if prompt_set is None:
        raise InputError("tag categories need --set", field="--category")
    name = spec.removeprefix("tag:")
    negate = name.startswith("!")
    name = name.removeprefix("!")
    tags = prompt_tags(session, prompt_set=prompt_set)
    if not tags:
        raise InputError(f"no prompt of set {prompt_set.name!r} is tagged: run `judge tag` first", field="--category")
    return {pid for pid, found in tags.items() if (name in found) != negate}
