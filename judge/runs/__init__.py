"""Runs: the run request (one typed model for the CLI and the API), the run service (create, execute, resume,
cancel, summarise), planning (verdict keys), judging one item, the execution core (claim keys -> judge ->
write -> settle) and the backends that schedule it (in-process, Celery).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from judge.core.lazy import lazy_getattr

if TYPE_CHECKING:
    from judge.runs.backends import BackendName, execute_on, resolve_backend
    from judge.runs.execution import Interrupt, KeyExecutor
    from judge.runs.judging import judge_item
    from judge.runs.plan import Plan, WorkItem, plan_run
    from judge.runs.request import JudgeSpec, PairSelection, RunConfig, RunOptions
    from judge.runs.service import (
        RunProgress,
        RunSummary,
        cancel_run,
        create_run,
        execute_run,
        finish_run,
        get_run,
        prepare_resume,
        run_config,
        summarize_run,
    )

__all__ = [
    "BackendName",
    "Interrupt",
    "JudgeSpec",
    "KeyExecutor",
    "PairSelection",
    "Plan",
    "RunConfig",
    "RunOptions",
    "RunProgress",
    "RunSummary",
    "WorkItem",
    "cancel_run",
    "create_run",
    "execute_on",
    "execute_run",
    "finish_run",
    "get_run",
    "judge_item",
    "plan_run",
    "prepare_resume",
    "resolve_backend",
    "run_config",
    "summarize_run",
]
_WHERE = {
    "JudgeSpec": "judge.runs.request",
    "PairSelection": "judge.runs.request",
    "RunConfig": "judge.runs.request",
    "RunOptions": "judge.runs.request",
    "RunProgress": "judge.runs.service",
    "RunSummary": "judge.runs.service",
    "cancel_run": "judge.runs.service",
    "create_run": "judge.runs.service",
    "execute_run": "judge.runs.service",
    "finish_run": "judge.runs.service",
    "get_run": "judge.runs.service",
    "prepare_resume": "judge.runs.service",
    "run_config": "judge.runs.service",
    "summarize_run": "judge.runs.service",
    "Plan": "judge.runs.plan",
    "WorkItem": "judge.runs.plan",
    "plan_run": "judge.runs.plan",
    "judge_item": "judge.runs.judging",
    "Interrupt": "judge.runs.execution",
    "KeyExecutor": "judge.runs.execution",
    "BackendName": "judge.runs.backends",
    "execute_on": "judge.runs.backends",
    "resolve_backend": "judge.runs.backends",
}


__getattr__ = lazy_getattr(__name__, _WHERE)
