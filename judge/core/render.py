"""Rendering a rubric and a judge task into the chat messages sent to the judge (pure).

Untrusted text (questions, answers, reference answers) never reaches a template raw: each piece is fenced
first, between marker lines carrying a fence id that provably occurs in none of the fenced texts, and the
template only places the fenced blocks. The system prompt tells the judge that fenced text is data.

Template variables (all rubrics):

- ``fence_id``: the code on every marker line; ``structured``: whether the reply is constrained to the
  rubric's JSON schema; ``labels``: list of ``{value, meaning}``; ``score_low``/``score_high``: the score
  range (None for labelled rubrics); ``turn``: the turn under judgement (1-based); ``category``.
- ``question`` and ``reference`` (None unless the rubric requires a reference): fenced, for turn ``turn``.
- pairwise: ``answer_first``/``answer_second``, the answers as presented (model_b first under Order.BA);
  single and correctness: ``answer``.
- ``earlier_turns``: one mapping per earlier turn with ``number``, ``question``, ``reference`` and the
  same answer keys as above, each assistant's own earlier answers.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import jinja2

from judge.core.errors import InputError, RubricError
from judge.core.hashing import content_hash
from judge.core.rubrics import Rubric, compile_template
from judge.core.types import ChatMessage, JudgeTask, Mode, Order

FENCE_ID_LENGTH = 16


def fence_id(texts: Sequence[str], *, seed: str | None = None) -> str:
    """A fence code that occurs in none of ``texts``, derived deterministically from them.

    Starts from the first ``FENCE_ID_LENGTH`` hex digits of ``seed`` (default: the content hash of the
    texts) and lengthens the code with further hash digits until no text contains it; a code longer than
    every text cannot occur in any, so the loop ends.
    """
    stream = seed if seed is not None else content_hash(list(texts))
    code = stream[:FENCE_ID_LENGTH]
    while any(code in text for text in texts):
        if len(code) >= len(stream):
            stream += hashlib.sha256(stream.encode("utf-8")).hexdigest()
        code = stream[: len(code) + 4]
    return code


def fence(text: str, name: str, code: str) -> str:
    """``text`` between ``<<<BEGIN name code>>>`` and ``<<<END name code>>>`` lines."""
    return f"<<<BEGIN {name} {code}>>>\n{text}\n<<<END {name} {code}>>>"


def _check_task(rubric: Rubric, task: JudgeTask, order: Order) -> None:
    if task.mode is not rubric.mode:
        raise InputError(f"rubric '{rubric.id}' is {rubric.mode} but the task is {task.mode}", field="mode")
    if task.turn < 1 or task.turn > len(task.question_turns):
        raise InputError(f"turn {task.turn} is outside the {len(task.question_turns)} question turns")
    answers = [task.answer_a]
    if rubric.mode is Mode.PAIRWISE:
        if order is Order.SINGLE:
            raise InputError("a pairwise rubric needs order ab or ba", field="order")
        if task.answer_b is None or task.model_b is None:
            raise InputError("a pairwise task needs model_b and answer_b", field="answer_b")
        answers.append(task.answer_b)
    elif order is not Order.SINGLE:
        raise InputError(f"a {rubric.mode} rubric is rendered with order 'single'", field="order")
    if any(len(answer) < task.turn for answer in answers):
        raise InputError(f"an answer has fewer than {task.turn} turns", field="answer")
    if rubric.requires_reference and (task.reference_turns is None or len(task.reference_turns) < task.turn):
        raise InputError(f"rubric '{rubric.id}' needs a reference answer for turn {task.turn}", field="reference")


def _untrusted_texts(rubric: Rubric, task: JudgeTask) -> list[str]:
    n = task.turn
    texts = [*task.question_turns[:n], *task.answer_a[:n], *(task.answer_b or ())[:n]]
    if rubric.requires_reference and task.reference_turns is not None:
        texts += task.reference_turns[:n]
    return texts


def template_context(rubric: Rubric, task: JudgeTask, order: Order, *, structured: bool = False) -> dict[str, Any]:
    """The variables a rubric's templates see (documented in the module docstring)."""
    _check_task(rubric, task, order)
    code = fence_id(_untrusted_texts(rubric, task))
    pairwise = rubric.mode is Mode.PAIRWISE
    first, second = task.answer_a, task.answer_b or ()
    if order is Order.BA:
        first, second = second, first

    def turn_values(k: int) -> dict[str, Any]:
        """Fenced texts of turn ``k`` (1-based)."""
        values: dict[str, Any] = {
            "number": k,
            "question": fence(task.question_turns[k - 1], f"QUESTION {k}", code),
        }
        reference = task.reference_turns[k - 1] if rubric.requires_reference and task.reference_turns else None
        values["reference"] = fence(reference, f"REFERENCE {k}", code) if reference is not None else None
        if pairwise:
            values["answer_first"] = fence(first[k - 1], f"ANSWER A {k}", code)
            values["answer_second"] = fence(second[k - 1], f"ANSWER B {k}", code)
        else:
            values["answer"] = fence(first[k - 1], f"ANSWER {k}", code)
        return values

    current = turn_values(task.turn)
    del current["number"]
    return {
        **current,
        "earlier_turns": [turn_values(k) for k in range(1, task.turn)],
        "turn": task.turn,
        "category": task.category,
        "fence_id": code,
        **_format_context(rubric, structured),
    }


