"""Import an Arena-Hard-Auto benchmark directory (lmarena/arena-hard-auto ``data/<bench>/`` layout).

Layout::

    question.jsonl                    {"uid", "category", "subcategory"?, "prompt"}   (v0.1: question_id, turns)
    model_answer/<model>.jsonl        {"uid", "model", "messages": [{"role": "user", "content": "..."},
                                       {"role": "assistant", "content": {"answer": "..."} or "..."}]}
                                      (v0.1: question_id, model_id, choices[0].turns[].content)
    model_judgment/<judge>/<model>.jsonl
                                      {"uid", "model", "judge"?, "category"?, "games": [{"score": "A>B"}, {...}]}

Arena-Hard judges each answer against the baseline twice: game 1 shows the baseline as A, game 2 shows the model
as A. Each game becomes a vote by ``<judge>/game1`` or ``<judge>/game2`` (so the two games stay two votes); its
strength (``>>``) is kept in :class:`ArenaHardGame` for the Arena-Hard score, which weights strong verdicts 3×.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from judge.core.errors import InputError
from judge.core.types import Frozen, Winner
from judge.importers.bundle import ImportBundle
from judge.importers.lines import Located, read_jsonl
from judge.importers.records import PromptRecord, ResponseRecord, VoteRecord, pick, validate_record

GAME_LABELS = ("A>>B", "A>B", "A=B", "B=A", "B>A", "B>>A", "A<<B", "A<B", "B<<A", "B<A")
"""Verdict labels Arena-Hard's score map accepts (``A<B`` is ``B>A`` written the other way round)."""


class ArenaHardGame(Frozen):
    """One judgment record: the model's two games against the baseline on one question (labels as published)."""

    uid: str
    model: str
    baseline: str
    judge: str
    category: str | None
    game1: str | None
    game2: str | None
    location: str


class ArenaHardImport(Frozen):
    """What an Arena-Hard directory holds: records for the store, and the games for Arena-Hard's own score."""

    bundle: ImportBundle
    games: tuple[ArenaHardGame, ...]


def label_winner(label: str) -> Winner:
    """The winner (A = model_a of the vote) a game label names."""
    if label in ("A>>B", "A>B", "B<<A", "B<A"):
        return Winner.MODEL_A
    if label in ("B>>A", "B>A", "A<<B", "A<B"):
        return Winner.MODEL_B
    return Winner.TIE


def _question(record: Located) -> PromptRecord:
    uid = pick(record, "uid", "question_id")
    prompt = record.get("prompt")
    if prompt is None and isinstance(record.get("turns"), list):
        prompt = [t.get("content") if isinstance(t, dict) else t for t in record["turns"]]
    data = {"prompt_id": uid, "turns": prompt, "category": record.get("category")}
    return validate_record(PromptRecord, {k: v for k, v in data.items() if v is not None}, record.location)


def _assistant_text(content: Any) -> Any:
    if isinstance(content, dict):
        return content.get("answer")
    return content


def _answer(record: Located) -> ResponseRecord:
    uid = pick(record, "uid", "question_id")
    model = pick(record, "model", "model_id")
    turns: Any = None
    messages = record.get("messages")
    if isinstance(messages, list):
        turns = []
        for index, message in enumerate(messages):
            if not isinstance(message, dict) or message.get("role") not in ("user", "assistant", "system"):
                raise InputError("expected {role, content}", location=record.location, field=f"messages.{index}")
            if message["role"] == "assistant":
                text = _assistant_text(message.get("content"))
                if not isinstance(text, str):
                    raise InputError(
                        "expected text or {answer}", location=record.location, field=f"messages.{index}.content"
                    )
                turns.append(text)
    elif isinstance(record.get("choices"), list) and record["choices"] and isinstance(record["choices"][0], dict):
        turns = [t.get("content") if isinstance(t, dict) else t for t in record["choices"][0].get("turns", [])]
    elif "messages" not in record and "choices" not in record:
        raise InputError("Field required", location=record.location, field="messages")
    data = {"prompt_id": uid, "model": model, "turns": turns}
    return validate_record(ResponseRecord, {k: v for k, v in data.items() if v is not None}, record.location)


