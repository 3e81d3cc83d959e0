"""The graders' records: gold answers, grader specs and grades (frozen, validated, no I/O)."""

from __future__ import annotations

import math
import re
from enum import StrEnum

from pydantic import Field, model_validator

from judge.core.errors import InputError
from judge.core.graders.numerals import parse_number_text
from judge.core.types import Frozen


class AnswerType(StrEnum):
    """How a gold answer is compared with a response's final answer."""

    NUMBER = "number"
    CHOICE = "choice"
    WORD = "word"
    ALL_OF = "all_of"
    REGEX = "regex"
    EXACT = "exact"


class ExtractionRule(StrEnum):
    """A named way of finding a response's final answer.

    ``strict``: only explicit final-answer statements ("the answer is", "Final answer:", ``\\boxed{}``, a bold
    answer, a closing "so/therefore ... is X" statement). ``flexible``: the last answer-like item in the final
    paragraph of the response.
    """

    STRICT = "strict"
    FLEXIBLE = "flexible"


class GradeOutcome(StrEnum):
    """Correctness of one response against its gold answer, as a deterministic grader sees it."""

    CORRECT = "correct"
    INCORRECT = "incorrect"
    NO_ANSWER = "no_answer"


KNOWN_ANSWER_TYPES: tuple[str, ...] = tuple(t.value for t in AnswerType)
KNOWN_RULES: tuple[str, ...] = tuple(r.value for r in ExtractionRule)


class GoldAnswer(Frozen):
    """One gold answer, validated (schema of ``data/mt_bench/gold_answers.jsonl``).

    ``answer`` is a number (or a numeric string such as ``"35/36"``) for ``number``, an option letter or text
    for ``choice``, a word or short phrase for ``word``/``exact``, a list of parts for ``all_of``, and a display
    text for ``regex`` (whose ``pattern`` is matched). ``tolerance`` is absolute. ``accept_fraction`` may be a
    bool or the fraction text itself (e.g. ``"35/36"``, which must equal ``answer`` within tolerance): either
    way equivalent fractions are accepted unless it is ``False``.
    """

    type: AnswerType
    answer: str | int | float | list[str]
    tolerance: float | None = None
    accept_fraction: bool | str = True
    accept_percent: bool = False
    choices: list[str] | None = None
    variants: list[str] = Field(default_factory=list)
    pattern: str | None = None
    explanation: str | None = None

    @model_validator(mode="after")
    def _consistent(self) -> GoldAnswer:
        if self.tolerance is not None and (not math.isfinite(self.tolerance) or self.tolerance < 0):
            raise ValueError("tolerance must be a finite number >= 0")
        if self.type is AnswerType.NUMBER:
            value = self.number_value()
            if value is None:
                raise ValueError(f"a number answer must be a number or a fraction text, got {self.answer!r}")
            if isinstance(self.accept_fraction, str):
                fraction = parse_number_text(self.accept_fraction)
                if fraction is None or not self.number_matches(fraction):
                    raise ValueError(f"accept_fraction {self.accept_fraction!r} does not equal answer {self.answer!r}")
        elif self.type is AnswerType.ALL_OF:
            if not isinstance(self.answer, list) or not self.answer or not all(p.strip() for p in self.answer):
                raise ValueError("an all_of answer must be a non-empty list of non-empty parts")
        else:
            if not isinstance(self.answer, str | int) or isinstance(self.answer, bool) or not str(self.answer).strip():
                raise ValueError(f"a {self.type.value} answer must be a non-empty text")
        if self.type is AnswerType.CHOICE and self.choices is not None:
            folded = [c.strip().casefold() for c in self.choices]
            if not folded or not all(folded) or len(set(folded)) != len(folded):
                raise ValueError("choices must be non-empty and distinct")
            if str(self.answer).strip().casefold() not in folded:
                raise ValueError(f"answer {self.answer!r} is not one of the choices {self.choices}")
        if self.type is AnswerType.REGEX:
            source = self.pattern if self.pattern is not None else str(self.answer)
            try:
                re.compile(source)
            except re.error as exc:
                raise ValueError(f"pattern does not compile: {exc}") from exc
        elif self.pattern is not None:
            raise ValueError("pattern is only used by the regex answer type")
        return self

    def number_value(self) -> float | None:
        """The numeric value of a ``number`` answer (``None`` when it is not numeric)."""
        if isinstance(self.answer, bool | list):
            return None
        if isinstance(self.answer, int | float):
            return float(self.answer) if math.isfinite(self.answer) else None
        return parse_number_text(self.answer)

    def number_matches(self, value: float) -> bool:
        """Whether ``value`` equals the gold number within tolerance (a tiny relative slack when none is set)."""
        gold = self.number_value()
        if gold is None:
            return False
        tolerance = self.tolerance if self.tolerance is not None else 1e-9 * max(1.0, abs(gold))
        return abs(value - gold) <= tolerance + 1e-12

    @property
    def regex_source(self) -> str:
        """The pattern a ``regex`` answer is matched with."""
        return self.pattern if self.pattern is not None else str(self.answer)


class Grade(Frozen):
    """One response graded: the outcome, the extracted final answer, the rule that found it and its span.

    ``extracted_answer``, ``extraction_rule`` and ``span`` are ``None`` iff the outcome is ``no_answer``.
    """

    outcome: GradeOutcome
    extracted_answer: str | None
    extraction_rule: str | None
    span: tuple[int, int] | None


KNOWN_GRADERS: tuple[str, ...] = ("auto", "numeric", "choice", "word", "all_of", "exact", "regex")

_GRADER_SPEC = re.compile(r"^grader:(?P<name>[a-z_]+)(?:@(?P<rule>[a-z]+))?$")


class GraderSpec(Frozen):
    """A deterministic grader and, optionally, the one extraction rule it uses (``None``: strict, then flexible)."""

    name: str
    rule: ExtractionRule | None = None

    @model_validator(mode="after")
    def _known(self) -> GraderSpec:
        if self.name not in KNOWN_GRADERS:
            raise ValueError(f"unknown grader {self.name!r}; known graders: {', '.join(KNOWN_GRADERS)}")
        return self

    @property
    def id(self) -> str:
        """``grader:NAME`` or ``grader:NAME@RULE``."""
        return f"grader:{self.name}" if self.rule is None else f"grader:{self.name}@{self.rule.value}"

    @property
    def version(self) -> str:
        """Short hash of the grading code's version and rule tables, for verdict keys."""
        from judge.core.graders.grading import code_version

        return code_version()


def parse_grader(spec: str) -> GraderSpec:
    """Read ``grader:NAME[@RULE]``; an unknown grader or rule is an ``InputError`` listing the known ones."""
    text = spec.strip()
    match = _GRADER_SPEC.match(text)
    if match is None:
        raise InputError(
            f"{spec!r} is not a grader; write grader:NAME or grader:NAME@RULE with NAME one of "
            f"{', '.join(KNOWN_GRADERS)} and RULE one of {', '.join(KNOWN_RULES)}",
            field="grader",
        )
    name, rule = match["name"], match["rule"]
    if name not in KNOWN_GRADERS:
        raise InputError(f"unknown grader {name!r}; known graders: {', '.join(KNOWN_GRADERS)}", field="grader")
    if rule is not None and rule not in KNOWN_RULES:
        raise InputError(f"unknown extraction rule {rule!r}; known rules: {', '.join(KNOWN_RULES)}", field="grader")
    return GraderSpec(name=name, rule=ExtractionRule(rule) if rule is not None else None)
