"""The arena's pure parts: safe markdown, tokens and durations, pair selection, live ratings, the throttle."""

from __future__ import annotations

import re
from datetime import timedelta

import numpy as np
import pytest

from judge.arena.board import LiveRatings, LiveVote, first_position_preference, voter_majority_agreement
from judge.arena.markdown import render_markdown
from judge.arena.selection import choose_unit, fit_rating_state, pair_score
from judge.arena.throttle import Throttle
from judge.arena.tokens import csrf_ok, csrf_token, hash_token, new_token, new_unit_id, parse_duration
from judge.core.errors import InputError
from judge.core.types import Order, PairVote, Winner

ATTACKS = [
    '<script>alert("x")</script>',
    "<img src=x onerror=alert(1)>",
    '<a href="javascript:alert(1)">click</a>',
    "[click](javascript:alert(1))",
    '```html" onmouseover="alert(1)\n<b>x</b>\n```',
    "**<svg onload=alert(1)>**",
    "`<iframe src=//evil>`",
    "# <style>body{display:none}</style>",
    "- <object data=x>",
    '"><script>alert(1)</script>',
]


@pytest.mark.parametrize("attack", ATTACKS)
def test_markdown_never_emits_markup_from_the_text(attack: str) -> None:
    html = render_markdown(attack)
    tags = set(re.findall(r"<\s*/?\s*([a-zA-Z0-9]+)", html))
    assert tags <= {"p", "br", "code", "pre", "strong", "em", "h4", "h5", "h6", "ul", "ol", "li", "blockquote"}
    # every tag in the output is one of ours, with no attribute but a code block's language class
    for tag in re.findall(r"<[^>]*>", html):
        assert re.fullmatch(r'</?[a-z0-9]+( class="language-[A-Za-z0-9_+#.-]+")?>', tag), tag
    assert "&lt;" in html or "(javascript:alert(1))" in html  # the markup is shown as text


def test_markdown_renders_the_usual_subset() -> None:
    text = (
        "# Title\n\nSome **bold**, *it* and `x < y`.\n\n- one\n- two\n\n1. first\n\n"
        "```python\nif a < b:\n    pass\n```\n> quoted"
    )
    html = render_markdown(text)
    assert "<h4>Title</h4>" in html
    assert "<p>Some <strong>bold</strong>, <em>it</em> and <code>x &lt; y</code>.</p>" in html
    assert "<ul>\n<li>one</li>\n<li>two</li>\n</ul>" in html and "<ol>\n<li>first</li>\n</ol>" in html
    assert '<pre><code class="language-python">if a &lt; b:\n    pass</code></pre>' in html
    assert "<blockquote>quoted</blockquote>" in html
    assert render_markdown("a * b * c and snake_case_name") == "<p>a * b * c and snake_case_name</p>"
    assert render_markdown("unclosed ``` fence\n```\ncode") == "<p>unclosed ``` fence</p>\n<pre><code>code</code></pre>"


def test_tokens_hashes_csrf_and_durations() -> None:
    token = new_token()
    assert token.startswith("av_") and len(token) > 40 and new_token() != token
    assert hash_token(token) == hash_token(token) != hash_token(new_token())
    assert csrf_ok(token, csrf_token(token)) and not csrf_ok(token, csrf_token(new_token()))
    assert not csrf_ok(token, "")
    assert len({new_unit_id() for _ in range(100)}) == 100
    assert parse_duration("7d") == timedelta(days=7) and parse_duration("90m") == timedelta(minutes=90)
    for bad in ("7", "0d", "7 days", "-1h", ""):
        with pytest.raises(InputError, match="duration"):
            parse_duration(bad)


def simulated(true: dict[str, float], n: int, seed: int = 0) -> list[tuple[str, str, float]]:
    rng = np.random.default_rng(seed)
    names = sorted(true)
    out = []
    for _ in range(n):
        a, b = rng.choice(names, 2, replace=False)
        p = 1.0 / (1.0 + np.exp(-(true[a] - true[b])))
        out.append((str(a), str(b), float(rng.random() < p)))
    return out


