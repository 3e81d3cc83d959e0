"""Deterministic graders: extract a response's final answer by a named rule and compare it with a gold answer.

Pure (no I/O, no store, no provider). The public surface::

    spec = parse_grader("grader:auto")            # or "grader:numeric@flexible"
    gold = GoldAnswer(type="number", answer=3)
    grade(spec, response_text, gold, prompt=question_text)  # -> Grade(outcome, extracted_answer, rule, span)

Beyond the agreed interface:

- ``grade`` takes an optional keyword ``prompt`` (the question text). With it, spans of the response that
  restate the question are ignored (a restated question is never graded from its own numbers), lettered option
  texts (``a) ...``) are read from the prompt for ``choice``, and a ``word`` answer named in a list in the prompt
  (``east, south, west, or north``) is read as one of those alternatives. Pass it whenever you have it.
- ``GoldAnswer.accept_fraction`` is ``bool | str``: the shared gold file writes the fraction text
  (``"35/36"``), which is validated to equal ``answer`` within tolerance.
- ``parse_grader`` and a grader/type mismatch raise ``judge.core.errors.InputError`` (field ``grader``) listing the
  known graders, rules or accepted types; ``ACCEPTED_TYPES`` says which types each grader grades.
- ``GraderSpec.version`` is the same for every grader: one hash of the code version and all rule tables.
"""

from judge.core.graders.grading import ACCEPTED_TYPES, GRADER_CODE_VERSION, code_version, grade, resolve
from judge.core.graders.spec import (
    KNOWN_ANSWER_TYPES,
    KNOWN_GRADERS,
    KNOWN_RULES,
    AnswerType,
    ExtractionRule,
    GoldAnswer,
    Grade,
    GradeOutcome,
    GraderSpec,
    parse_grader,
)

__all__ = [
    "ACCEPTED_TYPES",
    "GRADER_CODE_VERSION",
    "KNOWN_ANSWER_TYPES",
    "KNOWN_GRADERS",
    "KNOWN_RULES",
    "AnswerType",
    "ExtractionRule",
    "GoldAnswer",
    "Grade",
    "GradeOutcome",
    "GraderSpec",
    "code_version",
    "grade",
    "parse_grader",
    "resolve",
]
