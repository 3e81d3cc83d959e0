"""Write one benchmark's section of BENCHMARKS.md, leaving the other sections as they are."""

from __future__ import annotations

import datetime
import re
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[1] / "BENCHMARKS.md"


def write_section(title: str, body: str, *, command: str) -> None:
    """Replace (or append) the ``## title`` section with ``body``, stamped with the date and the command."""
    stamp = datetime.date.today().isoformat()
    replace_section(title, f"## {title}\n\nMeasured {stamp} with `{command}`.\n\n{body.strip()}\n")


def replace_section(title: str, section: str) -> None:
    """Replace (or append) the ``## title`` section of BENCHMARKS.md with ``section`` (its heading included)."""
    text = BENCHMARKS.read_text(encoding="utf-8") if BENCHMARKS.exists() else "# Benchmarks\n"
    pattern = re.compile(rf"^## {re.escape(title)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(text):
        text = pattern.sub(lambda _m: section + "\n", text).rstrip() + "\n"
    else:
        text = text.rstrip() + "\n\n" + section
    BENCHMARKS.write_text(text, encoding="utf-8")
