"""Load the catalog: YAML files -> validated entities -> cross-entity checks.

`load_catalog` reads every entry under `data/`, validates each against its
kind's schema, then checks what no single file can: ids match paths and are
unique, references resolve to the right kind, derivations form no cycle, and a
derived model is not dated before its source. All problems are collected and
raised together in one `CatalogError`.
"""

from __future__ import annotations

import datetime as dt
import os
import unicodedata
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_args

import networkx as nx
from pydantic import ValidationError

from kg.entities import FOLDERS, SCHEMAS, TARGET_KINDS, Entity, License, LicenseTable
from kg.errors import CatalogError, Problem, closest, suggest
from kg.reader import Document, dotted, read_yaml
from kg.vocab import bundled

LICENSES_FILE = "licenses.yaml"
# Edges whose cycles make no sense: a thing cannot descend from, belong to or
# be narrower than itself.
ACYCLIC_FIELDS = {"derived_from": "derivation", "part_of": "part-of", "broader": "broader", "family": "family"}
# Edges along which a child cannot be released before its parent.
DATED_FIELDS = ("derived_from", "generated_by")


@dataclass
class Catalog:
    """The validated catalog: entities by id, where each came from, the licence table."""

    root: Path
    entities: dict[str, Entity]
    paths: dict[str, str]
    documents: dict[str, Document]
    licenses: dict[str, License]
    warnings: list[Problem] = field(default_factory=list)

    def line_of(self, entity_id: str, path: tuple) -> int:
        return self.documents[entity_id].line_of(path)


def default_data_dir() -> Path:
    """The bundled catalog: `data/` of the checkout, or the copy an installed wheel ships."""
    return bundled("data")


def load_catalog(root: Path | str | None = None, today: dt.date | None = None) -> Catalog:
    """Load and check the catalog under `root`; raise CatalogError listing every error.

    Warnings do not stop the load; they are returned on `Catalog.warnings`.
    """
    root = Path(root) if root is not None else default_data_dir()
    problems: list[Problem] = []
    if not root.is_dir():
        raise CatalogError([Problem(_show(root), 1, "", "catalog folder not found")])
    licenses = _load_licenses(root, problems)
    entities: dict[str, Entity] = {}
    paths: dict[str, str] = {}
    documents: dict[str, Document] = {}
    holders: dict[str, list[str]] = defaultdict(list)
    entry_files = _entry_files(root, problems)
    if not entry_files and not problems:
        problems.append(Problem(_show(root), 1, "", "no entries found (expected files such as models/<slug>.yaml)"))
    for kind, path in entry_files:
        shown = _show(path)
        doc, found = read_yaml(path, shown)
        problems += found
        if doc is None:
            continue
        entity = _validate(kind, doc, shown, problems)
        if entity is None:
            continue
        expected = f"{kind}/{path.stem}"
        if entity.id != expected:
            problems.append(
                Problem(shown, doc.line_of(("id",)), "id", f"'{entity.id}' does not match the file's path", f"expected '{expected}'")
            )
        holders[entity.id].append(shown)
        if entity.id in entities:
            continue
        entities[entity.id] = entity
        paths[entity.id] = shown
        documents[entity.id] = doc
    catalog = Catalog(root, entities, paths, documents, licenses)
    problems += _check_unique_ids(holders)
    problems += _check_references(catalog)
    problems += _check_licenses(catalog)
    problems += _check_cycles(catalog)
    problems += _check_dates(catalog, today or dt.date.today())
    problems += _check_names(catalog)
    problems += _check_missing_licenses(catalog)
    problems += _check_orphans(catalog)
    if any(p.level == "error" for p in problems):
        raise CatalogError(problems)
    catalog.warnings = sorted(problems)
    return catalog


def _show(path: Path) -> str:
    """A path as messages show it: relative to the working directory when inside it."""
    path = Path(os.path.abspath(path))
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


def _entry_files(root: Path, problems: list[Problem]) -> list[tuple[str, Path]]:
    kind_of = {folder: kind for kind, folder in FOLDERS.items()}
    found: list[tuple[str, Path]] = []
    for child in _list(root, problems):
        if child.name.startswith((".", "_")) or child.name in (LICENSES_FILE, "sources.yaml") or child.suffix == ".md":  # README, AUDIT
            continue
        if not child.is_dir():
            problems.append(Problem(_show(child), 1, "", "unexpected file in the catalog folder"))
            continue
        if child.name not in kind_of:
            problems.append(
                Problem(_show(child), 1, "", f"unknown folder '{child.name}'", suggest(child.name, kind_of) or f"folders are {', '.join(kind_of)}")
            )
            continue
        for path in _list(child, problems):
            if path.name.startswith("."):
                continue
            if path.suffix != ".yaml" or not path.is_file():
                hint = "rename it to .yaml" if path.suffix == ".yml" else "entries are <slug>.yaml files"
                problems.append(Problem(_show(path), 1, "", "not an entry file", hint))
                continue
            found.append((kind_of[child.name], path))
    return found


