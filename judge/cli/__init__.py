"""Command line: typer commands with rich output; no logic beyond argument handling.

Each module below registers its commands on the shared ``app``.
"""

from judge.cli import analysis_commands, run_commands, store_commands  # noqa: F401
from judge.cli.app import app

__all__ = ["app"]
