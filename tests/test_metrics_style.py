"""Style features, winner-vs-loser contrasts and the style logistic fit."""

from __future__ import annotations

import re

import numpy as np
import pytest

from judge.core.types import PairVote, Winner
from judge.metrics.style import style_features
from judge.metrics.style_effect import style_effect

MARKDOWN = """# Title
Some **bold** text and __more bold__.

## Steps
- first
* second
1. third
2) fourth

```python
# not a header
- not a list item **not bold**
```
Plain line with ** not bold **.
"""


def test_style_features_count_outside_code_fences() -> None:
    features = style_features(MARKDOWN)
    assert features.length == len(re.findall(r"\w+|[^\w\s]", MARKDOWN))
    assert style_features("Hello, world!").length == 4
    assert (features.headers, features.list_items, features.bold) == (2, 4, 2)
    assert style_features("").model_dump() == {"length": 0, "headers": 0, "list_items": 0, "bold": 0}


def vote(prompt: str, winner: Winner, a: str = "x", b: str = "y") -> PairVote:
    return PairVote(prompt_id=prompt, model_a=a, model_b=b, winner=winner, voter="h")


def test_contrasts_of_winners_and_losers() -> None:
    texts = {
        ("p1", "x", 1): "**a** **b**",
        ("p1", "y", 1): "plain text that is a lot longer than the bold answer on the left side",
        ("p2", "x", 1): "plain",
        ("p2", "y", 1): "**c** and more",
        ("p3", "x", 1): "same",
        ("p3", "y", 1): "same",
    }
    votes = [
        vote("p1", Winner.MODEL_A),
        vote("p2", Winner.MODEL_B),
        vote("p3", Winner.MODEL_A),
        vote("p3", Winner.TIE),
        vote("p9", Winner.MODEL_A),
    ]
    result = style_effect(votes, texts)
    assert (result.n_votes, result.n_missing_text) == (3, 1)
    bold = next(c for c in result.contrasts if c.feature == "bold")
    assert bold.mean_winner == pytest.approx(1.0)  # 2, 1, 0
    assert bold.mean_loser == pytest.approx(0.0)
    assert bold.mean_difference == pytest.approx(1.0)
    assert (bold.more_wins.count, bold.more_wins.n) == (2, 2)
    length = next(c for c in result.contrasts if c.feature == "length")
    assert (length.more_wins.count, length.more_wins.n) == (1, 2)  # p1 loser is longer, p2 winner is longer
    headers = next(c for c in result.contrasts if c.feature == "headers")
    assert headers.more_wins.n == 0 and headers.more_wins.rate is None


def synthetic_votes(n: int, beta: float, seed: int) -> tuple[list[PairVote], dict[tuple[str, str, int], str]]:
    """Votes whose outcome follows the symmetric logistic model in the standardised length difference."""
    rng = np.random.default_rng(seed)
    len_a = rng.integers(20, 400, size=n)
    len_b = rng.integers(20, 400, size=n)
    d = (len_a - len_b) / (len_a + len_b)
    x = d / np.sqrt(np.mean(d**2))
    a_wins = rng.random(n) < 1.0 / (1.0 + np.exp(-beta * x))
    texts: dict[tuple[str, str, int], str] = {}
    votes = []
    for i in range(n):
        texts[(str(i), "x", 1)] = "a " * int(len_a[i])
        texts[(str(i), "y", 1)] = "b " * int(len_b[i])
        votes.append(vote(str(i), Winner.MODEL_A if a_wins[i] else Winner.MODEL_B))
    return votes, texts


def test_fit_recovers_a_known_length_effect() -> None:
    votes, texts = synthetic_votes(3000, beta=1.2, seed=11)
    fit = style_effect(votes, texts).fit
    length = next(c for c in fit.coefficients if c.feature == "length")
    assert length.coefficient == pytest.approx(1.2, abs=0.15)
    assert length.ci_low is not None and length.ci_high is not None
    assert length.ci_low < length.coefficient < length.ci_high
    assert all(c.coefficient is None for c in fit.coefficients if c.feature != "length")
    assert fit.pseudo_r2 is not None and 0.05 < fit.pseudo_r2 < 0.5
    assert fit.accuracy.rate is not None and fit.accuracy.rate > 0.6
    assert fit.note is None


def test_fit_is_symmetric_under_swapping_sides() -> None:
    votes, texts = synthetic_votes(300, beta=1.0, seed=5)
    swapped = [
        v.model_copy(update={"model_a": v.model_b, "model_b": v.model_a, "winner": v.winner.swapped()}) for v in votes
    ]
    original = style_effect(votes, texts).fit
    mirrored = style_effect(swapped, texts).fit
    assert original.coefficients[0].coefficient == pytest.approx(mirrored.coefficients[0].coefficient)
    assert original.pseudo_r2 == pytest.approx(mirrored.pseudo_r2)


def test_fit_without_style_variation_has_a_note() -> None:
    texts = {("p1", "x", 1): "same", ("p1", "y", 1): "same"}
    fit = style_effect([vote("p1", Winner.MODEL_A)], texts).fit
    assert fit.pseudo_r2 is None and fit.note
    assert style_effect([], {}).fit.note == "no votes"


def test_separated_data_gives_finite_coefficients() -> None:
    texts = {("p1", "x", 1): "a long answer", ("p1", "y", 1): "short", ("p2", "x", 1): "s", ("p2", "y", 1): "a b c"}
    fit = style_effect([vote("p1", Winner.MODEL_A), vote("p2", Winner.MODEL_B)], texts).fit
    length = fit.coefficients[0]
    assert length.coefficient is not None and 0 < length.coefficient < 100
    assert fit.accuracy.count == 2
