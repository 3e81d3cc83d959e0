"""Rubric files: the shipped set, content hashing, the loader's search path and its error messages."""

from __future__ import annotations

from pathlib import Path

import pytest

import judge
from judge.core.errors import NotFoundError, RubricError
from judge.core.rubrics import (
    RUBRICS_DIR_ENV,
    Position,
    Rubric,
    default_rubrics_dir,
    list_rubrics,
    load_rubric,
    load_rubric_file,
)
from judge.core.types import Correctness, Mode

SHIPPED = {
    "pairwise": Mode.PAIRWISE,
    "pairwise-5": Mode.PAIRWISE,
    "pairwise-reference": Mode.PAIRWISE,
    "single": Mode.SINGLE,
    "single-reference": Mode.SINGLE,
    "correctness": Mode.CORRECTNESS,
}


@pytest.fixture
def pairwise_text() -> str:
    return (default_rubrics_dir() / "pairwise.yaml").read_text(encoding="utf-8")


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / f"{name}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def line_of(text: str, fragment: str) -> int:
    """1-based line number of the first line containing ``fragment``."""
    return next(i for i, line in enumerate(text.splitlines(), start=1) if fragment in line)


def test_shipped_rubrics_load_with_their_modes() -> None:
    rubrics = list_rubrics()
    assert [r.id for r in rubrics] == sorted(SHIPPED)
    assert {r.id: r.mode for r in rubrics} == SHIPPED
    assert {r.id for r in rubrics if r.requires_reference} == {
        "pairwise-reference",
        "single-reference",
        "correctness",
    }
    assert len({r.content_hash for r in rubrics}) == len(rubrics)


def test_pairwise_labels_map_to_positions() -> None:
    three = load_rubric("pairwise")
    assert {label.value: label.position for label in three.labels} == {
        "A": Position.FIRST,
        "B": Position.SECOND,
        "tie": Position.TIE,
    }
    five = load_rubric("pairwise-5")
    assert {label.value: (label.position, label.strength) for label in five.labels} == {
        "A>>B": (Position.FIRST, 2),
        "A>B": (Position.FIRST, 1),
        "A=B": (Position.TIE, 0),
        "B>A": (Position.SECOND, 1),
        "B>>A": (Position.SECOND, 2),
    }


def test_correctness_and_single_contracts() -> None:
    correctness = load_rubric("correctness")
    # every grade but no_answer, which only a deterministic grader gives (it found no answer to extract)
    assert {label.correctness for label in correctness.labels} == set(Correctness) - {Correctness.NO_ANSWER}
    assert correctness.json_schema["required"] == ["reason", "verdict"]
    single = load_rubric("single")
    assert single.score_range is not None
    assert (single.score_range.low, single.score_range.high) == (1, 10)
    assert single.json_schema["properties"]["score"]["type"] == "integer"
    assert single.answer_field == "score" and correctness.answer_field == "verdict"


def test_find_label_is_loose_only_about_case_and_spacing() -> None:
    five = load_rubric("pairwise-5")
    assert five.find_label("A >> B") is not None and five.find_label("A >> B").value == "A>>B"  # type: ignore[union-attr]
    assert five.find_label("a>b").value == "A>B"  # type: ignore[union-attr]
    assert five.find_label("A>>>B") is None
    correctness = load_rubric("correctness")
    assert correctness.find_label("Partially correct").value == "partially_correct"  # type: ignore[union-attr]
    assert correctness.find_label("mostly correct") is None


def test_load_by_path_and_unknown_id(tmp_path: Path, pairwise_text: str) -> None:
    path = write(tmp_path, "pairwise", pairwise_text)
    assert load_rubric(path) == load_rubric("pairwise")
    with pytest.raises(NotFoundError, match=r"unknown rubric 'nope' \(available: correctness, pairwise"):
        load_rubric("nope")
    with pytest.raises(NotFoundError, match="does not exist"):
        load_rubric(tmp_path / "missing.yaml")


@pytest.mark.parametrize(
    "field", ["description", "system_template", "user_template", "reask_reminder", "fallback_regex"]
)
def test_content_hash_changes_with_any_text(field: str) -> None:
    rubric = load_rubric("pairwise")
    changed = rubric.model_copy(update={field: getattr(rubric, field) + " "})
    assert changed.content_hash != rubric.content_hash
    assert load_rubric("pairwise").content_hash == rubric.content_hash


def test_content_hash_covers_labels_and_schema() -> None:
    rubric = load_rubric("pairwise")
    relabelled = rubric.model_copy(
        update={"labels": (rubric.labels[0].model_copy(update={"meaning": "A wins."}), *rubric.labels[1:])}
    )
    schema = {**rubric.json_schema, "description": "changed"}
    assert relabelled.content_hash != rubric.content_hash
    assert rubric.model_copy(update={"json_schema": schema}).content_hash != rubric.content_hash
    assert rubric.model_copy(update={"version": 2}).content_hash != rubric.content_hash