def test_rating_state_recovers_the_order_and_shrinks_with_votes() -> None:
    true = {"a": 1.0, "b": 0.0, "c": -1.0}
    few = fit_rating_state(list(true), simulated(true, 30))
    many = fit_rating_state(list(true), simulated(true, 3000))
    assert list(np.argsort(-many.theta)) == [0, 1, 2]
    assert many.difference("a", "c")[1] < few.difference("a", "c")[1] / 10
    empty = fit_rating_state(["x", "y"], [])
    mean, var = empty.difference("x", "y")
    assert mean == 0.0 and var == pytest.approx(2.0)


def test_active_scores_prefer_close_uncertain_pairs() -> None:
    true = {"a": 2.0, "b": 0.05, "c": 0.0}
    state = fit_rating_state(list(true), simulated(true, 600, seed=3))
    assert pair_score(state, "b", "c") > 10 * pair_score(state, "a", "c")
    rng = np.random.default_rng(0)
    units = {("a", "b"): [(1, 1)], ("a", "c"): [(1, 1)], ("b", "c"): [(1, 1), (2, 1)]}
    picks = [choose_unit(units, state, "active", rng) for _ in range(200)]
    assert sum(p is not None and p[0] == ("b", "c") for p in picks) > 180
    uniform = [choose_unit(units, state, "uniform", rng) for _ in range(300)]
    assert 60 < sum(p is not None and p[0] == ("b", "c") for p in uniform) < 140
    assert choose_unit({("a", "b"): []}, state, "active", rng) is None


def vote(a: str, b: str, winner: Winner, voter: str, prompt: str = "p") -> PairVote:
    return PairVote(prompt_id=prompt, model_a=a, model_b=b, winner=winner, voter=voter)


def test_first_position_preference_and_majority_agreement() -> None:
    live = [
        LiveVote(id=1, vote=vote("x", "y", Winner.MODEL_A, "u"), presented_order=Order.AB),  # first won
        LiveVote(id=2, vote=vote("x", "y", Winner.MODEL_A, "u"), presented_order=Order.BA),  # second won
        LiveVote(id=3, vote=vote("x", "y", Winner.MODEL_B, "u"), presented_order=Order.BA),  # first won
        LiveVote(id=4, vote=vote("x", "y", Winner.TIE, "u"), presented_order=Order.AB),  # tie: left out
        LiveVote(id=5, vote=vote("x", "y", Winner.MODEL_A, "u")),  # no order recorded: left out
    ]
    first = first_position_preference(live)
    assert (first.count, first.n) == (2, 3)
    votes = [
        vote("x", "y", Winner.MODEL_A, "v1"),
        vote("y", "x", Winner.MODEL_B, "v2"),  # the same preference, other orientation
        vote("x", "y", Winner.MODEL_B, "v3"),
        vote("x", "y", Winner.MODEL_A, "v4"),
        vote("x", "y", Winner.MODEL_A, "v1", prompt="q"),
        vote("x", "y", Winner.MODEL_B, "v2", prompt="q"),  # q: each has one other, who disagrees
    ]
    agreement = voter_majority_agreement(votes)
    assert (agreement["v1"].count, agreement["v1"].n) == (1, 2)
    assert (agreement["v2"].count, agreement["v2"].n) == (1, 2)
    assert (agreement["v3"].count, agreement["v3"].n) == (0, 1)
    assert (agreement["v4"].count, agreement["v4"].n) == (1, 1)


