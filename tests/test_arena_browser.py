"""The arena page in headless Chromium (driven over the DevTools protocol) against a real uvicorn server: open the
invitation, see two answers without model names, vote by mouse click and by keyboard, see the reveal, find the
votes in the store, watch the live leaderboard change. Set JUDGE_ARENA_SCREENSHOT=path to keep a screenshot."""

from __future__ import annotations

import os
import re
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from sqlmodel import col, select

from judge.api import ApiSettings, create_app
from judge.api.arena import reconfigure
from judge.arena import service
from judge.store.engine import make_engine, session_scope, upgrade_database
from judge.store.ingest import write_bundle
from judge.store.queries import get_set
from judge.store.tables import Vote
from tests.arena_fixtures import HOSTILE, MODELS, SET, arena_bundle, arena_settings
from tests.cdp import Browser, chromium
from tests.conftest import unavailable


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """A uvicorn server over a SQLite store with the arena set; (base URL, database URL)."""
    url = f"sqlite:///{tmp_path / 'arena.db'}"
    upgrade_database(url)
    engine = make_engine(url)
    with session_scope(engine) as session:
        write_bundle(session, set_name=SET, bundle=arena_bundle())
    port = free_port()
    app = create_app(engine, api_settings=ApiSettings())
    reconfigure(app, arena_settings(public_url=f"http://127.0.0.1:{port}"))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", url
    server.should_exit = True
    thread.join(timeout=10)
    engine.dispose()


def arena_votes(url: str) -> list[Vote]:
    engine = make_engine(url)
    try:
        with session_scope(engine) as session:
            return list(session.exec(select(Vote).where(col(Vote.source) == "arena").order_by(col(Vote.id))))
    finally:
        engine.dispose()


def test_vote_in_the_browser_by_click_and_by_keyboard(served: tuple[str, str], tmp_path: Path) -> None:
    executable = chromium()
    if executable is None:
        unavailable("chromium is not installed (apt-get install -y chromium)")
        return
    base, url = served
    engine = make_engine(url)
    with session_scope(engine) as session:
        invitation = service.invite(
            session,
            prompt_set=get_set(session, name=SET),
            voter="browser-voter",
            expires=None,
            base_url=base,
        )
    engine.dispose()
    browser = Browser(executable, tmp_path / "profile")
    try:
        browser.navigate(f"{base}/arena/{SET}/leaderboard")
        assert "invitation" in browser.evaluate("document.body.innerText")  # no cookie yet: refused
        browser.events.clear()  # (the 401 above is logged as a failed load)

        browser.navigate(invitation.url)
        assert browser.evaluate("location.pathname") == f"/arena/{SET}"
        assert "token" not in browser.evaluate("location.href")
        html = browser.evaluate("document.documentElement.outerHTML")
        text = browser.evaluate("document.body.textContent")
        assert "Answer A" in text and "Answer B" in text
        assert not any(model in html for model in MODELS)
        assert browser.evaluate("document.querySelectorAll('.answer pre code').length") >= 1  # code rendered
        assert HOSTILE not in html and browser.evaluate("document.querySelectorAll('.answer img').length") == 0
        if os.environ.get("JUDGE_ARENA_SCREENSHOT"):
            shot = browser.screenshot(tmp_path / "arena.png")
            shutil.copy(shot, os.environ["JUDGE_ARENA_SCREENSHOT"])

        browser.navigate(f"{base}/arena/{SET}/leaderboard")
        assert browser.evaluate("document.getElementById('n-votes').innerText") == "1 votes"
        elo_before = browser.evaluate("document.getElementById('elo').innerText")
        browser.navigate(f"{base}/arena/{SET}")

        # vote A with a mouse click
        browser.click('button[value="A"]')
        browser.wait_loaded()
        browser.wait_for("document.getElementById('reveal') !== null")
        shown_a = browser.evaluate("document.getElementById('model-A').innerText")
        shown_b = browser.evaluate("document.getElementById('model-B').innerText")
        assert {shown_a, shown_b} <= set(MODELS) and shown_a != shown_b
        votes = arena_votes(url)
        assert len(votes) == 1 and votes[0].voter == "browser-voter"
        first = votes[0]
        assert (first.model_a if first.winner == "model_a" else first.model_b) == shown_a

        # next by keyboard (N), then vote B by keyboard
        browser.press("n")
        browser.wait_loaded()
        browser.wait_for("document.querySelector('button[value=\"B\"]') !== null")
        assert not any(model in browser.evaluate("document.documentElement.outerHTML") for model in MODELS)
        browser.press("b")
        browser.wait_loaded()
        browser.wait_for("document.getElementById('reveal') !== null")
        shown_b = browser.evaluate("document.getElementById('model-B').innerText")
        votes = arena_votes(url)
        assert len(votes) == 2
        second = votes[1]
        assert (second.model_a if second.winner == "model_a" else second.model_b) == shown_b
        assert {second.presented_order, first.presented_order} <= {"ab", "ba"}

        # the live leaderboard has moved
        browser.press("l")
        browser.wait_loaded()
        browser.wait_for("document.getElementById('n-votes') !== null")
        assert browser.evaluate("document.getElementById('n-votes').innerText") == "3 votes"
        assert browser.evaluate("document.getElementById('elo').innerText") != elo_before
        assert re.search(r"n = 2", browser.evaluate("document.getElementById('first-position').innerText"))
        assert browser.problems() == []
    finally:
        browser.close()
