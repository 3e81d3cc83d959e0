"""Rubrics: judge prompts as data (``rubrics/*.yaml``), validated, content-hashed and compiled.

A rubric file holds everything that decides how a judge is asked and how its reply is read: the Jinja2
system and user templates (rendered in an immutable sandbox), the verdict labels and what each means, the
JSON schema for structured output, the fallback regex and the re-ask reminder. ``Rubric.content_hash``
covers all of it, so any change of text gives a new hash, stored with every verdict.

Rubrics are found in ``$JUDGE_RUBRICS_DIR`` (one or more directories separated by ``os.pathsep``, searched
first) and then in the project's own directory: ``rubrics/`` of a checkout, else the copy installed as
``judge/_rubrics``.
"""

from __future__ import annotations

import json
import os
import re
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2
import jsonschema
import yaml
from jinja2.sandbox import ImmutableSandboxedEnvironment
from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_core import PydanticCustomError

import judge
from judge.core.errors import NotFoundError, RubricError
from judge.core.hashing import content_hash
from judge.core.types import Correctness, Frozen, Mode

RUBRICS_DIR_ENV = "JUDGE_RUBRICS_DIR"
REASON_FIELD = "reason"
VERDICT_FIELD = "verdict"
SCORE_FIELD = "score"
LABEL_GROUP = "label"


class Position(StrEnum):
    """Where a pairwise label points in the presented order: the first answer, the second, or neither."""

    FIRST = "first"
    SECOND = "second"
    TIE = "tie"


class RubricLabel(Frozen):
    """One verdict label the judge may emit, e.g. ``A``, ``A>>B`` or ``correct``.

    Pairwise labels carry a ``position`` (and for graded scales a ``strength``: 0 tie, 1 better, 2 much
    better); correctness labels carry the ``correctness`` they stand for.
    """

    value: str = Field(min_length=1, max_length=40)
    meaning: str = Field(min_length=1)
    position: Position | None = None
    strength: int | None = Field(default=None, ge=0, le=2)
    correctness: Correctness | None = None


class ScoreRange(Frozen):
    """Inclusive integer range of a single-answer score."""

    low: int = 1
    high: int = 10

    @model_validator(mode="after")
    def _ordered(self) -> ScoreRange:
        if self.low >= self.high:
            raise ValueError(f"low ({self.low}) must be below high ({self.high})")
        return self


def normalize_label(text: str) -> str:
    """Label text compared loosely: case-folded, without whitespace, underscores or hyphens."""
    return re.sub(r"[\s_\-]+", "", text).casefold()


@lru_cache(maxsize=1)
def template_environment() -> ImmutableSandboxedEnvironment:
    """The one Jinja2 environment rubric templates are compiled in: sandboxed, strict, no autoescape."""
    return ImmutableSandboxedEnvironment(
        undefined=jinja2.StrictUndefined, autoescape=False, trim_blocks=True, lstrip_blocks=True
    )


@lru_cache(maxsize=256)
def compile_template(source: str) -> jinja2.Template:
    """Compile a rubric template (cached by source text); raises jinja2.TemplateSyntaxError."""
    return template_environment().from_string(source)


@lru_cache(maxsize=256)
def compile_regex(pattern: str) -> re.Pattern[str]:
    """Compile a rubric's fallback regex (cached)."""
    return re.compile(pattern)


