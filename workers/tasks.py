"""Thin Celery tasks over judge/: all logic lives in judge.runs.backends.unit."""

from __future__ import annotations

from judge.runs.backends.celery_config import TASK_NAME
from judge.runs.backends.unit import judge_unit_sync
from workers.celery_app import app


@app.task(name=TASK_NAME)  # type: ignore[untyped-decorator]
def judge_unit(run_id: int, keys: list[str]) -> dict[str, object]:
    """Judge and store the verdicts ``keys`` of run ``run_id`` that are still missing (idempotent)."""
    return judge_unit_sync(run_id, keys).model_dump()
