"""The run report: one self-contained HTML page with leaderboards, win-rate heatmap, agreement and audit."""

from judge.report.data import ReportData, collect_report
from judge.report.page import render_report, write_report

__all__ = ["ReportData", "collect_report", "render_report", "write_report"]
