"""The core install (`pip install judge`, no extras) judges and analyses without Celery, Redis, FastAPI or the
optional extras: the CLI's non-worker, non-API commands run with those packages made unimportable, and the commands
that need an extra say which."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from judge.testing.fake_provider import FakeProvider

EXTRAS_ONLY = ("celery", "kombu", "redis", "fastapi", "starlette", "uvicorn", "psycopg", "llama_cpp", "matplotlib")
SAMPLE = Path(__file__).resolve().parents[1] / "data" / "mt_bench"
CORE_CLI = f"""
import json, sys
for name in {EXTRAS_ONLY!r}:
    sys.modules[name] = None  # importing it raises ImportError, as when the extra is not installed
from typer.testing import CliRunner
from judge.cli import app
runner = CliRunner()
results = []
for args in json.loads(sys.argv[1]):
    result = runner.invoke(app, args)
    results.append({{"code": result.exit_code, "output": result.output}})
print(json.dumps(results))
"""


def core_judge(tmp_path: Path, *commands: list[str]) -> list[dict[str, object]]:
    """Run CLI commands in one process where the extras' packages cannot be imported."""
    env = os.environ | {"JUDGE_DATABASE_URL": f"sqlite:///{tmp_path / 'core.db'}", "COLUMNS": "200"}
    env.pop("JUDGE_BROKER_URL", None)
    done = subprocess.run(
        [sys.executable, "-c", CORE_CLI, json.dumps(commands)], env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    results: list[dict[str, object]] = json.loads(done.stdout.splitlines()[-1])
    return results


def test_the_core_install_judges_and_rates_and_names_the_missing_extras(
    tmp_path: Path, fake_provider: FakeProvider
) -> None:
    fake_provider.script(default={"kind": "position_biased"})  # type: ignore[arg-type]
    run = ["run", "--set", "mt_bench", "--judge", "openai/fake", "--api-base", fake_provider.url, "--limit", "2"]
    imported, judged, board, celery, serve = core_judge(
        tmp_path,
        ["import", "mtbench", str(SAMPLE)],
        run,
        ["leaderboard", "--set", "mt_bench"],
        [*run, "--backend", "celery"],
        ["serve"],
    )
    assert imported["code"] == 0, imported
    assert judged["code"] == 0 and "2 units, 4 verdicts planned" in str(judged["output"]), judged
    assert "completed" in str(judged["output"])
    assert board["code"] == 0 and "gpt-4" in str(board["output"]), board
    assert celery["code"] == 2 and "pip install 'judge[worker]'" in str(celery["output"]), celery
    assert serve["code"] == 2 and "pip install 'judge[api]'" in str(serve["output"]), serve
