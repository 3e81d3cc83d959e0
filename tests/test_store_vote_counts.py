"""Leaderboards of stored votes counted in SQL equal the leaderboards fitted on the loaded vote rows."""

from __future__ import annotations

import numpy as np
import pytest
from sqlalchemy.engine import Engine

import judge.analysis.leaderboards as leaderboards
from judge.analysis.leaderboards import LeaderboardRequest, build_leaderboard
from judge.importers.mtbench import read_mtbench
from judge.metrics.categories import in_category
from judge.ratings import BootstrapSpec, battles_from_votes, fit_bradley_terry, leaderboard_from_fit
from judge.store.engine import session_scope
from judge.store.ingest import write_bundle
from judge.store.queries import get_set, load_pair_votes
from judge.store.vote_counts import vote_count_battles
from tests.paths import SAMPLE_DATA


@pytest.fixture
def mtbench(engine: Engine) -> Engine:
    with session_scope(engine) as session:
        write_bundle(session, set_name="mt_bench", bundle=read_mtbench(SAMPLE_DATA / "mt_bench"), source="human")
    return engine


@pytest.mark.parametrize(("voters", "category"), [(None, None), ("expert_*", None), (None, "writing")])
def test_counted_leaderboard_equals_the_row_path(
    mtbench: Engine, monkeypatch: pytest.MonkeyPatch, voters: str | None, category: str | None
) -> None:
    with session_scope(mtbench) as session:
        prompt_set = get_set(session, name="mt_bench")
        rows = [
            v
            for v in load_pair_votes(session, prompt_set=prompt_set, voters=voters)
            if category is None or in_category(v.category, category)
        ]
        counted = vote_count_battles(session, prompt_set=prompt_set, voters=voters, category=category)
        monkeypatch.setattr(leaderboards, "votes_by_rule", None)  # the row path is not taken
        result = build_leaderboard(
            session,
            LeaderboardRequest(set_name="mt_bench", voters=voters, category=category, bootstrap=200, seed=4),
        )
    expected_battles = battles_from_votes(rows)
    assert counted.models == expected_battles.models and counted.n_battles == len(rows) == result.n_votes
    assert np.array_equal(counted.battles_per_model(), expected_battles.battles_per_model())
    expected = leaderboard_from_fit(fit_bradley_terry(expected_battles, bootstrap=BootstrapSpec(200, seed=4)))
    got = {r.model: r for r in result.raw.rows}
    for row in expected.rows:
        assert got[row.model].rating == pytest.approx(row.rating, abs=1e-9)
        assert got[row.model].n_battles == row.n_battles
        # Both bootstraps redraw the same (pair, outcome) counts by the same multinomial (counts * 4 < battles),
        # so the intervals are equal too, whatever order the battles came in.
        assert got[row.model].ci_low == pytest.approx(row.ci_low, abs=1e-9)
        assert got[row.model].ci_high == pytest.approx(row.ci_high, abs=1e-9)
