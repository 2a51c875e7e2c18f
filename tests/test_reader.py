"""The strict YAML reader: what it keeps as text, what it refuses, and line numbers."""

from __future__ import annotations

from pathlib import Path

import pytest

from kg.reader import MAX_FILE_BYTES, read_yaml


def read(tmp_path: Path, text: str | bytes):
    path = tmp_path / "entry.yaml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    return read_yaml(path, "entry.yaml")


def only_problem(tmp_path: Path, text: str | bytes) -> str:
    doc, problems = read(tmp_path, text)
    assert doc is None
    assert len(problems) == 1
    return str(problems[0])


def test_yaml_11_words_and_dates_stay_text(tmp_path: Path) -> None:
    doc, problems = read(tmp_path, "a: no\nb: NO\nc: yes\nd: 2023-03-13\ne: 1:30\nf: off\n")
    assert problems == []
    assert doc.value == {"a": "no", "b": "NO", "c": "yes", "d": "2023-03-13", "e": "1:30", "f": "off"}


def test_yaml_12_core_scalars_are_typed(tmp_path: Path) -> None:
    doc, _ = read(tmp_path, "a: true\nb: false\nc: 7\nd: 1.10\nf: .nan\ng: -7\nh: '7'\n")
    assert doc.value["a"] is True and doc.value["b"] is False
    assert doc.value["c"] == 7 and doc.value["d"] == 1.1
    assert doc.value["f"] != doc.value["f"]  # NaN
    assert doc.value["g"] == -7 and doc.value["h"] == "7"


def test_raw_text_of_scalars_is_kept_for_messages(tmp_path: Path) -> None:
    doc, _ = read(tmp_path, "version: 1.10\nid: 0123\n")
    assert doc.raw[("version",)] == "1.10"
    assert doc.raw[("id",)] == "0123"


def test_lines_are_recorded_for_nested_paths(tmp_path: Path) -> None:
    doc, _ = read(tmp_path, "id: x\nderived_from:\n  - id: a\n    relation: finetune\n  - b\n")
    assert doc.line_of(("derived_from",)) == 2
    assert doc.line_of(("derived_from", 0)) == 3
    assert doc.line_of(("derived_from", 0, "relation")) == 4
    assert doc.line_of(("derived_from", 1)) == 5
    assert doc.line_of(("derived_from", 7, "id")) == 2  # falls back to the nearest known parent


def test_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    doc, problems = read(tmp_path, "\ufeffname: 羊驼\n".encode("utf-8"))
    assert problems == [] and doc.value == {"name": "羊驼"}


def test_alias_bomb_is_refused_before_expansion(tmp_path: Path) -> None:
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(8)
    )
    assert only_problem(tmp_path, bomb) == "entry.yaml:1: anchors are not allowed (write the value out in full)"


def test_merge_key_is_refused(tmp_path: Path) -> None:
    assert only_problem(tmp_path, "a: 1\n<<: {b: 2}\n") == "entry.yaml:2: merge keys ('<<') are not allowed"


def test_deep_nesting_is_an_error_not_a_crash(tmp_path: Path) -> None:
    message = only_problem(tmp_path, "a: " + "[" * 3000 + "]" * 3000 + "\n")
    assert message == "entry.yaml:1: invalid YAML at column 1003: exceeded maximum nesting depth while increasing flow level"


def test_oversized_file_is_refused(tmp_path: Path) -> None:
    message = only_problem(tmp_path, "a: " + "x" * MAX_FILE_BYTES + "\n")
    assert message == f"entry.yaml:1: file is {MAX_FILE_BYTES + 4:,} bytes; an entry may be at most {MAX_FILE_BYTES:,}"


@pytest.mark.parametrize(
    ("escaped", "code"),
    [("\\x00", "U+0000"), ("\\u202e", "U+202E"), ("\\u200b", "U+200B"), ("\\x85", "U+0085")],
)
def test_control_and_invisible_characters_are_refused(tmp_path: Path, escaped: str, code: str) -> None:
    message = only_problem(tmp_path, f'id: x\nname: "a{escaped}b"\n')
    assert message == f"entry.yaml:2: name: contains the invisible or control character {code}"


def test_comment_only_file_is_empty(tmp_path: Path) -> None:
    assert only_problem(tmp_path, "# nothing here\n") == "entry.yaml:1: empty entry file"


@pytest.mark.parametrize("empty", ["", " ~", " null", " Null"])
def test_empty_values_are_refused(tmp_path: Path, empty: str) -> None:
    message = only_problem(tmp_path, f"id: x\nlicense:{empty}\n")
    assert message == "entry.yaml:2: license: empty value (leave the field out when it is unknown)"


def test_lone_surrogate_escape_is_refused(tmp_path: Path) -> None:
    message = only_problem(tmp_path, 'id: x\nname: "a\\ud800b"\n')
    assert message == "entry.yaml:2: invalid YAML at column 11: found invalid Unicode character escape code while parsing a quoted scalar"