def _game_label(game: Any, location: str, field: str) -> str | None:
    if game is None:
        return None
    if not isinstance(game, dict) or "score" not in game:
        raise InputError("expected {score, ...} or null", location=location, field=field)
    score = game["score"]
    if score is None:
        return None
    if score not in GAME_LABELS:
        raise InputError(
            f"expected one of {', '.join(GAME_LABELS)} or null, got {score!r}", location=location, field=field
        )
    return str(score)


def _judgment(record: Located, judge: str, baseline: str) -> ArenaHardGame:
    uid = pick(record, "uid", "question_id")
    model = record.get("model")
    if not isinstance(uid, str | int) or isinstance(uid, bool):
        raise InputError("Field required", location=record.location, field="uid")
    if not isinstance(model, str) or not model:
        raise InputError("expected text", location=record.location, field="model")
    games = record.get("games")
    if not isinstance(games, list) or len(games) != 2:
        raise InputError("expected a list of the two games", location=record.location, field="games")
    category = record.get("category")
    return ArenaHardGame(
        uid=str(uid),
        model=model,
        baseline=str(record.get("baseline") or baseline),
        judge=str(record.get("judge") or judge),
        category=category if isinstance(category, str) else None,
        game1=_game_label(games[0], record.location, "games.0.score"),
        game2=_game_label(games[1], record.location, "games.1.score"),
        location=record.location,
    )


def game_votes(game: ArenaHardGame) -> list[VoteRecord]:
    """The game's two votes (game 1: baseline is model_a; game 2: the model is model_a); null games give none."""
    votes = []
    for index, label, a, b in ((1, game.game1, game.baseline, game.model), (2, game.game2, game.model, game.baseline)):
        if label is None:
            continue
        votes.append(
            validate_record(
                VoteRecord,
                {
                    "prompt_id": game.uid,
                    "model_a": a,
                    "model_b": b,
                    "winner": label_winner(label).value,
                    "voter": f"{game.judge}/game{index}",
                    "category": game.category,
                },
                game.location,
            )
        )
    return votes


def read_arenahard(directory: Path, *, baseline: str, judge: str | None = None) -> ArenaHardImport:
    """Questions, every model's answers and (for ``judge``, or every judge) the judgments of a benchmark directory."""
    if not directory.is_dir():
        raise InputError("not a directory", location=str(directory))
    question_file = directory / "question.jsonl"
    if not question_file.is_file():
        raise InputError("question.jsonl not found", location=str(directory))
    prompts = [_question(r) for r in read_jsonl(question_file)]
    known = {p.prompt_id: p for p in prompts}
    answer_files = sorted((directory / "model_answer").glob("*.jsonl"))
    if not answer_files:
        raise InputError("model_answer/*.jsonl not found", location=str(directory))
    responses = [_answer(r) for f in answer_files for r in read_jsonl(f)]
    answered = {(r.prompt_id, r.model) for r in responses}
    for response in responses:
        if response.prompt_id not in known:
            raise InputError(f"unknown question {response.prompt_id!r}", location=response.location, field="uid")
    judges = sorted(p for p in (directory / "model_judgment").glob("*") if p.is_dir())
    if judge is not None:
        judges = [p for p in judges if p.name == judge]
        if not judges:
            raise InputError(f"no model_judgment/{judge}/ directory", location=str(directory), field="--judge")
    games = []
    for judge_dir in judges:
        for path in sorted(judge_dir.glob("*.jsonl")):
            for record in read_jsonl(path):
                game = _judgment(record, judge_dir.name, baseline)
                for model in (game.model, game.baseline):
                    if (game.uid, model) not in answered:
                        raise InputError(
                            f"no answer of {model!r} to question {game.uid!r} in model_answer/",
                            location=record.location,
                            field="model",
                        )
                games.append(game)
    votes = [v for g in games for v in game_votes(g)]
    return ArenaHardImport(bundle=ImportBundle(prompts=prompts, responses=responses, votes=votes), games=tuple(games))
