"""``judge arena invite/voters/revoke/configure`` on SQLite: the URL is the last line and opens the arena."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from judge.api import create_app
from judge.cli import app
from judge.store import open_store, session_scope
from judge.store.ingest import write_bundle
from tests.arena_fixtures import SET, arena_bundle

runner = CliRunner()


def judge(*args: str, code: int = 0) -> str:
    result = runner.invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == code, result.output
    return result.output


@pytest.fixture
def arena_db(judge_env: pytest.MonkeyPatch, tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'arena.db'}"
    judge_env.setenv("JUDGE_DATABASE_URL", url)
    judge_env.setenv("JUDGE_PUBLIC_URL", "https://arena.example.org/")
    judge_env.setenv("COLUMNS", "200")
    with session_scope(open_store(url)) as session:
        write_bundle(session, set_name=SET, bundle=arena_bundle())
    return url


def test_invite_list_revoke(arena_db: str) -> None:
    out = judge("arena", "invite", "--set", SET, "--voter", "alice", "--expires", "7d")
    url = out.strip().splitlines()[-1]
    assert url.startswith(f"https://arena.example.org/arena/{SET}/join?token=av_")
    token = url.split("token=")[1]
    judge("arena", "invite", "--set", SET, "--voter", "bob")
    listed = judge("arena", "voters", "--set", SET)
    assert "alice" in listed and "bob" in listed and listed.count("active") == 2 and token not in listed

    client = TestClient(create_app(open_store(arena_db)))
    parts = urlsplit(url)
    page = client.get(f"{parts.path}?{parts.query}")
    assert page.status_code == 200 and 'name="choice" value="A"' in page.text

    assert "revoked 1 invitation" in judge("arena", "revoke", "--set", SET, "--voter", "alice")
    assert "revoked" in judge("arena", "voters", "--set", SET)
    assert client.get(f"/arena/{SET}").status_code == 401  # the cookie's token no longer works

    assert "no voter 'carol'" in judge("arena", "revoke", "--set", SET, "--voter", "carol", code=2)
    assert "no prompt set named 'nope'" in judge("arena", "invite", "--set", "nope", "--voter", "x", code=2)
    assert "duration" in judge("arena", "invite", "--set", SET, "--voter", "x", "--expires", "soon", code=2)
    assert "selection uniform" in judge("arena", "configure", "--set", SET, "--selection", "uniform")
    assert "live prompts: m1, m2" in judge(
        "arena", "configure", "--set", SET, "--live-model", "m1", "--live-model", "m2"
    )
    assert "must be one of" in judge("arena", "configure", "--set", SET, "--selection", "best", code=2)
