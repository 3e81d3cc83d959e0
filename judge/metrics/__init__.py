"""Pure statistics of agreement, judge diagnostics, gold accuracy and the correctness audit.

Every rate is a :class:`Proportion` (count, n, rate, Wilson CI); n = 0 gives None with a note, never NaN.
"""

from __future__ import annotations

from judge.metrics.agreement import (
    CSV_COLUMNS,
    AgreementMetrics,
    AgreementReport,
    Breakdown,
    agreement_metrics,
    compare_sources,
)
from judge.metrics.audit import AuditExample, AuditReport, CorrectnessGrade, audit_preferences, shorten
from judge.metrics.diagnostics import JudgeDiagnostics, OrderedVerdict, judge_diagnostics
from judge.metrics.gold import GoldAccuracy, GoldRecord, gold_accuracy, gold_record
from judge.metrics.intervals import Proportion, proportion, wilson_interval
from judge.metrics.kappa import ConfusionMatrix, Kappa, KappaCiMethod, cohen_kappa, confusion_matrix
from judge.metrics.length_bias import LengthBias, LengthBiasComparison, compare_length_bias, length_bias
from judge.metrics.style import STYLE_FEATURES, StyleFeatures, style_features
from judge.metrics.style_effect import StyleEffect, StyleFit, fit_style_model, style_effect
from judge.metrics.units import (
    Comparison,
    ResponseKey,
    UnitKey,
    canonical_outcome,
    pair_across,
    pair_within,
    unit_key,
)

__all__ = [
    "CSV_COLUMNS",
    "STYLE_FEATURES",
    "AgreementMetrics",
    "AgreementReport",
    "AuditExample",
    "AuditReport",
    "Breakdown",
    "Comparison",
    "ConfusionMatrix",
    "CorrectnessGrade",
    "GoldAccuracy",
    "GoldRecord",
    "JudgeDiagnostics",
    "Kappa",
    "KappaCiMethod",
    "LengthBias",
    "LengthBiasComparison",
    "OrderedVerdict",
    "Proportion",
    "ResponseKey",
    "StyleEffect",
    "StyleFeatures",
    "StyleFit",
    "UnitKey",
    "agreement_metrics",
    "audit_preferences",
    "canonical_outcome",
    "cohen_kappa",
    "compare_length_bias",
    "compare_sources",
    "confusion_matrix",
    "fit_style_model",
    "gold_accuracy",
    "gold_record",
    "judge_diagnostics",
    "length_bias",
    "pair_across",
    "pair_within",
    "proportion",
    "shorten",
    "style_effect",
    "style_features",
    "unit_key",
    "wilson_interval",
]
