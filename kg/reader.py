"""A strict YAML reader that keeps line numbers.

PyYAML's ordinary loaders are too forgiving for a curated catalog: duplicate
keys silently overwrite, `no` becomes False (YAML 1.1), `1.10` becomes 1.1,
dates turn into `datetime.date` (and a bad date raises with no line), and
anchors allow alias bombs. So we take only the *event stream* from libyaml
(PyYAML's C parser, several times faster than its Python one) and build plain
values from it ourselves:

* plain scalars follow the YAML 1.2 core schema: `true`/`false`, integers and
  floats; everything else (`no`, `2023-03-13`, `NO`) stays a string;
* anchors, aliases, merge keys, tags, empty values, several documents and
  duplicate keys are errors;
* every value's line is recorded under its path, e.g. ("derived_from", 0, "id"),
  so later stages can report `file:line` for any field.
"""

from __future__ import annotations

import os
import re
import stat
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import yaml

from kg.errors import Problem

MAX_FILE_BYTES = 1_000_000
# Characters YAML refuses unescaped (its reader raises without a line): C0 and
# C1 controls other than tab, newline and carriage return, and DEL.
RAW_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x84\x86-\x9f]")
# libyaml when PyYAML was built with it (its PyPI wheels are); else the Python parser.
_PARSER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

Path_ = tuple[str | int, ...]

_NULL = re.compile(r"^(~|null|Null|NULL|)$")
_BOOL = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
_INT = re.compile(r"^([-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$")
_FLOAT = re.compile(r"^([-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?|[-+]?\.(inf|Inf|INF)|\.(nan|NaN|NAN))$")


@dataclass
class Document:
    """A file's value with the line of every path in it, and the scalars' source text."""

    value: Any = None
    lines: dict[Path_, int] = field(default_factory=dict)
    raw: dict[Path_, str] = field(default_factory=dict)

    def line_of(self, path: Path_) -> int:
        """The line of `path`, or of its nearest enclosing value that has one."""
        path = tuple(path)
        while path and path not in self.lines:
            path = path[:-1]
        return self.lines.get(path, 1)


class _Rejected(Exception):
    """A construct we refuse outright; the rest of the file is not read."""

    def __init__(self, mark: yaml.Mark, message: str):
        super().__init__(message)
        self.line = mark.line + 1
        self.message = message


class UnreadableFile(Exception):
    """A path that is not a regular file, or is larger than its reader allows; `str()` says which."""


def open_regular(path: Path, limit: int | None = None, what: str = "a file read here") -> int:
    """A descriptor of `path` for reading, once it is known to be a regular file of at most `limit`
    bytes (`what` names such a file in the message); raises UnreadableFile (or OSError) otherwise.

    Opened without blocking and checked on the descriptor itself: a FIFO or a device
    (/dev/zero) is never read and never hangs the command, and nothing can be put in
    the file's place between the check and the read.
    """
    handle = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    info = os.fstat(handle)
    message = ""
    if stat.S_ISDIR(info.st_mode):
        message = "is a folder; a file was expected here"
    elif not stat.S_ISREG(info.st_mode):
        message = "not a regular file (a device, a pipe or a socket)"
    elif limit is not None and info.st_size > limit:
        message = f"file is {info.st_size:,} bytes; {what} may be at most {limit:,}"
    if message:
        os.close(handle)
        raise UnreadableFile(message)
    os.set_blocking(handle, True)
    return handle


def read_regular(path: Path, limit: int | None = None, what: str = "a file read here") -> bytes:
    """The bytes of `path` after `open_regular`'s checks (a file that grew since is still cut at `limit`)."""
    with os.fdopen(open_regular(path, limit, what), "rb") as file:
        data = file.read() if limit is None else file.read(limit + 1)
    if limit is not None and len(data) > limit:
        raise UnreadableFile(f"file is over {limit:,} bytes; {what} may be at most {limit:,}")
    return data


def read_yaml(path: Path, shown: str) -> tuple[Document | None, list[Problem]]:
    """Read one entry file; return its document, or None and the problems found.

    `shown` is the path as it should appear in messages.
    """
    try:
        data = read_regular(path, MAX_FILE_BYTES, "an entry")  # checked before reading: a 2 GiB file or a FIFO is refused unread
    except UnreadableFile as exc:
        return None, [Problem(shown, 1, "", str(exc))]
    except OSError as exc:
        return None, [Problem(shown, 1, "", f"cannot read file: {exc.strerror}")]
    text, problem = decode(data, shown)
    if problem:
        return None, [problem]
    raw = RAW_CONTROL.search(text)
    if raw:
        line = text.count("\n", 0, raw.start()) + 1
        hint = "write it as an escape in a double-quoted string if it is really meant, or remove it"
        return None, [Problem(shown, line, "", f"raw control character U+{ord(raw.group()):04X} in the file", hint)]
    doc = Document()
    problems: list[Problem] = []
    try:
        found = _read_document(yaml.parse(text, Loader=_PARSER), doc, problems, shown)
    except _Rejected as exc:
        return None, [Problem(shown, exc.line, "", exc.message)]
    except yaml.MarkedYAMLError as exc:
        return None, [_yaml_problem(exc, shown, text)]
    except RecursionError:
        return None, [Problem(shown, 1, "", "nesting is too deep")]
    if not found:
        return None, [Problem(shown, 1, "", "empty entry file")]
    return (None, problems) if problems else (doc, [])


