"""The length-controlled win rate: equal to the raw rate when lengths carry no information, lower for a model
whose wins come with longer answers (hand-solved logistic fits)."""

from __future__ import annotations

import json

import pytest

from judge.core.types import PairVote, Winner
from judge.metrics.length_control import length_controlled_by_model, length_controlled_win_rate
from tests.test_importers_alpacaeval import EXCERPT


def test_no_length_difference_gives_the_raw_win_rate() -> None:
    assert length_controlled_win_rate([1.0, 1.0, 1.0, 0.0], [0.0] * 4) == pytest.approx(75.0, abs=0.01)
    assert length_controlled_win_rate([1.0, 0.5, 0.0], [0.0] * 3) == pytest.approx(50.0, abs=0.01)


def test_wins_that_come_with_length_are_discounted() -> None:
    # six longer answers win 5 (5/6), two shorter ones win 1 (1/2); tanh(d/s) takes two values +c and -c, so
    # theta + phi c = ln 5 and theta - phi c = 0: theta = ln(5)/2 and the rate at equal length is
    # sigmoid(0.8047) = 69.10 %, below the raw 75 %
    scores = [1.0, 1.0, 1.0, 1.0, 1.0, 0.0, 1.0, 0.0]
    differences = [100.0] * 6 + [-100.0] * 2
    assert length_controlled_win_rate(scores, differences) == pytest.approx(69.10, abs=0.05)


def test_by_model_on_the_real_alpacaeval_excerpt() -> None:
    items = json.loads(EXCERPT.read_text())
    votes, lengths = [], {}
    for k, item in enumerate(items):
        pid = str(k)
        winner = Winner.MODEL_A if item["preference"] == 1 else Winner.MODEL_B
        votes.append(PairVote(prompt_id=pid, model_a="base", model_b="alpaca-7b", winner=winner, voter="gpt4"))
        lengths[(pid, "base", 1)] = len(item["output_1"])
        lengths[(pid, "alpaca-7b", 1)] = len(item["output_2"])
    scores = [0.0 if item["preference"] == 1 else 1.0 for item in items]
    differences = [len(item["output_2"]) - len(item["output_1"]) for item in items]
    result = length_controlled_by_model(votes, "base", lengths)
    assert result == {"alpaca-7b": pytest.approx(length_controlled_win_rate(scores, differences))}
