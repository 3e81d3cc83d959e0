"""Thin Celery tasks over judge/: all logic lives in judge.runs.backends.unit."""

from __future__ import annotations

from typing import Any

from judge.llm.lite import preload as preload_litellm
from judge.runs.backends.celery_config import BATCH_TASK_NAME, TASK_NAME
from judge.runs.backends.unit import batch_step_sync, judge_unit_sync
from workers.celery_app import app

# LiteLLM is imported on first use (judge.llm.lite) so that commands calling no model start fast. A worker calls
# models in every task: import it here, in the main process, before the pool forks, so no task pays the import
# (seconds) against its time limit and every child inherits it.
preload_litellm()


@app.task(name=TASK_NAME)  # type: ignore[untyped-decorator]
def judge_unit(run_id: int, keys: list[str]) -> dict[str, object]:
    """Judge and store the verdicts ``keys`` of run ``run_id`` that are still missing (idempotent)."""
    return judge_unit_sync(run_id, keys).model_dump()


@app.task(name=BATCH_TASK_NAME, bind=True)  # type: ignore[untyped-decorator]
def batch_step(self: Any, run_id: int, since: str | None = None) -> dict[str, object]:
    """One round of ``--batch`` run ``run_id`` (its execution begun at ``since``): follow, collect and submit
    its batches; again after a poll interval while batches run at the provider."""
    step = batch_step_sync(run_id, since)
    if step.again:
        self.apply_async(args=[run_id, since], countdown=step.poll_s)
    return step.model_dump()