def _format_context(rubric: Rubric, structured: bool) -> dict[str, Any]:
    score = rubric.score_range
    return {
        "structured": structured,
        "labels": [{"value": label.value, "meaning": label.meaning} for label in rubric.labels],
        "score_low": score.low if score is not None else None,
        "score_high": score.high if score is not None else None,
    }


def _render(rubric: Rubric, which: str, source: str, context: Mapping[str, Any]) -> str:
    try:
        return compile_template(source).render(**context).strip() + "\n"
    except jinja2.TemplateError as exc:
        raise RubricError(f"rubric '{rubric.id}': {which}: {exc}") from exc


def render_messages(rubric: Rubric, task: JudgeTask, order: Order, *, structured: bool = False) -> list[ChatMessage]:
    """The system and user messages asking the judge about ``task`` in presentation ``order``.

    ``structured`` says the call will constrain the reply to the rubric's JSON schema, so the prompt asks
    for that JSON instead of a bracketed verdict line.
    """
    context = template_context(rubric, task, order, structured=structured)
    return [
        ChatMessage(role="system", content=_render(rubric, "system_template", rubric.system_template, context)),
        ChatMessage(role="user", content=_render(rubric, "user_template", rubric.user_template, context)),
    ]


def render_reask(
    rubric: Rubric, messages: Sequence[ChatMessage], judge_output: str, *, structured: bool = False
) -> list[ChatMessage]:
    """The conversation for the one re-ask: the first request, the unreadable reply, the format reminder."""
    reminder = _render(rubric, "reask_reminder", rubric.reask_reminder, _format_context(rubric, structured))
    return [
        *messages,
        ChatMessage(role="assistant", content=judge_output),
        ChatMessage(role="user", content=reminder),
    ]


ResponseFormatStyle = Literal["json_schema", "json_object"]


def schema_name(rubric: Rubric) -> str:
    """The rubric id as a structured-output schema name (letters, digits, ``_`` and ``-`` only)."""
    return "".join(ch if ch.isalnum() or ch in "_-" else "_" for ch in rubric.id)


def response_format_for(
    schema: dict[str, Any], name: str, style: ResponseFormatStyle = "json_schema"
) -> dict[str, Any]:
    """The ``response_format`` asking for ``schema``: OpenAI's ``json_schema``, or ``json_object`` with a schema
    (llama-cpp-python's server)."""
    if style == "json_object":
        return {"type": "json_object", "schema": schema}
    return {"type": "json_schema", "json_schema": {"name": name, "schema": schema, "strict": True}}


def response_format(rubric: Rubric, style: ResponseFormatStyle = "json_schema") -> dict[str, Any]:
    """The ``response_format`` asking for the rubric's JSON schema (as LiteLLM passes it on)."""
    return response_format_for(rubric.json_schema, schema_name(rubric), style)


def render_request_hash(messages: Sequence[ChatMessage], model: str, sampling: Mapping[str, Any]) -> str:
    """Content hash of a judge request: the exact messages, the model and the sampling parameters."""
    return content_hash(
        {
            "messages": [message.model_dump(mode="json") for message in messages],
            "model": model,
            "sampling": dict(sampling),
        }
    )