def _list(folder: Path, problems: list[Problem]) -> list[Path]:
    """The entries of `folder`, sorted; a folder that cannot be read is a problem, not a crash."""
    try:
        return sorted(folder.iterdir())
    except OSError as exc:
        problems.append(Problem(_show(folder), 1, "", f"cannot read folder: {exc.strerror or exc}"))
        return []


def _validate(kind: str, doc: Document, shown: str, problems: list[Problem]) -> Entity | None:
    if not isinstance(doc.value, dict):
        problems.append(Problem(shown, 1, "", f"expected a mapping of fields, got {_type_name(doc.value)}"))
        return None
    schema = SCHEMAS[kind]
    try:
        return schema.model_validate(doc.value)
    except ValidationError as exc:
        problems += _pydantic_problems(exc, doc, shown, schema)
        return None


def _pydantic_problems(exc: ValidationError, doc: Document, shown: str, schema: type) -> list[Problem]:
    problems = []
    for error in exc.errors():
        loc = tuple(error["loc"])
        message, hint = _explain(error, doc, loc, schema)
        problems.append(Problem(shown, doc.line_of(loc), dotted(loc), message, hint))
    return problems


def _explain(error: dict[str, Any], doc: Document, loc: tuple, schema: type) -> tuple[str, str]:
    """Turn one pydantic error into our message and hint."""
    kind = error["type"]
    value = error.get("input")
    raw = doc.raw.get(loc)
    shown_value = raw if raw is not None else repr(value)
    if kind == "extra_forbidden":
        allowed = _allowed_fields(schema, loc[:-1])
        return f"unknown field '{loc[-1]}'", suggest(str(loc[-1]), allowed) or f"allowed: {', '.join(sorted(allowed))}"
    if kind == "missing":
        return "required field is missing", ""
    if kind == "string_type":
        return f"expected text, got {_type_name(value)} {shown_value}", "quote it"
    if kind == "bool_type":
        shown_value = repr(value) if isinstance(value, str) else shown_value
        return f"expected true or false, got {_type_name(value)} {shown_value}", "use true/false"
    if kind == "int_type":
        return f"expected a whole number, got {_type_name(value)} {shown_value}", ""
    if kind in ("list_type", "model_type", "dict_type"):
        wanted = "a list" if kind == "list_type" else "a mapping"
        return f"expected {wanted}, got {_type_name(value)}", ""
    if kind == "literal_error":
        allowed = [a.strip(" '") for a in error["ctx"]["expected"].replace(" or ", ", ").split(",")]
        return f"'{value}' is not one of: {', '.join(allowed)}", suggest(str(value), allowed)
    if kind == "greater_than":
        return f"must be greater than {error['ctx']['gt']}, got {shown_value}", ""
    if kind == "too_short":
        return "must not be empty", ""
    return error["msg"], ""


def _allowed_fields(schema: type, loc: tuple) -> list[str]:
    """The field names of the model at `loc` inside `schema` (for did-you-mean)."""
    for part in loc:
        if isinstance(part, int):
            continue
        info = schema.model_fields.get(part)
        if info is None:
            return []
        schema = _model_in(info.annotation)
        if schema is None:
            return []
    return list(schema.model_fields)


def _model_in(annotation: Any) -> type | None:
    if isinstance(annotation, type) and hasattr(annotation, "model_fields"):
        return annotation
    for arg in get_args(annotation):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def _type_name(value: Any) -> str:
    names = {bool: "boolean", int: "integer", float: "number", str: "text", list: "a list", dict: "a mapping"}
    return names.get(type(value), type(value).__name__)


def _load_licenses(root: Path, problems: list[Problem]) -> dict[str, License]:
    path = root / LICENSES_FILE
    shown = _show(path)
    if not path.exists():
        problems.append(Problem(shown, 1, "", "licence table not found"))
        return {}
    doc, found = read_yaml(path, shown)
    problems += found
    if doc is None:
        return {}
    if not isinstance(doc.value, dict):
        problems.append(Problem(shown, 1, "", f"expected a mapping with 'licenses', got {_type_name(doc.value)}"))
        return {}
    try:
        table = LicenseTable.model_validate(doc.value)
    except ValidationError as exc:
        problems += _pydantic_problems(exc, doc, shown, LicenseTable)
        return {}
    licenses: dict[str, License] = {}
    for i, lic in enumerate(table.licenses):
        if lic.id in licenses:
            problems.append(Problem(shown, doc.line_of(("licenses", i, "id")), f"licenses[{i}].id", f"duplicate licence '{lic.id}'"))
        licenses[lic.id] = lic
    return licenses