def test_live_ratings_update_elo_each_vote_and_refit_bt_when_due() -> None:
    board = LiveRatings(k=16, refit_votes=3, refit_s=60, bootstrap=10)
    board.add(
        [
            LiveVote(id=1, vote=vote("x", "y", Winner.MODEL_A, "u")),
            LiveVote(id=2, vote=vote("y", "x", Winner.MODEL_B, "u")),
        ]
    )
    assert board.elo["x"] > 1008 > board.elo["y"]
    first = board.bradley_terry(now=0.0)
    assert first is not None and first["n_votes"] == 2
    board.add([LiveVote(id=3, vote=vote("y", "x", Winner.MODEL_A, "u"))])
    assert board.bradley_terry(now=1.0)["n_votes"] == 2  # type: ignore[index]  # not due: 1 new vote, 1 s
    assert board.bradley_terry(now=61.0)["n_votes"] == 3  # type: ignore[index]  # due by time
    board.add([LiveVote(id=3, vote=vote("y", "x", Winner.MODEL_A, "u"))])  # seen id: ignored
    assert len(board.votes) == 3
    loads: list[int] = []

    def judges() -> dict[str, list[PairVote]]:
        loads.append(1)
        return {"judge:j": [vote("x", "y", Winner.MODEL_A, "judge:j")]}

    shown = board.board(62.0, judges)
    assert shown["n_votes"] == 3 and [r["model"] for r in shown["elo"]["rows"]] == ["x", "y"]
    assert shown["judges"]["judge:j"]["n_units"] == 1 and len(loads) == 1
    board.board(63.0, judges)
    assert len(loads) == 1  # no refit due, no new judge data loaded
    board.board(200.0, judges)
    assert len(loads) == 2


def test_throttle_allows_a_burst_then_the_rate() -> None:
    now = [0.0]
    throttle = Throttle(rate_per_minute=60, burst=2, clock=lambda: now[0])
    assert [throttle.retry_after("k") for _ in range(2)] == [0.0, 0.0]
    assert throttle.retry_after("k") == pytest.approx(1.0)
    assert throttle.retry_after("other") == 0.0
    now[0] = 1.0
    assert throttle.retry_after("k") == 0.0


def test_judge_agreement_with_the_votes_on_shared_units() -> None:
    from judge.arena.board import judge_agreement

    human = [
        vote("x", "y", Winner.MODEL_A, "h1", prompt="p1"),
        vote("y", "x", Winner.MODEL_B, "h2", prompt="p2"),  # x wins, other orientation
        vote("x", "y", Winner.TIE, "h1", prompt="p3"),
    ]
    judged = [
        vote("x", "y", Winner.MODEL_A, "judge:j", prompt="p1"),  # agrees
        vote("x", "y", Winner.MODEL_B, "judge:j", prompt="p2"),  # disagrees
        vote("x", "y", Winner.MODEL_A, "judge:j", prompt="p9"),  # no human vote on p9: left out
    ]
    out = judge_agreement({"judge:j": judged, "judge:none": [vote("u", "v", Winner.TIE, "judge:none")]}, human)
    assert set(out) == {"judge:j"}
    assert out["judge:j"]["n_units"] == 2
    assert (out["judge:j"]["with_ties"]["count"], out["judge:j"]["with_ties"]["n"]) == (1, 2)


def test_migration_0007_downgrades_and_upgrades(tmp_path: object) -> None:
    from sqlalchemy import inspect

    from judge.store.engine import make_engine, upgrade_database

    url = f"sqlite:///{tmp_path}/m.db"
    upgrade_database(url)
    engine = make_engine(url)
    assert {"arena_voter", "arena_unit", "arena_config", "arena_answer"} <= set(inspect(engine).get_table_names())
    assert "presented_order" in {c["name"] for c in inspect(engine).get_columns("vote")}
    from alembic import command

    from judge.store.engine import alembic_config

    command.downgrade(alembic_config(url), "0006")
    engine.dispose()
    engine = make_engine(url)
    assert "arena_voter" not in inspect(engine).get_table_names()
    assert "presented_order" not in {c["name"] for c in inspect(engine).get_columns("vote")}
    upgrade_database(url)
    engine.dispose()
