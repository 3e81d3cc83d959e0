"""``judge serve`` writes one redacted access line per request (the redaction filter keeps uvicorn's arguments)."""

from __future__ import annotations

import io
import logging
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from uvicorn.logging import AccessFormatter

from judge.core.redaction import install_redaction

SECRET = "sk-tenant0123456789abcdef"


def test_access_records_keep_their_arguments_and_lose_their_secrets(capsys: pytest.CaptureFixture[str]) -> None:
    install_redaction()
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(AccessFormatter('%(client_addr)s - "%(request_line)s" %(status_code)s', use_colors=False))
    logger = logging.getLogger("uvicorn.access.test")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    try:
        path = f"/v1/runs?api_key=jk_abcdefgh12345678&q={SECRET}"
        logger.info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:50123", "GET", path, "1.1", 200)
    finally:
        logger.removeHandler(handler)
    line = out.getvalue().strip()
    assert line == '127.0.0.1:50123 - "GET /v1/runs?api_key=***&q=sk-*** HTTP/1.1" 200 OK'
    assert "Logging error" not in capsys.readouterr().err


def test_a_secret_split_between_template_and_argument_is_still_redacted() -> None:
    install_redaction()
    record = logging.getLogger("judge.test").makeRecord(
        "judge.test", logging.INFO, __file__, 1, "Authorization: Bearer %s (%d bytes)", ("abcdef123456", 42), None
    )
    assert record.getMessage() == "Authorization: Bearer *** (42 bytes)"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.mark.slow
def test_judge_serve_logs_one_access_line_per_request(tmp_path: Path) -> None:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k != "JUDGE_BROKER_URL"}  # runs in-process
    env["JUDGE_DATABASE_URL"] = f"sqlite:///{tmp_path / 'judge.db'}"
    cmd = [str(Path(sys.executable).parent / "judge"), "serve", "--port", str(port)]
    server = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200
                break
            except httpx.TransportError:
                assert server.poll() is None and time.monotonic() < deadline, "judge serve did not start"
                time.sleep(0.2)
        answer = httpx.get(f"http://127.0.0.1:{port}/v1/runs?token={SECRET}", headers={"X-API-Key": "jk_nopenope1"})
        assert answer.status_code == 401
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=30)
    assert "Logging error" not in output and "TypeError" not in output, output
    assert '"GET /healthz HTTP/1.1" 200' in output, output
    assert re.search(r'"GET /v1/runs\?\S*(\*\*\*|REDACTED)\S* HTTP/1.1" 401', output), output  # LiteLLM's filter too
    assert SECRET not in output
