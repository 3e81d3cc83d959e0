"""Import Chatbot Arena battle logs (``clean_battle_*.json`` arrays, or JSONL) as votes, prompts and responses.

Each battle ``{model_a, model_b, winner, judge?, turn?, language?, tstamp?, question_id?, conversation_a?,
conversation_b?, category_tag?, is_code?}`` becomes one vote (winner ``model_a``, ``model_b``, ``tie`` or
``tie (bothbad)``; voter = ``judge`` or ``arena``). With conversations, the user turns become the prompt and each
side's assistant turns a response. Categories become comma-separated tags on the prompt and vote, from the
Arena's ``category_tag``: ``hard`` (at least 6 of the 7 ``criteria_v0.1`` hard-prompt criteria), ``math``,
``if`` (instruction following, ``if_v0.1`` score >= 4), ``creative_writing``, plus ``code`` from ``is_code``.
A battle without ``question_id`` gets the id ``arena-`` + a hash of its user turns (or of its tstamp and models).
A model name logged as FastChat's reveal label (``### Model A: gpt-3.5-turbo``) is read as the name after it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from judge.core.errors import InputError
from judge.core.hashing import content_hash
from judge.importers.bundle import ImportBundle
from judge.importers.generic import vote_from
from judge.importers.jsonarray import read_located
from judge.importers.lines import Located
from judge.importers.records import VoteRecord
from judge.metrics.categories import join_tags

DEFAULT_VOTER = "arena"
HARD_CRITERIA = (
    "specificity",
    "domain_knowledge",
    "complexity",
    "problem_solving",
    "creativity",
    "technical_accuracy",
    "real_world",
)
HARD_THRESHOLD = 6
IF_THRESHOLD = 4
# After a vote FastChat's arena shows each side as "### Model A: <name>"; a later vote in the same battle logs those
# labels as the model names, and clean_battle_data.py keeps them (and marks the battle anony=false).
REVEAL_LABELS = {"model_a": "### Model A: ", "model_b": "### Model B: "}


def arena_tags(record: Located) -> list[str]:
    """The category tags of one battle, from ``category_tag`` and ``is_code``."""
    tags: list[str] = []
    raw = record.get("category_tag")
    if raw is not None and not isinstance(raw, dict):
        raise InputError("expected an object", location=record.location, field="category_tag")
    tag: dict[str, Any] = raw or {}
    criteria = tag.get("criteria_v0.1")
    if isinstance(criteria, dict) and sum(bool(criteria.get(c)) for c in HARD_CRITERIA) >= HARD_THRESHOLD:
        tags.append("hard")
    math = tag.get("math_v0.1")
    if isinstance(math, dict) and math.get("math"):
        tags.append("math")
    follows = tag.get("if_v0.1")
    if isinstance(follows, dict) and follows.get("if") and (follows.get("score") or 0) >= IF_THRESHOLD:
        tags.append("if")
    creative = tag.get("creative_writing_v0.1")
    if isinstance(creative, dict) and creative.get("creative_writing"):
        tags.append("creative_writing")
    if record.get("is_code") is True:
        tags.append("code")
    return tags


def _user_turns(value: Any) -> list[str] | None:
    if not isinstance(value, list):
        return None
    return [m["content"] for m in value if isinstance(m, dict) and m.get("role") == "user" and "content" in m]


def battle_vote(record: Located) -> VoteRecord:
    """One battle as a validated vote (with its conversations and category tags when present)."""
    data = Located.at(dict(record), record.location)
    for field, label in REVEAL_LABELS.items():
        name = data.get(field)
        if isinstance(name, str):
            data[field] = name.removeprefix(label)
    if "question_id" not in data and "prompt_id" not in data:
        users = _user_turns(record.get("conversation_a"))
        basis: Any = users if users else [record.get("tstamp"), record.get("model_a"), record.get("model_b")]
        data["question_id"] = "arena-" + content_hash(basis)[:16]
    data.setdefault("judge", DEFAULT_VOTER)
    category = join_tags(arena_tags(record))
    if category is not None:
        data["category"] = category
    vote = vote_from(data)
    if vote.model_a == vote.model_b:
        raise InputError("model_a and model_b are the same model", location=record.location, field="model_b")
    return vote


def read_arena_battles(path: Path) -> ImportBundle:
    """Every battle of a Chatbot Arena battle log, validated before anything is written."""
    votes = [battle_vote(r) for r in read_located(path)]
    if not votes:
        raise InputError("no battles in the file", location=path.name)
    return ImportBundle(votes=votes)
