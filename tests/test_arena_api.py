"""The arena over HTTP on SQLite and PostgreSQL: invitations, blind units, votes with reveals, skips, scoping,
rate limits, the page's cookie and CSRF handling, and the live leaderboard."""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import urlsplit

from sqlmodel import col, select

from judge.api.arena import reconfigure
from judge.store.engine import session_scope
from judge.store.queries import get_set, load_pair_votes
from judge.store.tables import ArenaVoter, Vote, utcnow
from tests.arena_fixtures import HOSTILE, MODELS, PROMPTS, SET, Arena, arena, arena_settings

__all__ = ["arena"]
UNITS = PROMPTS * 3  # three pairs per prompt


def voter_headers(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_blind(text: str) -> None:
    for model in MODELS:
        assert model not in text


def test_invitations_scope_and_revocation(arena: Arena) -> None:
    invitation = arena.invite("alice", expires="7d")
    token = invitation["token"]
    assert invitation["url"] == f"http://testserver/arena/{SET}/join?token={token}"
    listed = arena.client.get("/v1/arena/voters", params={"prompt_set_id": arena.set_id}, headers=arena.tenant())
    assert [(v["voter"], v["status"], v["votes"]) for v in listed.json()] == [("alice", "active", 0)]
    assert token not in listed.text and listed.json()[0]["prefix"] == token[:8]
    # the voter token opens the arena routes and nothing else
    assert arena.client.get("/v1/arena/next", headers=voter_headers(token)).status_code == 200
    assert arena.client.get("/v1/prompt-sets", headers=voter_headers(token)).status_code == 401
    assert arena.client.post("/v1/arena/voters", json={}, headers=voter_headers(token)).status_code == 401
    assert arena.client.get("/v1/arena/next", headers=arena.tenant()).status_code == 401
    # another tenant cannot see or invite to this set
    other = arena.client.get("/v1/arena/voters", params={"prompt_set_id": arena.set_id}, headers=arena.tenant("globex"))
    assert other.status_code == 404
    revoked = arena.client.post(f"/v1/arena/voters/{invitation['id']}/revoke", headers=arena.tenant())
    assert revoked.json()["status"] == "revoked"
    assert arena.client.get("/v1/arena/next", headers=voter_headers(token)).status_code == 401


def test_expired_and_bad_tokens_are_refused(arena: Arena) -> None:
    token = arena.invite("old")["token"]
    with session_scope(arena.engine) as session:
        row = session.exec(select(ArenaVoter).where(col(ArenaVoter.voter) == "old")).one()
        row.expires_at = utcnow() - timedelta(seconds=1)
        session.add(row)
    assert arena.client.get("/v1/arena/next", headers=voter_headers(token)).status_code == 401
    assert arena.client.get("/v1/arena/next", headers=voter_headers(token + "x")).status_code == 401
    bad = arena.client.post(
        "/v1/arena/voters", json={"prompt_set_id": arena.set_id, "voter": "v", "expires": "7x"}, headers=arena.tenant()
    )
    assert bad.status_code == 422 and "duration" in bad.text


def test_next_is_blind_and_votes_reveal_once(arena: Arena) -> None:
    token = arena.invite("alice")["token"]
    served = arena.client.get("/v1/arena/next", headers=voter_headers(token))
    body = served.json()
    assert set(body) == {"unit_id", "prompt", "responses"}
    assert [r["label"] for r in body["responses"]] == ["A", "B"]
    assert_blind(served.text)
    assert_blind(" ".join(f"{k}: {v}" for k, v in served.headers.items()))
    # an opaque random token (no separators to embed a prompt id in), naming no model; a bare "q3" can occur by chance
    assert re.fullmatch(r"[A-Za-z0-9_-]{16,}", body["unit_id"])
    assert not re.search(r"alpha|bravo|charlie", body["unit_id"])
    assert arena.client.get("/v1/arena/next", headers=voter_headers(token)).json() == body  # pending until voted

    voted = arena.client.post(
        "/v1/arena/votes", json={"unit_id": body["unit_id"], "choice": "A"}, headers=voter_headers(token)
    )
    assert voted.status_code == 201, voted.text
    reveal = voted.json()
    assert {reveal["model_a"], reveal["model_b"]} <= set(MODELS) and reveal["model_a"] != reveal["model_b"]
    assert reveal["shown_first"] == reveal["model_a"] == reveal["winner"]
    again = arena.client.post(
        "/v1/arena/votes", json={"unit_id": body["unit_id"], "choice": "B"}, headers=voter_headers(token)
    )
    assert again.status_code == 200 and again.json() == reveal

    with session_scope(arena.engine) as session:
        votes = session.exec(select(Vote).where(col(Vote.source) == "arena")).all()
        assert len(votes) == 1
        vote = votes[0]
        assert vote.voter == "alice" and vote.presented_order in ("ab", "ba")
        assert vote.shown_at is not None and vote.tstamp is not None and vote.time_to_vote_s is not None
        assert vote.tstamp >= vote.shown_at and vote.time_to_vote_s >= 0
        winner_model = vote.model_a if vote.winner == "model_a" else vote.model_b
        assert winner_model == reveal["model_a"]
        assert (vote.presented_order == "ab") == (vote.model_a == reveal["model_a"])
        # an ordinary vote: the analyses' loaders see it
        pair_votes = load_pair_votes(session, prompt_set=get_set(session, name=SET, tenant="acme"), voters="alice")
        assert len(pair_votes) == 1 and pair_votes[0].voter == "alice"

    bad = arena.client.post(
        "/v1/arena/votes", json={"unit_id": body["unit_id"], "choice": "C"}, headers=voter_headers(token)
    )
    assert bad.status_code == 422
    unknown = arena.client.post(
        "/v1/arena/votes", json={"unit_id": "nope", "choice": "A"}, headers=voter_headers(token)
    )
    assert unknown.status_code == 404


def test_every_unit_once_then_nothing_left(arena: Arena) -> None:
    token = arena.invite("bob")["token"]
    seen: set[tuple[str, object]] = set()
    skipped = 0
    for k in range(UNITS):
        unit = arena.client.get("/v1/arena/next", headers=voter_headers(token)).json()
        assert unit["unit_id"] not in {u for u, _ in seen}
        if k % 4 == 0:
            assert (
                arena.client.post(
                    "/v1/arena/skip", json={"unit_id": unit["unit_id"]}, headers=voter_headers(token)
                ).status_code
                == 200
            )
            skipped += 1
            seen.add((unit["unit_id"], "skip"))
            continue
        reveal = arena.client.post(
            "/v1/arena/votes", json={"unit_id": unit["unit_id"], "choice": "tie"}, headers=voter_headers(token)
        ).json()
        seen.add((unit["unit_id"], tuple(sorted((reveal["model_a"], reveal["model_b"])))))
    assert arena.client.get("/v1/arena/next", headers=voter_headers(token)).status_code == 204
    with session_scope(arena.engine) as session:
        votes = session.exec(select(Vote).where(col(Vote.voter) == "bob")).all()
    assert len(votes) == UNITS - skipped
    assert len({(v.prompt_id, v.model_a, v.model_b) for v in votes}) == len(votes)
    # a second invitation for the same voter name does not show the same units again
    again = arena.invite("bob")["token"]
    assert arena.client.get("/v1/arena/next", headers=voter_headers(again)).status_code == 204


def test_rate_limit_per_voter_token(arena: Arena) -> None:
    reconfigure(arena.app, arena_settings(rate_per_minute=1, burst=3))
    slow, other = arena.invite("slow")["token"], arena.invite("other")["token"]
    codes = [arena.client.get("/v1/arena/next", headers=voter_headers(slow)).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    limited = arena.client.get("/v1/arena/next", headers=voter_headers(slow))
    assert int(limited.headers["Retry-After"]) >= 1
    assert arena.client.get("/v1/arena/next", headers=voter_headers(other)).status_code == 200


def test_page_cookie_csrf_escaping_and_reveal(arena: Arena) -> None:
    url = arena.invite("carol")["url"]
    parts = urlsplit(url)
    joined = arena.client.get(f"{parts.path}?{parts.query}", follow_redirects=False)
    assert joined.status_code == 303 and joined.headers["location"] == f"/arena/{SET}"
    cookie = joined.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and f"Path=/arena/{SET}" in cookie
    # the test client keeps the cookie for later requests on /arena/<set>
    seen_hostile = False
    for _ in range(UNITS):
        page = arena.client.get(f"/arena/{SET}")
        assert page.status_code == 200
        csp = page.headers["content-security-policy"]
        assert "default-src 'none'" in csp and "script-src 'nonce-" in csp and "unsafe-inline" not in csp
        assert_blind(page.text)
        assert HOSTILE not in page.text and "<img" not in page.text and page.text.count("<script") == 1
        seen_hostile |= "&lt;script&gt;alert(" in page.text
        unit_id = re.search(r'name="unit_id" value="([^"]+)"', page.text)
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert unit_id and csrf
        forged = arena.client.post(f"/arena/{SET}/vote", data={"unit_id": unit_id.group(1), "choice": "B"})
        assert forged.status_code == 403
        voted = arena.client.post(
            f"/arena/{SET}/vote", data={"unit_id": unit_id.group(1), "choice": "B", "csrf": csrf.group(1)}
        )
        assert voted.status_code == 201
        assert re.search(r'id="model-B">(alpha-7b|bravo-13b|charlie-70b)<', voted.text)
    assert seen_hostile
    done = arena.client.get(f"/arena/{SET}")
    assert "You have seen every comparison" in done.text
    board = arena.client.get(f"/arena/{SET}/leaderboard.json").json()
    assert board["n_votes"] == UNITS + 1  # and the imported vote
    assert board["voters"] == {} or set(board["voters"]) <= {"carol", "imported"}
    page = arena.client.get(f"/arena/{SET}/leaderboard")
    assert page.status_code == 200 and "Online Elo" in page.text


def test_page_refuses_missing_or_foreign_cookie(arena: Arena) -> None:
    assert arena.client.get(f"/arena/{SET}").status_code == 401
    token = arena.invite("dave")["token"]
    assert arena.client.get(f"/arena/other-set/join?token={token}").status_code == 403
    assert arena.client.get(f"/arena/{SET}/join?token=av_forged").status_code == 401
    arena.client.cookies.set("judge_arena", token, path="/arena/other-set")
    assert arena.client.get("/arena/other-set").status_code == 403


def test_live_leaderboard_changes_with_votes(arena: Arena) -> None:
    token = arena.invite("erin")["token"]
    before = arena.client.get("/v1/arena/leaderboard", headers=voter_headers(token)).json()
    assert before["n_votes"] == 1 and before["bradley_terry"] is not None
    for _ in range(6):
        unit = arena.client.get("/v1/arena/next", headers=voter_headers(token)).json()
        arena.client.post(
            "/v1/arena/votes", json={"unit_id": unit["unit_id"], "choice": "A"}, headers=voter_headers(token)
        )
    after = arena.client.get("/v1/arena/leaderboard", headers=voter_headers(token)).json()
    assert after["n_votes"] == 7 and after["elo"]["rows"] != before["elo"]["rows"]
    assert after["bradley_terry"]["n_votes"] == 7
    assert after["first_position"]["n"] == 6 and after["first_position"]["count"] == 6  # always chose A
    tenant_view = arena.client.get(f"/v1/arena/sets/{arena.set_id}/leaderboard", headers=arena.tenant())
    assert tenant_view.json()["n_votes"] == 7
    assert (
        arena.client.get(f"/v1/arena/sets/{arena.set_id}/leaderboard", headers=arena.tenant("globex")).status_code
        == 404
    )