class Rubric(Frozen):
    """A judge prompt and its output contract, loaded from one YAML file."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]*$")
    version: int = Field(ge=1)
    mode: Mode
    description: str = Field(min_length=1)
    requires_reference: bool = False
    labels: tuple[RubricLabel, ...] = ()
    score_range: ScoreRange | None = None
    json_schema: dict[str, Any]
    fallback_regex: str
    reask_reminder: str
    system_template: str
    user_template: str

    @field_validator("system_template", "user_template", "reask_reminder")
    @classmethod
    def _template_compiles(cls, source: str) -> str:
        try:
            compile_template(source)
        except jinja2.TemplateSyntaxError as exc:
            raise PydanticCustomError(
                "template_syntax",
                "template syntax error at template line {line}: {problem}",
                {"line": exc.lineno, "problem": exc.message or "invalid syntax"},
            ) from exc
        return source

    @field_validator("fallback_regex")
    @classmethod
    def _regex_has_label_group(cls, pattern: str) -> str:
        try:
            compiled = compile_regex(pattern)
        except re.error as exc:
            raise ValueError(f"invalid regular expression: {exc}") from exc
        if LABEL_GROUP not in compiled.groupindex:
            raise ValueError(f"the regex needs one named group (?P<{LABEL_GROUP}>...)")
        return pattern

    @field_validator("json_schema")
    @classmethod
    def _schema_is_valid(cls, schema: dict[str, Any]) -> dict[str, Any]:
        try:
            jsonschema.Draft202012Validator.check_schema(schema)
        except jsonschema.SchemaError as exc:
            raise ValueError(f"not a valid JSON schema: {exc.message}") from exc
        if schema.get("type") != "object" or not isinstance(schema.get("properties"), dict):
            raise ValueError("must describe a JSON object with 'properties'")
        return schema

    @model_validator(mode="after")
    def _consistent(self) -> Rubric:
        if self.mode is Mode.SINGLE:
            self._check_single()
        else:
            self._check_labelled()
        return self

    def _check_single(self) -> None:
        if self.score_range is None:
            raise ValueError("score_range: required for a 'single' rubric")
        if self.labels:
            raise ValueError("labels: a 'single' rubric is scored on score_range and has no labels")
        score = self._schema_property(SCORE_FIELD)
        bounds = (score.get("type"), score.get("minimum"), score.get("maximum"))
        if bounds != ("integer", self.score_range.low, self.score_range.high):
            raise ValueError(
                f"json_schema: properties.{SCORE_FIELD} must be an integer from score_range "
                f"({self.score_range.low}..{self.score_range.high})"
            )

    def _check_labelled(self) -> None:
        if self.score_range is not None:
            raise ValueError(f"score_range: only a 'single' rubric has one, not a '{self.mode}' rubric")
        if len(self.labels) < 2:
            raise ValueError("labels: at least two labels are needed")
        normalized = [normalize_label(label.value) for label in self.labels]
        if len(set(normalized)) != len(normalized):
            raise ValueError("labels: two labels differ only in case, spaces, '_' or '-'")
        if self.mode is Mode.PAIRWISE:
            positions = [label.position for label in self.labels]
            if None in positions or set(positions) != set(Position):
                raise ValueError("labels: pairwise labels need a position, covering first, second and tie")
            strengths = [label.strength is None for label in self.labels]
            if any(strengths) and not all(strengths):
                raise ValueError("labels: give a strength to every pairwise label or to none")
        else:
            outcomes = [label.correctness for label in self.labels]
            if None in outcomes or len(set(outcomes)) != len(outcomes):
                raise ValueError("labels: each correctness label needs its own distinct correctness")
        verdict = self._schema_property(VERDICT_FIELD)
        if sorted(verdict.get("enum", [])) != sorted(label.value for label in self.labels):
            raise ValueError(f"json_schema: properties.{VERDICT_FIELD}.enum must list exactly the label values")

    def _schema_property(self, name: str) -> dict[str, Any]:
        properties: dict[str, Any] = self.json_schema["properties"]
        required = self.json_schema.get("required", [])
        for field in (REASON_FIELD, name):
            if not isinstance(properties.get(field), dict) or field not in required:
                raise ValueError(f"json_schema: '{field}' must be a required property")
        prop: dict[str, Any] = properties[name]
        return prop

    @property
    def content_hash(self) -> str:
        """SHA-256 of the canonical rubric content: every field, every text."""
        return content_hash(self.model_dump(mode="json"))

    @property
    def answer_field(self) -> str:
        """The JSON field that carries the judge's verdict: ``score`` for single rubrics, else ``verdict``."""
        return SCORE_FIELD if self.mode is Mode.SINGLE else VERDICT_FIELD

    def find_label(self, text: str) -> RubricLabel | None:
        """The label ``text`` names, exactly or up to case, spaces, '_' and '-'; None when none does."""
        for label in self.labels:
            if label.value == text:
                return label
        wanted = normalize_label(text)
        return next((label for label in self.labels if normalize_label(label.value) == wanted), None)

    def describe(self) -> str:
        """A readable account of the whole rubric, for ``judge rubrics show``."""
        lines = [
            f"{self.id}  version {self.version}  mode {self.mode}  sha256 {self.content_hash}",
            "",
            self.description.strip(),
            "",
            f"reference answer: {'required' if self.requires_reference else 'not used'}",
        ]
        if self.score_range is not None:
            lines.append(f"score: integer {self.score_range.low}..{self.score_range.high}")
        else:
            lines.append("labels:")
            for label in self.labels:
                outcome = label.position or label.correctness
                strength = f", strength {label.strength}" if label.strength is not None else ""
                lines.append(f"  {label.value:<18} {outcome}{strength}: {label.meaning}")
        lines += [
            f"verdict marker (read in verdict position only, see judge.core.parse): {self.fallback_regex}",
            "json schema: " + json.dumps(self.json_schema, sort_keys=True),
        ]
        for title, text in (
            ("system template", self.system_template),
            ("user template", self.user_template),
            ("re-ask reminder", self.reask_reminder),
        ):
            lines += ["", f"--- {title} ---", text.rstrip()]
        return "\n".join(lines) + "\n"


