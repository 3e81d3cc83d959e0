"""Command line: typer commands with rich output; no logic beyond argument handling.

Each module below registers its commands on the shared ``app``.
"""

from judge.cli import (  # noqa: F401
    analysis_commands,
    api_commands,
    arena_commands,
    correctness_commands,
    eval_commands,
    ratings_commands,
    run_commands,
    store_commands,
    worker_commands,
)
from judge.cli.app import app

__all__ = ["app"]
