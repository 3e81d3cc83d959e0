"""judge: LLM-as-judge grading with provenance.

The names a notebook user needs; the layers behind them are described in docs/architecture.md.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from judge.core.lazy import lazy_getattr

# LiteLLM must use its bundled price table, never fetch one at import time.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

if TYPE_CHECKING:
    from judge.analysis.leaderboards import LeaderboardRequest, build_leaderboard
    from judge.analysis.reports import agreement_report, audit_report
    from judge.core.errors import JudgeError
    from judge.core.rubrics import list_rubrics, load_rubric
    from judge.core.types import Mode, Order, PairVote, RunStatus, VerdictRecord, VerdictStatus, Winner
    from judge.runs.request import JudgeSpec, RunConfig, RunOptions
    from judge.runs.service import cancel_run, create_run, execute_run, summarize_run
    from judge.settings import Settings, get_settings
    from judge.store import open_store, session_scope

__all__ = [
    "JudgeError",
    "JudgeSpec",
    "LeaderboardRequest",
    "Mode",
    "Order",
    "PairVote",
    "RunConfig",
    "RunOptions",
    "RunStatus",
    "Settings",
    "VerdictRecord",
    "VerdictStatus",
    "Winner",
    "agreement_report",
    "audit_report",
    "build_leaderboard",
    "cancel_run",
    "create_run",
    "execute_run",
    "get_settings",
    "list_rubrics",
    "load_rubric",
    "open_store",
    "session_scope",
    "summarize_run",
]
_WHERE = {
    "Mode": "judge.core.types",
    "Order": "judge.core.types",
    "PairVote": "judge.core.types",
    "RunStatus": "judge.core.types",
    "VerdictRecord": "judge.core.types",
    "VerdictStatus": "judge.core.types",
    "Winner": "judge.core.types",
    "JudgeError": "judge.core.errors",
    "list_rubrics": "judge.core.rubrics",
    "load_rubric": "judge.core.rubrics",
    "JudgeSpec": "judge.runs.request",
    "RunConfig": "judge.runs.request",
    "RunOptions": "judge.runs.request",
    "cancel_run": "judge.runs.service",
    "create_run": "judge.runs.service",
    "execute_run": "judge.runs.service",
    "summarize_run": "judge.runs.service",
    "open_store": "judge.store",
    "session_scope": "judge.store",
    "LeaderboardRequest": "judge.analysis.leaderboards",
    "build_leaderboard": "judge.analysis.leaderboards",
    "agreement_report": "judge.analysis.reports",
    "audit_report": "judge.analysis.reports",
    "Settings": "judge.settings",
    "get_settings": "judge.settings",
}


__getattr__ = lazy_getattr(__name__, _WHERE)
