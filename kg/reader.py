"""A strict YAML reader that keeps line numbers.

PyYAML's ordinary loaders are too forgiving for a curated catalog: duplicate
keys silently overwrite, `no` becomes False (YAML 1.1), `1.10` becomes 1.1,
dates turn into `datetime.date` (and a bad date raises with no line), and
anchors allow alias bombs. So we only let PyYAML *compose* the node tree, then
turn nodes into plain values ourselves:

* plain scalars follow the YAML 1.2 core schema: `true`/`false`, integers,
  floats and null; everything else (`no`, `2023-03-13`, `NO`) stays a string;
* anchors, aliases, merge keys, tags, several documents and duplicate keys
  are errors;
* every value's line is recorded under its path, e.g. ("derived_from", 0, "id"),
  so later stages can report `file:line` for any field.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from kg.errors import Problem

MAX_FILE_BYTES = 1_000_000

Path_ = tuple[str | int, ...]

_NULL = re.compile(r"^(~|null|Null|NULL|)$")
_BOOL = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
_INT = re.compile(r"^([-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$")
_FLOAT = re.compile(r"^([-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?|[-+]?\.(inf|Inf|INF)|\.(nan|NaN|NAN))$")


@dataclass
class Document:
    """A file's value with the line of every path in it, and the scalars' source text."""

    value: Any
    lines: dict[Path_, int] = field(default_factory=dict)
    raw: dict[Path_, str] = field(default_factory=dict)

    def line_of(self, path: Path_) -> int:
        """The line of `path`, or of its nearest enclosing value that has one."""
        path = tuple(path)
        while path and path not in self.lines:
            path = path[:-1]
        return self.lines.get(path, 1)


class _Rejected(Exception):
    def __init__(self, mark: yaml.Mark | None, message: str):
        super().__init__(message)
        self.line = mark.line + 1 if mark else 1
        self.message = message


class _Composer(yaml.SafeLoader):
    """PyYAML's composer with anchors, aliases and tags refused at the event."""

    def compose_node(self, parent, index):  # noqa: ANN001 - PyYAML's signature
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            raise _Rejected(event.start_mark, "aliases are not allowed (write the value out in full)")
        if getattr(event, "anchor", None):
            raise _Rejected(event.start_mark, "anchors are not allowed (write the value out in full)")
        tag = getattr(event, "tag", None)
        if tag not in (None, "!"):
            raise _Rejected(event.start_mark, f"tags are not allowed (found '{tag}')")
        return super().compose_node(parent, index)


def read_yaml(path: Path, shown: str) -> tuple[Document | None, list[Problem]]:
    """Read one entry file; return its document, or None and the problems found.

    `shown` is the path as it should appear in messages.
    """
    try:
        data = path.read_bytes()
    except OSError as exc:
        return None, [Problem(shown, 1, "", f"cannot read file: {exc.strerror}")]
    if len(data) > MAX_FILE_BYTES:
        return None, [Problem(shown, 1, "", f"file is {len(data):,} bytes; an entry may be at most {MAX_FILE_BYTES:,}")]
    text, problem = _decode(data, shown)
    if problem:
        return None, [problem]
    try:
        node = _compose(text)
    except _Rejected as exc:
        return None, [Problem(shown, exc.line, "", exc.message)]
    except yaml.MarkedYAMLError as exc:
        return None, [_yaml_problem(exc, shown, text)]
    except RecursionError:
        return None, [Problem(shown, 1, "", "nesting is too deep")]
    if node is None:
        return None, [Problem(shown, 1, "", "empty entry file")]
    doc = Document(None)
    problems: list[Problem] = []
    doc.value = _to_value(node, (), doc, problems, shown)
    if problems:
        return None, problems
    return doc, []


def _decode(data: bytes, shown: str) -> tuple[str, Problem | None]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        hint = ""
        try:
            data.decode("gb18030")
            hint = "looks like GBK/GB18030; save it as UTF-8"
        except UnicodeDecodeError:
            pass
        return "", Problem(shown, line, "", f"file is not UTF-8 (bad byte 0x{data[exc.start]:02x})", hint)
    return text, None


def _compose(text: str) -> yaml.Node | None:
    loader = _Composer(text)
    try:
        if not loader.check_node():
            return None
        node = loader.compose_document()
        if loader.check_node():
            event = loader.peek_event()
            raise _Rejected(event.start_mark, "one entry per file: found a second YAML document")
        return node
    finally:
        loader.dispose()


def _yaml_problem(exc: yaml.MarkedYAMLError, shown: str, text: str) -> Problem:
    mark = exc.problem_mark or exc.context_mark
    line = mark.line + 1 if mark else 1
    column = mark.column + 1 if mark else 1
    problem = exc.problem or str(exc)
    if "'\\t'" in problem or (mark is not None and _char_at(text, mark) == "\t"):
        return Problem(shown, line, "", "tabs are not allowed for indentation", "indent with spaces")
    context = f" {exc.context}" if exc.context else ""
    return Problem(shown, line, "", f"invalid YAML at column {column}: {problem}{context}")


def _char_at(text: str, mark: yaml.Mark) -> str:
    return text[mark.index] if 0 <= mark.index < len(text) else ""


def _to_value(node: yaml.Node, path: Path_, doc: Document, problems: list[Problem], shown: str) -> Any:
    line = node.start_mark.line + 1
    doc.lines.setdefault(path, line)
    if isinstance(node, yaml.MappingNode):
        result: dict[str, Any] = {}
        first_line: dict[str, int] = {}
        for key_node, value_node in node.value:
            key_line = key_node.start_mark.line + 1
            if not isinstance(key_node, yaml.ScalarNode):
                problems.append(Problem(shown, key_line, dotted(path), "a key must be a plain name"))
                continue
            key = key_node.value
            if key == "<<" and key_node.style is None:
                problems.append(Problem(shown, key_line, dotted(path), "merge keys ('<<') are not allowed"))
                continue
            if key in first_line:
                problems.append(
                    Problem(shown, key_line, dotted(path + (key,)), f"duplicate key (first given at line {first_line[key]})")
                )
                continue
            first_line[key] = key_line
            doc.lines[path + (key,)] = key_line
            result[key] = _to_value(value_node, path + (key,), doc, problems, shown)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_to_value(item, path + (i,), doc, problems, shown) for i, item in enumerate(node.value)]
    doc.raw[path] = node.value
    bad = _bad_character(node.value)
    if bad:
        problems.append(Problem(shown, line, dotted(path), f"contains the invisible or control character {bad}"))
    return _resolve(node) if node.style is None else node.value


def _resolve(node: yaml.ScalarNode) -> Any:
    """Plain scalars as YAML 1.2's core schema reads them (never dates, never yes/no)."""
    text = node.value
    if _NULL.match(text):
        return None
    if text in _BOOL:
        return _BOOL[text]
    if _INT.match(text):
        return int(text, 0) if text.startswith(("0o", "0x")) else int(text)
    if _FLOAT.match(text):
        special = text.lstrip("+-").lower()
        if special in (".inf", ".nan"):
            return float(("-" if text.startswith("-") else "") + special[1:])
        return float(text)
    return text


def _bad_character(text: str) -> str:
    """Name the first character that must not appear in catalog text, if any."""
    for ch in text:
        if ch in "\n\t":
            continue
        category = unicodedata.category(ch)
        if category in ("Cc", "Cf", "Cs", "Co", "Zl", "Zp"):
            return f"U+{ord(ch):04X}"
    return ""


def dotted(path: Path_) -> str:
    """('derived_from', 0, 'id') -> 'derived_from[0].id'."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out
