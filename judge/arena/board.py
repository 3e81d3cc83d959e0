"""Live ratings of an arena: online Elo updated on each vote, Bradley-Terry with CIs refitted at most every
``refit_votes`` votes or ``refit_s`` seconds, judges' agreement with the votes, and the voters' own biases.

Pure: the caller feeds votes in the order they were stored and says what time it is.
"""

from __future__ import annotations

import math
import threading
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from judge.core.errors import StatisticsError
from judge.core.types import Frozen, Order, PairVote, Winner
from judge.metrics.agreement import compare_sources
from judge.metrics.intervals import Proportion, proportion
from judge.metrics.units import canonical_outcome, unit_key
from judge.ratings import BootstrapSpec, battles_from_votes, fit_bradley_terry, leaderboard_from_fit
from judge.ratings.fit import RatingScale


class LiveVote(Frozen):
    """A stored vote in the order it arrived; ``presented_order`` ``ab`` means model_a was shown first (A)."""

    id: int
    vote: PairVote
    presented_order: Order | None = None


def shown_first_won(vote: LiveVote) -> bool | None:
    """Whether the voter preferred the answer shown first; None for ties and votes without a recorded order."""
    if vote.presented_order is None or vote.vote.winner.is_tie:
        return None
    first_is_a = vote.presented_order is Order.AB
    return (vote.vote.winner is Winner.MODEL_A) == first_is_a


def first_position_preference(votes: Sequence[LiveVote], confidence: float = 0.95) -> Proportion:
    """Share of decisive votes (with a recorded order) that went to the answer shown first; 0.5 is unbiased."""
    flags = [f for f in (shown_first_won(v) for v in votes) if f is not None]
    return proportion(sum(flags), len(flags), confidence)


def voter_majority_agreement(votes: Sequence[PairVote], confidence: float = 0.95) -> dict[str, Proportion]:
    """Per voter: how often their vote matches the majority of the *other* voters on the same unit (ties
    count as an outcome; units where the others are split evenly, or where nobody else voted, are left out)."""
    by_unit: dict[Any, list[PairVote]] = defaultdict(list)
    for vote in votes:
        by_unit[unit_key(vote)].append(vote)
    agree: dict[str, list[bool]] = defaultdict(list)
    for unit_votes in by_unit.values():
        for k, vote in enumerate(unit_votes):
            others = Counter(canonical_outcome(v) for i, v in enumerate(unit_votes) if i != k and v.voter != vote.voter)
            ranked = others.most_common(2)
            if not ranked or (len(ranked) == 2 and ranked[0][1] == ranked[1][1]):
                continue
            agree[vote.voter].append(canonical_outcome(vote) is ranked[0][0])
    return {voter: proportion(sum(f), len(f), confidence) for voter, f in sorted(agree.items())}


def judge_agreement(judges: Mapping[str, Sequence[PairVote]], human: Sequence[PairVote]) -> dict[str, Any]:
    """Agreement of each judge's combined verdicts with the collected votes, on the units both have."""
    out: dict[str, Any] = {}
    for name, votes in sorted(judges.items()):
        metrics = compare_sources(list(votes), list(human)).overall
        if metrics.n_units:
            out[name] = {
                "with_ties": metrics.with_ties.to_json(),
                "without_ties": metrics.without_ties.to_json(),
                "n_units": metrics.n_units,
            }
    return out


class LiveRatings:
    """One arena's ratings, kept up to date as votes arrive (thread-safe)."""

    def __init__(
        self,
        *,
        k: float = 16.0,
        initial: float = 1000.0,
        refit_votes: int = 50,
        refit_s: float = 30.0,
        bootstrap: int = 200,
        scale: RatingScale = RatingScale(),
    ) -> None:
        self.k, self.initial, self.scale = k, initial, scale
        self.refit_votes, self.refit_s, self.bootstrap = refit_votes, refit_s, bootstrap
        self.elo: dict[str, float] = {}
        self.elo_battles: Counter[str] = Counter()
        self.votes: list[LiveVote] = []
        self.last_id = 0
        self._fit: dict[str, Any] | None = None
        self._fit_votes = 0
        self._fit_at = -math.inf
        self._judges: dict[str, Any] | None = None
        self._judges_at = -math.inf
        self.lock = threading.Lock()

    def add(self, votes: Sequence[LiveVote]) -> None:
        """Apply new votes (ids above :attr:`last_id`, in id order) to the online Elo."""
        per_point = math.log(self.scale.base) / self.scale.scale
        for live in votes:
            if live.id <= self.last_id:
                continue
            vote = live.vote
            ra = self.elo.setdefault(vote.model_a, self.initial)
            rb = self.elo.setdefault(vote.model_b, self.initial)
            score = 0.5 if vote.winner.is_tie else float(vote.winner is Winner.MODEL_A)
            delta = self.k * (score - 1.0 / (1.0 + math.exp(min((rb - ra) * per_point, 700.0))))
            self.elo[vote.model_a], self.elo[vote.model_b] = ra + delta, rb - delta
            self.elo_battles.update((vote.model_a, vote.model_b))
            self.votes.append(live)
            self.last_id = live.id

    def bradley_terry(self, now: float) -> dict[str, Any] | None:
        """The Bradley-Terry board, refitted when ``refit_votes`` new votes arrived or ``refit_s`` passed."""
        new = len(self.votes) - self._fit_votes
        if new and (self._fit is None or new >= self.refit_votes or now - self._fit_at >= self.refit_s):
            pair_votes = [v.vote for v in self.votes]
            try:
                fit = fit_bradley_terry(
                    battles_from_votes(pair_votes),
                    scale=self.scale,
                    bootstrap=BootstrapSpec(rounds=self.bootstrap, seed=0),
                    workers=1,
                )
                board = leaderboard_from_fit(fit)
                self._fit = {"rows": board.to_json_rows(), "method": board.card(), "note": None}
            except StatisticsError as exc:
                self._fit = {"rows": [], "method": None, "note": str(exc)}
            self._fit_votes, self._fit_at = len(self.votes), now
        if self._fit is None:
            return None
        return {**self._fit, "n_votes": self._fit_votes, "fitted_at": self._fit_at}

    def board(self, now: float, judges: Callable[[], Mapping[str, Sequence[PairVote]]]) -> dict[str, Any]:
        """Everything the live leaderboard shows, as JSON. ``judges`` loads the judges' votes; their agreement is
        recomputed with each Bradley-Terry refit, or after ``refit_s`` seconds (a judge run may have finished)."""
        pair_votes = [v.vote for v in self.votes]
        fitted_before = self._fit_votes, self._fit_at
        bradley_terry = self.bradley_terry(now)
        stale = now - self._judges_at >= self.refit_s
        if self._judges is None or stale or (self._fit_votes, self._fit_at) != fitted_before:
            self._judges, self._judges_at = judge_agreement(judges(), pair_votes), now
        elo_rows = [
            {"model": m, "rating": r, "n_battles": self.elo_battles[m]}
            for m, r in sorted(self.elo.items(), key=lambda item: (-item[1], item[0]))
        ]
        return {
            "n_votes": len(self.votes),
            "elo": {"rows": elo_rows, "k": self.k, "initial": self.initial},
            "bradley_terry": bradley_terry,
            "judges": self._judges,
            "first_position": first_position_preference(self.votes).to_json(),
            "voters": {v: p.to_json() for v, p in voter_majority_agreement(pair_votes).items()},
        }
