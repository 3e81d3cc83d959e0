"""The pure core: domain types, the exception tree, hashing (verdict keys), rubrics, rendering (untrusted text
fenced), parsing (verdict position rules, never a guess), order and panel rules, deterministic graders,
prompt tagging, secret redaction. No I/O: nothing here imports the store, the LLM client, runs or an edge.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from judge.core.lazy import lazy_getattr

if TYPE_CHECKING:
    from judge.core.errors import (
        ConflictError,
        InputError,
        JudgeError,
        NotFoundError,
        ProviderError,
        RubricError,
        StatisticsError,
        StoreError,
        classify_failure,
    )
    from judge.core.hashing import canonical_json, content_hash
    from judge.core.parse import ParsedOutput, parse_output
    from judge.core.redaction import install_redaction, redact
    from judge.core.render import render_messages, render_reask
    from judge.core.rubrics import Rubric, list_rubrics, load_rubric
    from judge.core.types import (
        ChatMessage,
        Correctness,
        Frozen,
        JudgeTask,
        Mode,
        Order,
        PairVote,
        RunStatus,
        VerdictRecord,
        VerdictStatus,
        Winner,
    )

__all__ = [
    "ChatMessage",
    "ConflictError",
    "Correctness",
    "Frozen",
    "InputError",
    "JudgeError",
    "JudgeTask",
    "Mode",
    "NotFoundError",
    "Order",
    "PairVote",
    "ParsedOutput",
    "ProviderError",
    "Rubric",
    "RubricError",
    "RunStatus",
    "StatisticsError",
    "StoreError",
    "VerdictRecord",
    "VerdictStatus",
    "Winner",
    "canonical_json",
    "classify_failure",
    "content_hash",
    "install_redaction",
    "list_rubrics",
    "load_rubric",
    "parse_output",
    "redact",
    "render_messages",
    "render_reask",
]
_WHERE = {
    "ChatMessage": "judge.core.types",
    "Correctness": "judge.core.types",
    "Frozen": "judge.core.types",
    "JudgeTask": "judge.core.types",
    "Mode": "judge.core.types",
    "Order": "judge.core.types",
    "PairVote": "judge.core.types",
    "RunStatus": "judge.core.types",
    "VerdictRecord": "judge.core.types",
    "VerdictStatus": "judge.core.types",
    "Winner": "judge.core.types",
    "ConflictError": "judge.core.errors",
    "InputError": "judge.core.errors",
    "JudgeError": "judge.core.errors",
    "NotFoundError": "judge.core.errors",
    "ProviderError": "judge.core.errors",
    "RubricError": "judge.core.errors",
    "StatisticsError": "judge.core.errors",
    "StoreError": "judge.core.errors",
    "classify_failure": "judge.core.errors",
    "canonical_json": "judge.core.hashing",
    "content_hash": "judge.core.hashing",
    "Rubric": "judge.core.rubrics",
    "list_rubrics": "judge.core.rubrics",
    "load_rubric": "judge.core.rubrics",
    "render_messages": "judge.core.render",
    "render_reask": "judge.core.render",
    "ParsedOutput": "judge.core.parse",
    "parse_output": "judge.core.parse",
    "install_redaction": "judge.core.redaction",
    "redact": "judge.core.redaction",
}


__getattr__ = lazy_getattr(__name__, _WHERE)