def _check_unique_ids(holders: dict[str, list[str]]) -> list[Problem]:
    """Ids are lowercase ASCII (see entities.SLUG), so equal ids are the only collisions."""
    problems = []
    for entity_id, paths in holders.items():
        for shown in paths if len(paths) > 1 else []:
            others = ", ".join(p for p in paths if p != shown)
            problems.append(Problem(shown, 1, "id", f"duplicate id '{entity_id}' (also in {others})"))
    return problems


def _check_references(catalog: Catalog) -> list[Problem]:
    problems: list[Problem] = []
    ids = catalog.entities
    for entity_id, entity in catalog.entities.items():
        shown = catalog.paths[entity_id]
        seen: dict[tuple, int] = {}
        for name, index, ref in entity.edges:
            loc = (name,) if index < 0 else (name, index)
            line = catalog.line_of(entity_id, loc)
            where = name if index < 0 else f"{name}[{index}]"
            target = ref.id
            allowed = (entity.kind,) if name == "derived_from" else TARGET_KINDS[name]
            key = (name, target, getattr(ref, "relation", None))
            if key in seen:
                problems.append(Problem(shown, line, where, f"'{target}' is listed twice (first at line {seen[key]})", level="warning"))
                continue
            seen[key] = line
            if target not in ids:
                hint = _id_hint(target, ids, allowed)
                problems.append(Problem(shown, line, where, f"unknown id '{target}'", hint))
                continue
            kind = target.partition("/")[0]
            if kind not in allowed:
                wanted = " or ".join(allowed)
                problems.append(Problem(shown, line, where, f"{name} must reference {_article(wanted)} {wanted}, got {kind} '{target}'"))
    return problems


def _article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


def _id_hint(target: str, ids: dict[str, Entity], allowed: tuple[str, ...]) -> str:
    """Suggest an id of an allowed kind whose slug is close to the target's."""
    slug = target.partition("/")[2] or target
    by_slug = {i.partition("/")[2]: i for i in sorted(ids, reverse=True) if i.partition("/")[0] in allowed}
    match = closest(slug, by_slug)
    return f"did you mean '{by_slug[match]}'?" if match else ""


def _check_licenses(catalog: Catalog) -> list[Problem]:
    """Licence ids resolve, and several statements that disagree say which governs and why."""
    problems = []
    for entity_id, entity in catalog.entities.items():
        shown = catalog.paths[entity_id]
        value = getattr(entity, "license", None)
        statements = getattr(entity, "license_statements", [])
        named = [("license", ("license",), value)] if value is not None else []
        named += [(f"license_statements[{i}].license", ("license_statements", i, "license"), s.license) for i, s in enumerate(statements)]
        named += [(f"output_terms[{i}].license", ("output_terms", i, "license"), t.license) for i, t in enumerate(getattr(entity, "output_terms", []))]
        for where, loc, license_id in named:
            if license_id not in catalog.licenses:
                hint = suggest(license_id, catalog.licenses) or f"add it to {LICENSES_FILE} if it is real"
                problems.append(Problem(shown, catalog.line_of(entity_id, loc), where, f"unknown licence '{license_id}'", hint))
        if not statements:
            if getattr(entity, "license_basis", None) is not None:
                line = catalog.line_of(entity_id, ("license_basis",))
                problems.append(Problem(shown, line, "license_basis", "explains a choice among license_statements, but there are none"))
            continue
        stated = sorted({s.license for s in statements})
        if value is None:
            problems.append(Problem(shown, catalog.line_of(entity_id, ("license_statements",)), "license", "missing: say which of the stated licences governs", f"one of {', '.join(stated)}"))
        elif value not in stated:
            line = catalog.line_of(entity_id, ("license",))
            problems.append(Problem(shown, line, "license", f"'{value}' is not among the licences its statements name", f"one of {', '.join(stated)}"))
        if len(stated) > 1 and entity.license_basis is None:
            line = catalog.line_of(entity_id, ("license_statements",))
            problems.append(Problem(shown, line, "license_basis", f"missing: the statements disagree ({', '.join(stated)}); say which governs and why"))
    return problems


