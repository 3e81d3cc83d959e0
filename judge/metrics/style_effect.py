"""Style of preference winners vs losers, and how much of the preference style explains.

On every decisive vote whose two response texts are known:

- contrasts: the mean of each feature for winners and for losers, their difference, and the share of votes
  (where the two sides differ in that feature) won by the side with more of it (Wilson CI).
- fit: a logistic regression P(model_a wins) = σ(Σ β_k·x_k) with no intercept, where x_k is the normalised
  difference (f_a − f_b)/(f_a + f_b) of feature k (0 when both are 0), scaled to unit root-mean-square. No
  intercept and no centring keep the model symmetric: swapping a and b flips the prediction. Coefficients are
  log-odds per standard unit with Wald CIs from the inverse Hessian; a small L2 penalty (0.01·|β|²/2) keeps
  them finite when a feature separates the votes perfectly. Explained preference is reported as McFadden's
  pseudo-R² against the no-information model P = 0.5, and as the fitted model's in-sample accuracy over votes
  it predicts (β·x ≠ 0), to read against 0.5.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from judge.core.types import Frozen, PairVote, Winner
from judge.metrics.intervals import Proportion, proportion, z_for
from judge.metrics.style import STYLE_FEATURES, StyleFeatures, StyleFunction, style_features
from judge.metrics.units import ResponseKey, response_keys

Array = npt.NDArray[np.float64]
L2_PENALTY = 0.01


class FeatureContrast(Frozen):
    """One style feature of winners vs losers."""

    feature: str
    mean_winner: float | None
    mean_loser: float | None
    mean_difference: float | None
    more_wins: Proportion


class StyleCoefficient(Frozen):
    """Fitted log-odds per standard unit of one feature's normalised difference (None if it never varies)."""

    feature: str
    coefficient: float | None
    ci_low: float | None
    ci_high: float | None


class StyleFit(Frozen):
    """The symmetric logistic model of the decisive outcome on style differences."""

    n: int
    coefficients: tuple[StyleCoefficient, ...]
    log_likelihood: float | None
    null_log_likelihood: float | None
    pseudo_r2: float | None
    accuracy: Proportion
    note: str | None = None


class StyleEffect(Frozen):
    """Winners vs losers on style, and the fit; ``n_votes`` decisive votes with both texts known."""

    n_votes: int
    n_missing_text: int
    contrasts: tuple[FeatureContrast, ...]
    fit: StyleFit

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


def _contrast(feature: str, winners: list[int], losers: list[int], confidence: float) -> FeatureContrast:
    differing = [(w, lo) for w, lo in zip(winners, losers, strict=True) if w != lo]
    mean_w = float(np.mean(winners)) if winners else None
    mean_l = float(np.mean(losers)) if losers else None
    return FeatureContrast(
        feature=feature,
        mean_winner=mean_w,
        mean_loser=mean_l,
        mean_difference=None if mean_w is None or mean_l is None else mean_w - mean_l,
        more_wins=proportion(sum(w > lo for w, lo in differing), len(differing), confidence),
    )


def _normalised_difference(a: int, b: int) -> float:
    return 0.0 if a + b == 0 else (a - b) / (a + b)


def _negative_log_likelihood(beta: Array, x: Array, y: Array) -> tuple[float, Array]:
    from scipy.special import expit, log_expit

    margin = x @ beta
    value = -float(np.sum(y * log_expit(margin) + (1.0 - y) * log_expit(-margin)))
    gradient = x.T @ (expit(margin) - y)
    return value + 0.5 * L2_PENALTY * float(beta @ beta), gradient + L2_PENALTY * beta


