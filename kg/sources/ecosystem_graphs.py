"""Stanford CRFM's Ecosystem Graphs: assets/<organisation>.yaml.

Each file is a list of assets (model, dataset, application). A field is a
scalar or `{value, explanation}`; `unknown`, `none` and `''` mean no value;
`created_date` is a date, a string, an int or null; `dependencies` name other
assets by free text, kept as mentions. The YAML is read as a node tree (not
with the catalog's strict reader: this format has empty values by design) so
every value keeps its line.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from kg.errors import Problem
from kg.sources import Origin, Record, compose_yaml, files_of, is_placeholder, map_license, read_source_text, retrieved_on

NAME = "ecosystem-graphs"
REPOSITORY = "https://github.com/stanford-crfm/ecosystem-graphs"
KINDS = {"model": "model", "dataset": "dataset", "application": "software"}
SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMBT])\b", re.I)
SCALE = {"k": 10**3, "m": 10**6, "b": 10**9, "t": 10**12}
DATE = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?$")


# A value of several licences, each saying what it covers: 'none (model weights), BSD-3-Clause (code)'.
_SCOPED_PART = re.compile(r"^(.*?)\s*\(([^)]*)\)\s*$")
# An explanation that names the code's licence beside the asset's: '... Code license is under Apache 2.0'.
_CODE_LICENCE = re.compile(r"\b(?:code license is under|code license is|while code is|code is under)\s+([^;,]+?)\s*(?:\.(?:\s|$)|[;,]|$)", re.I)
# An explanation that says the value is the model's (or the data's) own licence.
_ARTEFACT_LICENCE = re.compile(r"\b(?:model license|model is licensed|releasing the model under|models are released under|data license is)\b", re.I)


def read(path: Path, problems: list[Problem], commit: str | None = None) -> list[Record]:
    return [record for file in files_of(path, "*.yaml") for record in _read_file(file, problems, commit)]


def _explanation(raw: Any) -> str | None:
    """The `explanation` text of a `{value, explanation}` field."""
    found = raw.get("explanation") if isinstance(raw, dict) else None
    return found[0] if isinstance(found, tuple) and isinstance(found[0], str) else None


def _licence_parts(value: str, explanation: str | None, kind: str) -> list[tuple[str, str | None]]:
    """(licence text, scope) for each licence a value names: the scope is the asset's own
    (weights, data) or the code's where the value or its explanation says so, else None."""
    artefact = {"model": "weights", "dataset": "data"}.get(kind)
    parts: list[tuple[str, str | None]] = []
    for part in value.split(",") if "(" in value else [value]:
        match = _SCOPED_PART.match(part.strip())
        if not match:
            parts.append((part.strip(), None))
            continue
        said = match.group(2).casefold()
        scope = "code" if "code" in said else artefact if any(w in said for w in ("weight", "model", "data")) else None
        if not is_placeholder(match.group(1)):
            parts.append((match.group(1), scope))
    if len(parts) == 1 and parts[0][1] is None and explanation:
        code = _CODE_LICENCE.search(explanation)
        if code:  # the value is then the asset's own licence, and the code has another
            parts = [(parts[0][0], artefact), (code.group(1), "code")]
        elif _ARTEFACT_LICENCE.search(explanation):
            parts = [(parts[0][0], artefact)]
    return [(text, scope) for text, scope in parts if text and not is_placeholder(text)]


def _plain(node: yaml.Node) -> Any:
    """The node as plain values with (value, line) at every scalar."""
    if isinstance(node, yaml.MappingNode):
        return {k.value: _plain(v) for k, v in node.value}
    if isinstance(node, yaml.SequenceNode):
        return [_plain(v) for v in node.value]
    value = None if node.tag.endswith(":null") else node.value
    return (value, node.start_mark.line + 1)


def _read_file(file: Path, problems: list[Problem], commit: str | None) -> list[Record]:
    shown = str(file)
    text = read_source_text(file, problems)
    root = compose_yaml(text, shown, problems) if text is not None else None  # aliases bounded before _plain expands them
    if root is None:
        return []
    if not isinstance(root, yaml.SequenceNode):
        problems.append(Problem(shown, root.start_mark.line + 1, "", "expected a list of assets"))
        return []
    url = f"{REPOSITORY}/blob/{commit or 'main'}/assets/{file.name}"
    retrieved = retrieved_on(file)
    records = []
    for node in root.value:
        asset = _plain(node)
        line = node.start_mark.line + 1
        if not isinstance(asset, dict):
            problems.append(Problem(shown, line, "", "expected an asset (a mapping)"))
            continue

        def value(field: str) -> tuple[Any, int]:
            raw = asset.get(field)
            if isinstance(raw, dict):  # {value, explanation}
                raw = raw.get("value", (None, line))
            if isinstance(raw, tuple) and (raw[0] is None or is_placeholder(raw[0])):
                return None, raw[1]
            return raw if isinstance(raw, tuple) else (None, line)  # a list or mapping where text belongs is no value

        def origin(at: int) -> Origin:
            return Origin(NAME, f"{shown}:{at}", url, retrieved, commit)

        name, name_line = value("name")
        kind_text, kind_line = value("type")
        if not isinstance(name, str):
            problems.append(Problem(shown, name_line, "name", "asset has no name"))
            continue
        kind = KINDS.get(kind_text or "")
        if kind is None:
            problems.append(Problem(shown, kind_line, "type", f"'{kind_text}' is not one of: {', '.join(KINDS)}"))
            continue
        organization = value("organization")[0]
        record = Record(NAME, f"{file.stem}/{name}", kind, name.strip(), origin(line))
        license, at = value("license")
        if isinstance(license, str):
            for text, scope in _licence_parts(license, _explanation(asset.get("license")), kind):
                record.claim("license", map_license(text), origin(at), scope)
        created, at = value("created_date")
        if isinstance(created, str) and DATE.match(created.strip()):
            record.claim("released", created.strip(), origin(at))
        size, at = value("size")
        match = SIZE.match(size) if isinstance(size, str) and kind == "model" else None
        if match:
            record.claim("parameters", int(float(match.group(1)) * SCALE[match.group(2).lower()]), origin(at))
        if isinstance(organization, str):
            for part in organization.split(","):
                record.mention("developers", part, "organization", origin(value("organization")[1]))
        dependencies = asset.get("dependencies")
        if isinstance(dependencies, list):
            for item in dependencies:
                if isinstance(item, tuple) and isinstance(item[0], str):
                    # A dependency is any kind; the model's base model and data are both listed here.
                    record.mention("dependencies", item[0], "any", origin(item[1]))
        records.append(record)
    return records
