"""Ratings from pairwise battles: online Elo, Bradley-Terry (plain, style-controlled, correctness-aware).

Typical use: ``battles_from_votes`` -> ``fit_bradley_terry`` / ``fit_elo`` / ``fit_style_controlled`` /
``fit_correctness_controlled`` -> ``leaderboard_from_fit`` -> ``Leaderboard.to_json_rows()``;
``combine_leaderboards`` puts raw, style-controlled and correctness-aware ratings side by side.
"""

from judge.ratings.battles import Battles, battles_from_votes, comparison_components, require_rateable
from judge.ratings.bradley_terry import aggregate_battles, fit_bradley_terry, multinomial_counts
from judge.ratings.correctness import (
    CORRECTNESS_SCORE,
    correctness_battles,
    correctness_battles_from_verdicts,
    correctness_of_votes,
    fit_correctness_controlled,
    fit_correctness_rating,
    with_correctness_covariate,
)
from judge.ratings.elo import EloParams, fit_elo, run_elo
from judge.ratings.fit import Anchor, BootstrapSpec, RatingFit, RatingScale, parse_anchor
from judge.ratings.plot import plot_leaderboard
from judge.ratings.ranking import (
    Coefficient,
    ComparisonRow,
    Leaderboard,
    RatingRow,
    combine_leaderboards,
    comparison_json_rows,
    leaderboard_from_fit,
    rank_by_intervals,
)
from judge.ratings.reference import fit_logistic_per_battle
from judge.ratings.style import (
    STYLE_FEATURES,
    StyleCounts,
    count_style,
    fit_style_controlled,
    style_battles_from_votes,
    style_covariates,
)
from judge.ratings.synthetic import simulate_battles
from judge.ratings.winrates import BaselineWinRate, WinRateMatrix, predicted_win_rates, win_rates_vs_baseline

__all__ = [
    "CORRECTNESS_SCORE",
    "STYLE_FEATURES",
    "Anchor",
    "BaselineWinRate",
    "Battles",
    "BootstrapSpec",
    "Coefficient",
    "ComparisonRow",
    "EloParams",
    "Leaderboard",
    "RatingFit",
    "RatingRow",
    "RatingScale",
    "StyleCounts",
    "WinRateMatrix",
    "aggregate_battles",
    "battles_from_votes",
    "combine_leaderboards",
    "comparison_components",
    "comparison_json_rows",
    "correctness_battles",
    "correctness_battles_from_verdicts",
    "correctness_of_votes",
    "count_style",
    "fit_bradley_terry",
    "fit_correctness_controlled",
    "fit_correctness_rating",
    "fit_elo",
    "fit_logistic_per_battle",
    "fit_style_controlled",
    "leaderboard_from_fit",
    "multinomial_counts",
    "parse_anchor",
    "plot_leaderboard",
    "predicted_win_rates",
    "rank_by_intervals",
    "require_rateable",
    "run_elo",
    "simulate_battles",
    "style_battles_from_votes",
    "style_covariates",
    "win_rates_vs_baseline",
    "with_correctness_covariate",
]