def fit_style_model(
    pairs: Sequence[tuple[StyleFeatures, StyleFeatures]],
    a_won: Sequence[bool],
    *,
    features: Sequence[str] = STYLE_FEATURES,
    confidence: float = 0.95,
) -> StyleFit:
    """Fit the symmetric logistic model (module docstring) to (features of a, features of b) and outcomes."""
    raw = np.array(
        [[_normalised_difference(fa.value(k), fb.value(k)) for k in features] for fa, fb in pairs],
        dtype=np.float64,
    ).reshape(len(pairs), len(features))
    scale = np.sqrt(np.mean(raw**2, axis=0)) if len(pairs) else np.zeros(len(features))
    varying = [i for i in range(len(features)) if scale[i] > 0]
    empty = [StyleCoefficient(feature=k, coefficient=None, ci_low=None, ci_high=None) for k in features]
    if not varying:
        note = "no votes" if not pairs else "no style feature differs between the two sides of any vote"
        return StyleFit(
            n=len(pairs),
            coefficients=tuple(empty),
            log_likelihood=None,
            null_log_likelihood=None,
            pseudo_r2=None,
            accuracy=proportion(0, 0, confidence),
            note=note,
        )
    from scipy.optimize import minimize  # SciPy on first use: slow to import
    from scipy.special import expit, log_expit

    x = raw[:, varying] / scale[varying]
    y = np.array(a_won, dtype=np.float64)
    result = minimize(_negative_log_likelihood, np.zeros(len(varying)), args=(x, y), jac=True, method="BFGS")
    beta = np.asarray(result.x, dtype=np.float64)
    p = expit(x @ beta)
    hessian = x.T @ (x * (p * (1.0 - p))[:, None]) + L2_PENALTY * np.eye(len(varying))
    errors = np.sqrt(np.diag(np.linalg.inv(hessian)))
    z = z_for(confidence)
    coefficients = list(empty)
    for column, index in enumerate(varying):
        b, se = float(beta[column]), float(errors[column])
        coefficients[index] = StyleCoefficient(
            feature=features[index], coefficient=b, ci_low=b - z * se, ci_high=b + z * se
        )
    log_likelihood = float(np.sum(y * log_expit(x @ beta) + (1.0 - y) * log_expit(-(x @ beta))))
    null = len(pairs) * math.log(0.5)
    margin = x @ beta
    predicted = np.abs(margin) > 1e-12
    hits = int(np.sum((margin > 0)[predicted] == (y > 0.5)[predicted]))
    return StyleFit(
        n=len(pairs),
        coefficients=tuple(coefficients),
        log_likelihood=log_likelihood,
        null_log_likelihood=null,
        pseudo_r2=1.0 - log_likelihood / null,
        accuracy=proportion(hits, int(predicted.sum()), confidence),
        note=None if result.success else f"optimiser did not converge: {result.message}",
    )


def style_effect(
    votes: Sequence[PairVote],
    texts: Mapping[ResponseKey, str],
    *,
    featurize: StyleFunction = style_features,
    features: Sequence[str] = STYLE_FEATURES,
    confidence: float = 0.95,
) -> StyleEffect:
    """Winner-vs-loser style contrasts and the style fit over the decisive votes whose texts are known."""
    decisive = [v for v in votes if not v.winner.is_tie]
    pairs: list[tuple[StyleFeatures, StyleFeatures]] = []
    a_won: list[bool] = []
    for vote in decisive:
        key_a, key_b = response_keys(vote)
        if key_a in texts and key_b in texts:
            pairs.append((featurize(texts[key_a]), featurize(texts[key_b])))
            a_won.append(vote.winner is Winner.MODEL_A)
    contrasts = []
    for feature in features:
        winners = [(fa if won else fb).value(feature) for (fa, fb), won in zip(pairs, a_won, strict=True)]
        losers = [(fb if won else fa).value(feature) for (fa, fb), won in zip(pairs, a_won, strict=True)]
        contrasts.append(_contrast(feature, winners, losers, confidence))
    return StyleEffect(
        n_votes=len(pairs),
        n_missing_text=len(decisive) - len(pairs),
        contrasts=tuple(contrasts),
        fit=fit_style_model(pairs, a_won, features=features, confidence=confidence),
    )
