"""The Typer application object and the helpers every command module shares."""

from __future__ import annotations

import functools
import json
import logging
import sys
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from sqlalchemy.exc import SQLAlchemyError

from judge.core.errors import JudgeError, classify_failure

log = logging.getLogger("judge.cli")

app = typer.Typer(
    name="judge",
    help="LLM-as-judge grading: verdicts with provenance, agreement, audits and ratings.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


def _console(stderr: bool = False) -> Console:
    """A console that keeps tables readable when output goes to a pipe or file (rich assumes 80 columns)."""
    stream = sys.stderr if stderr else sys.stdout
    return Console(stderr=stderr, width=None if stream.isatty() else 160)


console = _console()
err_console = _console(stderr=True)

P = ParamSpec("P")
R = TypeVar("R")


def reports_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Turn a JudgeError into a one-line message on stderr and exit status 2 (no traceback); a database error
    into its classified reason (``database busy``...), the SQL and its parameters going to the log only."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except JudgeError as exc:
            err_console.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, markup=True)
            raise typer.Exit(code=2) from exc
        except SQLAlchemyError as exc:
            log.info("database error: %s: %s", type(exc).__name__, exc)  # detail for the log, never the terminal
            err_console.print(f"[bold red]error:[/] {classify_failure(exc)}", highlight=False, markup=True)
            raise typer.Exit(code=2) from exc
        except ValidationError as exc:  # an option value the run configuration refuses (--temperature nan...)
            first = exc.errors(include_url=False)[0]
            names = [p for p in first["loc"] if isinstance(p, str)] or ["value"]
            option = "--" + names[-1].removesuffix("_usd").removesuffix("_s").replace("_", "-")
            message = escape(f"{option}: {first['msg']}")
            err_console.print(f"[bold red]error:[/] {message}", highlight=False, markup=True)
            raise typer.Exit(code=2) from None

    return wrapper


def print_json(text: str) -> None:
    """JSON on stdout, indented by 2: highlighted by rich on a terminal; to a pipe or a file the same text written
    directly (rich takes seconds to lay out a large document that nobody sees highlighted)."""
    if sys.stdout.isatty():
        console.print_json(text)
    else:
        sys.stdout.write(json.dumps(json.loads(text), indent=2, ensure_ascii=False) + "\n")


def fmt_rate(block: dict[str, Any]) -> str:
    """``count/total = rate [low, high]`` of a JSON proportion block (agreement blocks say agree/total)."""
    count = block.get("agree", block.get("count"))
    total = block.get("total", block.get("n"))
    if block.get("rate") is None:
        return f"{count}/{total}: no data"
    return f"{count}/{total} = {block['rate']:.1%} [{block['ci_low']:.1%}, {block['ci_high']:.1%}]"
