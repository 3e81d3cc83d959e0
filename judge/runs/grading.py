"""Deterministic graders as judges of a run: plan one correctness verdict per response turn that has a gold answer,
and grade it with the pure grader, never a provider (pure, but for the latency measured).

A grader verdict looks like an LLM correctness verdict (mode ``correctness``, order ``single``, label
``correct``/``incorrect``/``no_answer``), with ``judge_model`` the grader's id (``grader:auto``,
``grader:numeric@flexible``), its code version as the rubric version, cost 0 and no tokens, plus the extracted
answer, the extraction rule that fired and the answer's span. Its verdict key hashes the grader id and version,
the prompt, the turn, the gold answer and the response's content: a rerun with the same code grades nothing again.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

from judge.core.errors import InputError
from judge.core.graders import ACCEPTED_TYPES, AnswerType, GoldAnswer, GraderSpec, grade, parse_grader
from judge.core.hashing import content_hash
from judge.core.types import Mode, Order, VerdictRecord, VerdictStatus
from judge.runs.plan import Catalog, Plan, WorkItem
from judge.runs.request import JudgeSpec, RunConfig

GRADER_PREFIX = "grader:"
GRADER_RUBRIC_ID = "gold"
"""The ``rubric_id`` of grader verdicts: they grade against the set's gold answers, not a rubric."""


def is_grader(model: str) -> bool:
    """Whether a judge model string names a deterministic grader (``grader:...``)."""
    return model.startswith(GRADER_PREFIX)


def grader_specs(config: RunConfig) -> list[GraderSpec] | None:
    """The run's graders when every judge is one, None when none is; a mix is refused (unknown graders too)."""
    graders = [is_grader(j.model) for j in config.judges]
    if not any(graders):
        return None
    if not all(graders):
        raise InputError("a run's judges are either all graders (grader:...) or all judge models", field="--judge")
    return [parse_grader(j.model) for j in config.judges]


def rubric_hash(spec: GraderSpec) -> str:
    """What stands for the rubric hash in a grader verdict: the grader id and its code version."""
    return content_hash(["grader", spec.id, spec.version])


def grader_verdict_key(
    spec: GraderSpec, prompt_id: int, prompt_text: str, turn: int, gold_hash: str, model: str, response: str
) -> str:
    """The content-addressed identity of one grader verdict."""
    return content_hash(
        {
            "judge": spec.id,
            "version": spec.version,
            "mode": Mode.CORRECTNESS.value,
            "prompt": [prompt_id, content_hash(prompt_text)],
            "turn": turn,
            "gold": gold_hash,
            "a": [model, content_hash(response)],
        }
    )


def plan_grading(
    specs: Sequence[GraderSpec],
    config: RunConfig,
    catalog: Catalog,
    golds: Mapping[tuple[int, int], tuple[str, AnswerType]],
) -> Plan:
    """One verdict per grader and response turn with a gold answer that the grader grades (``golds``: (stored
    prompt id, turn) -> (gold hash, answer type)); turns ``config.turns``, models ``config.models``, at most
    ``config.limit`` response turns."""
    allowed = set(config.models) if config.models else set(catalog.models)
    skipped: dict[str, int] = {}
    targets: list[tuple[int, int, str, str]] = []
    gold_hashes = {key: digest for key, (digest, _) in golds.items()}
    for (prompt_id, turn), _ in sorted(gold_hashes.items()):
        if turn not in config.turns or prompt_id not in catalog.prompts:
            continue
        for model in sorted(allowed):
            response = catalog.responses.get((prompt_id, model))
            if response is None:
                skipped["missing response"] = skipped.get("missing response", 0) + 1
            elif len(response.turns) < turn:
                skipped[f"response has no turn {turn}"] = skipped.get(f"response has no turn {turn}", 0) + 1
            else:
                targets.append((prompt_id, turn, model, response.turns[turn - 1]))
    if config.limit is not None:
        targets = sorted(targets, key=lambda t: content_hash([t[0], t[1], t[2]]))[: config.limit]
        targets.sort()
    items = []
    for prompt_id, turn, model, text in targets:
        for spec in specs:
            answer_type = golds[(prompt_id, turn)][1]
            if answer_type not in ACCEPTED_TYPES[spec.name]:
                reason = f"{spec.id} does not grade {answer_type.value} answers"
                skipped[reason] = skipped.get(reason, 0) + 1
                continue
            items.append(
                WorkItem(
                    verdict_key=grader_verdict_key(
                        spec,
                        prompt_id,
                        catalog.prompts[prompt_id].turns[turn - 1],
                        turn,
                        gold_hashes[(prompt_id, turn)],
                        model,
                        text,
                    ),
                    judge=JudgeSpec(model=spec.id),
                    prompt_id=prompt_id,
                    turn=turn,
                    model_a=model,
                    model_b=None,
                    order=Order.SINGLE,
                )
            )
    if not gold_hashes:
        skipped["the set has no gold answers (judge import gold FILE --set NAME)"] = 1
    return Plan(items=tuple(items), n_units=len(targets), skipped=skipped)


def method_card(specs: Sequence[GraderSpec]) -> dict[str, Any]:
    """What a reader needs to interpret a grader run's numbers."""
    return {
        "judges": [s.id for s in specs],
        "graders": {
            s.id: {"version": s.version, "rule": s.rule.value if s.rule else "strict, then flexible"} for s in specs
        },
        "grading": "deterministic: the response's final answer is extracted by a named rule and compared with the "
        "gold answer; nothing extractable is no_answer, never a guess; no model is called",
        "extraction_rules": "strict: explicit final-answer statements (the answer is, Final answer:, \\boxed{}, a bold "
        "or closing statement); flexible: the last answer-like item of the final paragraph",
        "ci": "Wilson 95%",
    }


def grade_row(
    item: WorkItem, text: str, gold: GoldAnswer, gold_hash: str, prompt: str | None, run_id: int | None = None
) -> VerdictRecord:
    """The verdict of one grader work item (status ok; label correct, incorrect or no_answer)."""
    spec = parse_grader(item.judge.model)
    started = time.perf_counter()
    result = grade(spec, text, gold, prompt=prompt)
    latency_ms = round((time.perf_counter() - started) * 1000, 3)
    expected = gold.answer if not isinstance(gold.answer, list) else " + ".join(gold.answer)
    found = "nothing answer-like" if result.extracted_answer is None else repr(result.extracted_answer)
    return VerdictRecord(
        verdict_key=item.verdict_key,
        run_id=run_id,
        judge_model=spec.id,
        rubric_id=GRADER_RUBRIC_ID,
        rubric_version=spec.version,
        rubric_hash=rubric_hash(spec),
        mode=Mode.CORRECTNESS.value,
        prompt_id=item.prompt_id,
        turn=item.turn,
        model_a=item.model_a,
        order=Order.SINGLE,
        request_hash=content_hash([spec.id, spec.version, gold_hash, content_hash(text), prompt]),
        sampling={},
        label=result.outcome.value,
        reason=f"gold {expected} ({gold.type.value}); extracted {found}"
        + (f" by {result.extraction_rule}" if result.extraction_rule else ""),
        status=VerdictStatus.OK,
        attempts=0,
        prompt_tokens=0,
        completion_tokens=0,
        cost_usd=0.0,
        latency_ms=latency_ms,
        extracted_answer=result.extracted_answer,
        extraction_rule=result.extraction_rule,
        answer_span_start=result.span[0] if result.span else None,
        answer_span_end=result.span[1] if result.span else None,
    )
