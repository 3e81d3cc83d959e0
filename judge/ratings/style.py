"""Style covariates from response text, and Bradley-Terry controlled for them.

Per response: tokens (words ``\\w+`` and single punctuation marks, a tokenizer-free approximation), markdown
headers (lines starting ``#`` to ``######`` and a space), list items (lines starting ``-``, ``*``, ``+`` or
``1.`` and a space, after optional indentation) and bold spans (``**x**`` or ``__x__``).
Per battle each count becomes (a - b) / (a + b + 1), then each column is divided by its root mean square.
Centring is left out on purpose: it keeps the covariates antisymmetric (swapping a battle's sides negates
them), whereas a non-zero mean would act as a position bias.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from numpy.typing import NDArray

from judge.core.errors import InputError
from judge.core.types import Frozen, PairVote
from judge.metrics.style import style_features
from judge.ratings.battles import Battles, battles_from_votes
from judge.ratings.bradley_terry import fit_bradley_terry
from judge.ratings.fit import Anchor, BootstrapSpec, RatingFit, RatingScale

FloatArray = NDArray[np.float64]

STYLE_FEATURES = ("length", "headers", "list_items", "bold")


class StyleCounts(Frozen):
    """Style counts of one response."""

    tokens: int
    headers: int
    list_items: int
    bold: int

    def as_tuple(self) -> tuple[int, int, int, int]:
        return (self.tokens, self.headers, self.list_items, self.bold)


def count_style(text: str) -> StyleCounts:
    """Count tokens, markdown headers, list items and bold spans in ``text`` (:mod:`judge.metrics.style`)."""
    features = style_features(text)
    return StyleCounts(
        tokens=features.length, headers=features.headers, list_items=features.list_items, bold=features.bold
    )


def style_covariates(counts_a: FloatArray, counts_b: FloatArray) -> FloatArray:
    """Per-battle (a - b) / (a + b + 1) of each count column, scaled to unit root mean square.

    A column that is zero in every battle stays zero (its coefficient is then 0).
    """
    a, b = np.asarray(counts_a, dtype=np.float64), np.asarray(counts_b, dtype=np.float64)
    if np.any(a < 0) or np.any(b < 0):
        raise InputError("style counts must be >= 0", field="style")
    diff = (a - b) / (a + b + 1.0)
    rms = np.sqrt(np.mean(diff**2, axis=0)) if len(diff) else np.ones(diff.shape[1])
    return np.asarray(diff / np.where(rms > 0, rms, 1.0))


def style_battles_from_votes(
    votes: Sequence[PairVote],
    responses: Mapping[tuple[str, str, int], str],
    models: Sequence[str] | None = None,
) -> Battles:
    """Battles from votes with style covariates; ``responses[(prompt_id, model, turn)]`` is the answer text."""
    cache: dict[tuple[str, str, int], tuple[int, int, int, int]] = {}

    def counts(key: tuple[str, str, int], row: int) -> tuple[int, int, int, int]:
        if key not in cache:
            if key not in responses:
                raise InputError(
                    f"no response for prompt {key[0]!r}, model {key[1]!r}, turn {key[2]}", location=f"vote {row}"
                )
            cache[key] = count_style(responses[key]).as_tuple()
        return cache[key]

    counts_a = np.array([counts((v.prompt_id, v.model_a, v.turn), k + 1) for k, v in enumerate(votes)])
    counts_b = np.array([counts((v.prompt_id, v.model_b, v.turn), k + 1) for k, v in enumerate(votes)])
    battles = battles_from_votes(votes, models)
    return battles.with_features(style_covariates(counts_a.reshape(-1, 4), counts_b.reshape(-1, 4)), STYLE_FEATURES)


def fit_style_controlled(
    battles: Battles,
    *,
    scale: RatingScale = RatingScale(),
    anchor: Anchor = Anchor(),
    bootstrap: BootstrapSpec = BootstrapSpec(),
    workers: int | None = None,
) -> RatingFit:
    """Bradley-Terry fitted jointly with the battles' style covariates; coefficients in points per unit."""
    if battles.features is None:
        raise InputError("style control needs battles with style covariates", field="features")
    return fit_bradley_terry(
        battles, scale=scale, anchor=anchor, bootstrap=bootstrap, method="style_controlled", workers=workers
    )
