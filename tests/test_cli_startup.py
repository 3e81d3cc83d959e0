"""``judge`` starts fast: its entry module imports no LLM client, web framework, SciPy, Celery, Redis, plotting,
Arrow or Alembic; each command imports what it uses when it runs."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("litellm", "openai", "fastapi", "uvicorn", "starlette", "scipy", "celery", "redis", "matplotlib", "pyarrow")
"""Seconds to import between them; ``judge --help``, ``judge import ...`` and ``judge leaderboard`` need none of
the LLM, web and queue ones."""


def imported_after(statement: str) -> list[str]:
    """The HEAVY modules (and alembic) loaded by ``statement`` in a fresh interpreter."""
    names = [*HEAVY, "alembic"]
    code = f"import sys, json\n{statement}\nprint(json.dumps(sorted(m for m in {names!r} if m in sys.modules)))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return list(json.loads(done.stdout.splitlines()[-1]))


def test_cli_entry_module_imports_no_heavy_library() -> None:
    assert imported_after("import judge.cli") == []


def test_library_and_store_import_without_llm_web_or_queue_libraries() -> None:
    loaded = imported_after(
        "import judge.cli, judge.analysis.leaderboards, judge.store.bulk_votes, judge.importers.columnar"
    )
    assert not {"litellm", "openai", "fastapi", "uvicorn", "starlette", "celery", "redis", "matplotlib"} & set(loaded)


def test_the_llm_client_leaves_litellm_to_its_first_call() -> None:
    assert "litellm" not in imported_after("import judge.llm.client, judge.llm.params, judge.llm.endpoints")