def _check_cycles(catalog: Catalog) -> list[Problem]:
    """Report every strongly connected component of each acyclic relation.

    `is_directed_acyclic_graph` is linear; only when it fails do we look inside
    the components (find_cycle on a whole large graph is super-linear).
    """
    problems = []
    for name, label in ACYCLIC_FIELDS.items():
        graph = nx.DiGraph()
        for entity_id, entity in catalog.entities.items():
            for field_name, _, ref in entity.edges:
                if field_name == name and ref.id in catalog.entities:
                    graph.add_edge(entity_id, ref.id)
        if nx.is_directed_acyclic_graph(graph):
            continue
        for component in nx.strongly_connected_components(graph):
            members = sorted(component)
            first = members[0]
            if len(members) == 1 and not graph.has_edge(first, first):
                continue
            cycle = [u for u, _ in nx.find_cycle(graph.subgraph(members), source=first)]
            path = " -> ".join(cycle + [cycle[0]])
            message = f"{label} cycle: {path}"
            if len(members) > len(cycle):
                message += f" (component: {', '.join(members)})"
            line = catalog.line_of(first, (name,))
            problems.append(Problem(catalog.paths[first], line, name, message))
    return problems


def date_bounds(value: str) -> tuple[dt.date, dt.date]:
    """The first and last day a possibly partial date (YYYY, YYYY-MM) can mean."""
    parts = [int(p) for p in value.split("-")]
    if len(parts) == 3:
        day = dt.date(*parts)
        return day, day
    if len(parts) == 2:
        first = dt.date(parts[0], parts[1], 1)
        next_month = dt.date(parts[0] + parts[1] // 12, parts[1] % 12 + 1, 1)
        return first, next_month - dt.timedelta(days=1)
    return dt.date(parts[0], 1, 1), dt.date(parts[0], 12, 31)


def _check_dates(catalog: Catalog, today: dt.date) -> list[Problem]:
    problems = []
    for entity_id, entity in catalog.entities.items():
        released = entity.released_on
        if released is None:
            continue
        shown = catalog.paths[entity_id]
        first, last = date_bounds(released)
        if first > today:
            line = catalog.line_of(entity_id, ("released",))
            problems.append(Problem(shown, line, "released", f"{released} is in the future", level="warning"))
        for name, index, ref in entity.edges:
            parent = catalog.entities.get(ref.id)
            if name not in DATED_FIELDS or parent is None or parent.released_on is None or ref.date_waiver is not None:
                continue
            parent_first, _ = date_bounds(parent.released_on)
            if last < parent_first:
                line = catalog.line_of(entity_id, (name, index))
                problems.append(
                    Problem(shown, line, f"{name}[{index}]", f"released {released}, before '{ref.id}' ({parent.released_on})")
                )
    return problems


def _check_names(catalog: Catalog) -> list[Problem]:
    """Two entities of one kind with the same English or Chinese name confuse every reader."""
    problems = []
    for label in ("name", "name_zh"):
        by_name: dict[tuple[str, str], list[str]] = defaultdict(list)
        for entity_id, entity in sorted(catalog.entities.items()):
            if getattr(entity, label) is not None:
                by_name[(entity.kind, _fold(getattr(entity, label)))].append(entity_id)
        for holders in by_name.values():
            for entity_id in holders[1:]:
                value = getattr(catalog.entities[entity_id], label)
                line = catalog.line_of(entity_id, (label,))
                problems.append(Problem(catalog.paths[entity_id], line, label, f"'{value}' is also the {label} of '{holders[0]}'", level="warning"))
    return problems


def _check_missing_licenses(catalog: Catalog) -> list[Problem]:
    """Published weights and code without a licence leave users unable to tell what they may do.

    Datasets are left out: many are scraped or mixed collections whose
    publishers state no single licence, and absent is then the truth.
    """
    problems = []
    for entity_id, entity in catalog.entities.items():
        published = entity.kind == "software" or getattr(entity, "open_weights", None) is True
        if published and getattr(entity, "license", None) is None:
            problems.append(
                Problem(catalog.paths[entity_id], catalog.line_of(entity_id, ("id",)), "license", "missing: no licence is recorded for it",
                        f"add the licence a source states, with license_statements; see {LICENSES_FILE}", level="warning")
            )
    return problems


def _check_orphans(catalog: Catalog) -> list[Problem]:
    """An organization or person nothing points at is usually a forgotten edge."""
    referenced = {ref.id for e in catalog.entities.values() for _, _, ref in e.edges}
    problems = []
    for entity_id, entity in catalog.entities.items():
        if entity.kind in ("organization", "person") and entity_id not in referenced:
            problems.append(Problem(catalog.paths[entity_id], 1, "", "no entity references it", level="warning"))
    return problems
