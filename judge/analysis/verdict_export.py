"""Rows for ``judge export verdicts``: every stored verdict with its provenance, then the combined outcomes."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from judge.core.types import Mode
from judge.runs.combine import combine_run
from judge.runs.service import run_config, stored_verdicts
from judge.store.queries import load_prompts
from judge.store.records import RunRecord
from judge.store.verdicts import load_run_items, load_verdicts

VERDICT_FIELDS = (
    "verdict_key",
    "judge_model",
    "rubric_id",
    "rubric_version",
    "rubric_hash",
    "mode",
    "turn",
    "model_a",
    "model_b",
    "order",
    "status",
    "label",
    "winner",
    "score",
    "reason",
    "parse_rule",
    "parse_span_start",
    "parse_span_end",
    "error",
    "raw_output",
    "structured_output",
    "attempts",
    "prompt_tokens",
    "completion_tokens",
    "cost_usd",
    "latency_ms",
    "extracted_answer",
    "extraction_rule",
    "answer_span_start",
    "answer_span_end",
    "request_hash",
    "sampling",
    "created_at",
)


def verdict_export_rows(session: Session, *, run: RunRecord) -> list[dict[str, Any]]:
    """Per-order rows (``kind: verdict``) then per-unit rows (``kind: combined``) for one run."""
    items = load_run_items(session, run_id=run.id)
    verdicts = load_verdicts(session, keys=[i.verdict_key for i in items])
    external = {prompt_id: p.external_id for prompt_id, p in load_prompts(session, set_id=run.set_id).items()}
    rows: list[dict[str, Any]] = []
    for verdict in sorted(verdicts, key=lambda v: (v.prompt_id, v.model_a, v.model_b or "", v.turn, v.order)):
        row = {"kind": "verdict", "run_id": run.id, "prompt_id": external[verdict.prompt_id]}
        row.update({field: getattr(verdict, field) for field in VERDICT_FIELDS})
        row["correctness"] = verdict.label if verdict.mode == Mode.CORRECTNESS.value else None
        rows.append(row)
    judges = [j.model for j in run_config(run).judges]
    for outcome in combine_run(stored_verdicts(session, run=run), judges):
        prompt_id, model_a, model_b, turn = outcome.unit
        rows.append(
            {
                "kind": "combined",
                "run_id": run.id,
                "prompt_id": external[prompt_id],
                "turn": turn,
                "model_a": model_a,
                "model_b": model_b,
                "winner": outcome.panel.winner.value if outcome.panel.winner else None,
                "status": outcome.panel.status.value,
                "inconsistent": outcome.panel.inconsistent,
                "by_judge": {
                    j: {
                        "winner": c.winner.value if c.winner else None,
                        "inconsistent": c.inconsistent,
                        "status": c.status.value,
                    }
                    for j, c in outcome.by_judge.items()
                },
                "per_order": outcome.per_order,
            }
        )
    return rows
