"""Analysis over the store: sources of votes and verdicts, agreement/audit/compare reports, leaderboards
(overall and per category), exports.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from judge.core.lazy import lazy_getattr

if TYPE_CHECKING:
    from judge.analysis.category_boards import category_leaderboards
    from judge.analysis.leaderboards import LeaderboardRequest, LeaderboardResult, build_leaderboard
    from judge.analysis.reports import agreement_report, audit_report, grader_agreement_report
    from judge.analysis.sources import Source
    from judge.analysis.table_export import csv_text
    from judge.analysis.verdict_export import verdict_export_rows

__all__ = [
    "LeaderboardRequest",
    "LeaderboardResult",
    "Source",
    "agreement_report",
    "audit_report",
    "build_leaderboard",
    "category_leaderboards",
    "csv_text",
    "grader_agreement_report",
    "verdict_export_rows",
]
_WHERE = {
    "agreement_report": "judge.analysis.reports",
    "audit_report": "judge.analysis.reports",
    "grader_agreement_report": "judge.analysis.reports",
    "Source": "judge.analysis.sources",
    "LeaderboardRequest": "judge.analysis.leaderboards",
    "LeaderboardResult": "judge.analysis.leaderboards",
    "build_leaderboard": "judge.analysis.leaderboards",
    "category_leaderboards": "judge.analysis.category_boards",
    "verdict_export_rows": "judge.analysis.verdict_export",
    "csv_text": "judge.analysis.table_export",
}


__getattr__ = lazy_getattr(__name__, _WHERE)