def test_env_dir_adds_and_shadows_rubrics(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pairwise_text: str) -> None:
    write(tmp_path, "house-style", pairwise_text.replace("id: pairwise\n", "id: house-style\n"))
    write(tmp_path, "pairwise", pairwise_text.replace("version: 1\n", "version: 7\n"))
    monkeypatch.setenv(RUBRICS_DIR_ENV, str(tmp_path))
    ids = [r.id for r in list_rubrics()]
    assert "house-style" in ids and "single" in ids
    assert load_rubric("pairwise").version == 7


def test_describe_shows_everything() -> None:
    rubric = load_rubric("pairwise-5")
    text = rubric.describe()
    assert rubric.content_hash in text
    assert "A>>B" in text and "strength 2" in text
    assert rubric.system_template.strip().splitlines()[0] in text
    assert "--- user template ---" in text and "--- re-ask reminder ---" in text
    assert "score: integer 1..10" in load_rubric("single").describe()


def expect_error(tmp_path: Path, name: str, text: str) -> str:
    path = write(tmp_path, name, text)
    with pytest.raises(RubricError) as caught:
        load_rubric_file(path)
    return str(caught.value)


def test_missing_label_value_names_file_line_and_field(tmp_path: Path, pairwise_text: str) -> None:
    text = pairwise_text.replace("  - value: B\n", "  - valu: B\n")
    message = expect_error(tmp_path, "pairwise", text)
    assert message.startswith(f"{tmp_path / 'pairwise.yaml'}:{line_of(text, 'valu: B')}: labels.1.value: ")
    assert "Field required" in message


def test_wrong_mode_names_field(tmp_path: Path, pairwise_text: str) -> None:
    text = pairwise_text.replace("mode: pairwise", "mode: duel")
    message = expect_error(tmp_path, "pairwise", text)
    assert f"pairwise.yaml:{line_of(text, 'mode: duel')}: mode: " in message


def test_template_syntax_error_names_file_line(tmp_path: Path, pairwise_text: str) -> None:
    text = pairwise_text.replace("  Assistant B's answer:\n  {{ answer_second }}", "  {% if %}\n  {{ answer_second }}")
    message = expect_error(tmp_path, "pairwise", text)
    assert f"pairwise.yaml:{line_of(text, '{% if %}')}: user_template: template syntax error" in message


def test_regex_without_label_group(tmp_path: Path, pairwise_text: str) -> None:
    text = pairwise_text.replace("(?P<label>A|B|tie)", "(A|B|tie)")
    message = expect_error(tmp_path, "pairwise", text)
    assert f"pairwise.yaml:{line_of(text, 'fallback_regex')}: fallback_regex: " in message
    assert "(?P<label>...)" in message


def test_schema_enum_must_match_labels(tmp_path: Path, pairwise_text: str) -> None:
    text = pairwise_text.replace("enum: [A, B, tie]", "enum: [A, B, draw]")
    message = expect_error(tmp_path, "pairwise", text)
    assert f"pairwise.yaml:{line_of(text, 'json_schema:')}: json_schema: properties.verdict.enum" in message


def test_pairwise_needs_all_positions(tmp_path: Path, pairwise_text: str) -> None:
    text = pairwise_text.replace("    position: tie\n", "")
    message = expect_error(tmp_path, "pairwise", text)
    assert f"pairwise.yaml:{line_of(text, 'labels:')}: labels: pairwise labels need a position" in message


def test_single_needs_score_range(tmp_path: Path) -> None:
    text = (default_rubrics_dir() / "single.yaml").read_text(encoding="utf-8")
    text = text.replace("score_range:\n  low: 1\n  high: 10\n", "")
    assert "score_range: required" in expect_error(tmp_path, "single", text)


def test_id_must_match_file_name_and_yaml_must_parse(tmp_path: Path, pairwise_text: str) -> None:
    assert "id: 'pairwise' must match the file name 'other'" in expect_error(tmp_path, "other", pairwise_text)
    broken = pairwise_text.replace("mode: pairwise", "mode: [pairwise")
    assert "invalid YAML" in expect_error(tmp_path, "pairwise", broken)
    assert "must be a YAML mapping" in expect_error(tmp_path, "pairwise", "- just\n- a list\n")


def test_rubric_model_rejects_inconsistent_score_range() -> None:
    data = load_rubric("single").model_dump()
    data["score_range"] = {"low": 1, "high": 5}
    with pytest.raises(ValueError, match="integer from score_range"):
        Rubric.model_validate(data)


def test_installed_copy_is_used_outside_a_checkout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    installed = tmp_path / "site-packages" / "judge"
    (installed / "_rubrics").mkdir(parents=True)
    monkeypatch.setattr(judge, "__file__", str(installed / "__init__.py"))
    assert default_rubrics_dir() == (installed / "_rubrics").resolve()
    checkout = tmp_path / "site-packages" / "rubrics"
    checkout.mkdir()
    assert default_rubrics_dir() == checkout.resolve()