def default_rubrics_dir() -> Path:
    """The project's rubrics: ``rubrics/`` next to the package in a checkout, else the installed copy."""
    package = Path(judge.__file__).resolve().parent
    checkout = package.parent / "rubrics"
    return checkout if checkout.is_dir() else package / "_rubrics"


def rubric_dirs() -> list[Path]:
    """Directories searched for rubrics, in order: ``$JUDGE_RUBRICS_DIR`` entries, then the default."""
    extra = [Path(part).expanduser() for part in os.environ.get(RUBRICS_DIR_ENV, "").split(os.pathsep) if part]
    return [*extra, default_rubrics_dir()]


def _rubric_files() -> dict[str, Path]:
    """Rubric id (file stem) to file; an earlier directory shadows a later one."""
    found: dict[str, Path] = {}
    for directory in rubric_dirs():
        if not directory.is_dir():
            continue
        for path in sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")]):
            found.setdefault(path.stem, path)
    return found


def list_rubrics() -> list[Rubric]:
    """Every rubric found, sorted by id; an invalid file raises RubricError naming it."""
    return [load_rubric_file(path) for _, path in sorted(_rubric_files().items())]


def load_rubric(id_or_path: str | Path) -> Rubric:
    """Load a rubric by id (searched in ``rubric_dirs()``) or by the path of a YAML file."""
    candidate = Path(id_or_path)
    if candidate.suffix in (".yaml", ".yml") or len(candidate.parts) > 1:
        if not candidate.is_file():
            raise NotFoundError(f"rubric file {candidate} does not exist")
        return load_rubric_file(candidate)
    files = _rubric_files()
    path = files.get(str(id_or_path))
    if path is None:
        known = ", ".join(sorted(files)) or "none"
        raise NotFoundError(f"unknown rubric '{id_or_path}' (available: {known})")
    return load_rubric_file(path)


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def load_rubric_file(path: Path) -> Rubric:
    """Parse and validate one rubric file; every problem is a RubricError naming file, line and field."""
    name = _display(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise RubricError(f"{name}: cannot read: {exc.strerror}") from exc
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{name}:{mark.line + 1}" if mark is not None else name
        raise RubricError(f"{where}: invalid YAML: {getattr(exc, 'problem', None) or exc}") from exc
    if not isinstance(data, dict) or root is None:
        raise RubricError(f"{name}: a rubric file must be a YAML mapping")
    try:
        rubric = Rubric.model_validate(data)
    except ValidationError as exc:
        raise RubricError(_first_error(name, root, exc)) from exc
    if rubric.id != path.stem:
        raise RubricError(f"{name}: id: '{rubric.id}' must match the file name '{path.stem}'")
    return rubric


def _first_error(name: str, root: yaml.Node, exc: ValidationError) -> str:
    """``file:line: field.path: message`` for the first validation error."""
    error = exc.errors(include_url=False)[0]
    loc = tuple(error["loc"])
    message = str(error["msg"]).removeprefix("Value error, ")
    if not loc:  # cross-field checks name their field at the start of the message
        head, sep, rest = message.partition(": ")
        if sep and head in Rubric.model_fields:
            loc, message = (head,), rest
    node, line, exact = _node_at(root, loc)
    if error["type"] == "template_syntax" and exact and isinstance(node, yaml.ScalarNode):
        block = node.style in ("|", ">")
        line = node.start_mark.line + int(error["ctx"]["line"]) + (1 if block else 0)
    field = ".".join(str(part) for part in loc)
    return f"{name}:{line}: {field}: {message}" if field else f"{name}:{line}: {message}"


def _node_at(node: yaml.Node, loc: tuple[Any, ...]) -> tuple[yaml.Node, int, bool]:
    """The YAML node at a validation location, or its deepest existing ancestor; its 1-based line (the
    key's line for a mapping entry); and whether the node is exactly at ``loc``."""
    line = node.start_mark.line + 1
    for key in loc:
        if isinstance(node, yaml.MappingNode):
            entry = next(((k, v) for k, v in node.value if getattr(k, "value", None) == key), None)
            if entry is None:
                return node, line, False
            line, node = entry[0].start_mark.line + 1, entry[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            node = node.value[key]
            line = node.start_mark.line + 1
        else:
            return node, line, False
    return node, line, True
