"""Prompt categories as tags: a prompt's ``category`` may hold several comma-separated tags (``hard,math``).

Single-category sets (MT-Bench's ``writing``, JudgeBench's ``mmlu-pro-law``) are one tag; Chatbot Arena battles
carry several (see :mod:`judge.importers.arena_battles`). ``in_category`` is how every ``--category`` filter and
``--by category`` breakdown reads them.
"""

from __future__ import annotations

from collections.abc import Iterable

SEPARATOR = ","
NONE = "(none)"


def category_tags(category: str | None) -> list[str]:
    """The tags of a category value; [] for None or empty."""
    if not category:
        return []
    return [t.strip() for t in category.split(SEPARATOR) if t.strip()]


def join_tags(tags: Iterable[str]) -> str | None:
    """Tags as a category value (sorted, de-duplicated); None when there are none."""
    unique = sorted({t.strip() for t in tags if t.strip()})
    return SEPARATOR.join(unique) if unique else None


def in_category(category: str | None, name: str) -> bool:
    """Whether a prompt with ``category`` belongs to ``name`` (one of its tags, or the whole value)."""
    if category == name:
        return True
    return name in category_tags(category)


def all_tags(categories: Iterable[str | None]) -> list[str]:
    """Every tag used by ``categories``, sorted."""
    return sorted({t for c in categories for t in category_tags(c)})