def decode(data: bytes, shown: str) -> tuple[str, Problem | None]:
    """The text of a file's bytes (UTF-8, a BOM allowed), or a problem naming the line of the first bad byte."""
    try:
        return data.decode("utf-8-sig"), None
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        hint = ""
        try:
            data.decode("gb18030")
            hint = "looks like GBK/GB18030; save it as UTF-8"
        except UnicodeDecodeError:
            pass
        return "", Problem(shown, line, "", f"file is not UTF-8 (bad byte 0x{data[exc.start]:02x})", hint)


def _yaml_problem(exc: yaml.MarkedYAMLError, shown: str, text: str) -> Problem:
    mark = exc.problem_mark or exc.context_mark
    line = mark.line + 1 if mark else 1
    problem = exc.problem or str(exc)
    if "tab" in problem or (mark and text[mark.index : mark.index + 1] == "\t"):
        return Problem(shown, line, "", "tabs are not allowed for indentation", "indent with spaces")
    column = f" at column {mark.column + 1}" if mark else ""
    context = f" {exc.context}" if exc.context else ""
    return Problem(shown, line, "", f"invalid YAML{column}: {problem}{context}")


def _read_document(events: Iterator[yaml.Event], doc: Document, problems: list[Problem], shown: str) -> bool:
    """Fill `doc` from the events of the stream's one document; False when it has none."""
    next(events)  # StreamStart
    if isinstance(next(events), yaml.StreamEndEvent):
        return False
    doc.value = _read_value(events, next(events), (), doc, problems, shown)
    next(events)  # DocumentEnd
    event = next(events)
    if isinstance(event, yaml.DocumentStartEvent):
        raise _Rejected(event.start_mark, "one entry per file: found a second YAML document")
    return True


def _read_value(events: Iterator[yaml.Event], event: yaml.Event, path: Path_, doc: Document, problems: list[Problem], shown: str) -> Any:
    if isinstance(event, yaml.AliasEvent):
        raise _Rejected(event.start_mark, "aliases are not allowed (write the value out in full)")
    if event.anchor:
        raise _Rejected(event.start_mark, "anchors are not allowed (write the value out in full)")
    if event.tag not in (None, "!"):
        raise _Rejected(event.start_mark, f"tags are not allowed (found '{event.tag}')")
    line = event.start_mark.line + 1
    doc.lines.setdefault(path, line)
    if isinstance(event, yaml.MappingStartEvent):
        return _read_mapping(events, path, doc, problems, shown)
    if isinstance(event, yaml.SequenceStartEvent):
        items: list[Any] = []
        while not isinstance(item := next(events), yaml.SequenceEndEvent):
            items.append(_read_value(events, item, path + (len(items),), doc, problems, shown))
        return items
    doc.raw[path] = event.value
    bad = _bad_character(event.value)
    if bad:
        problems.append(Problem(shown, line, dotted(path), f"contains the invisible or control character {bad}"))
    try:
        value = _resolve(event.value) if event.style in (None, "") else event.value
    except ValueError:  # an integer past Python's 4,300-digit conversion limit
        problems.append(Problem(shown, line, dotted(path), f"a number of {len(event.value):,} digits is too long to read"))
        return event.value
    if value is None:
        problems.append(Problem(shown, line, dotted(path), "empty value", "leave the field out when it is unknown"))
    return value


def _read_mapping(events: Iterator[yaml.Event], path: Path_, doc: Document, problems: list[Problem], shown: str) -> dict[str, Any]:
    result: dict[str, Any] = {}
    first_line: dict[str, int] = {}
    while not isinstance(key_event := next(events), yaml.MappingEndEvent):
        if not isinstance(key_event, yaml.ScalarEvent):
            raise _Rejected(key_event.start_mark, "a key must be a plain name")
        key, key_line = key_event.value, key_event.start_mark.line + 1
        if key == "<<" and key_event.style in (None, ""):
            raise _Rejected(key_event.start_mark, "merge keys ('<<') are not allowed")
        if key in first_line:
            problems.append(Problem(shown, key_line, dotted(path + (key,)), f"duplicate key (first given at line {first_line[key]})"))
            _read_value(events, next(events), path + (key,), Document(), [], shown)  # read past it
            continue
        first_line[key] = key_line
        doc.lines[path + (key,)] = key_line
        result[key] = _read_value(events, next(events), path + (key,), doc, problems, shown)
    return result


def _resolve(text: str) -> Any:
    """Plain scalars as YAML 1.2's core schema reads them (never dates, never yes/no)."""
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
    if text.isprintable():  # the common case, checked in C
        return ""
    for ch in text:
        if ch in "\n\t":
            continue
        if unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Zl", "Zp"):
            return f"U+{ord(ch):04X}"
    return ""


def dotted(path: Path_) -> str:
    """('derived_from', 0, 'id') -> 'derived_from[0].id'."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out
