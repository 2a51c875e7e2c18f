"""Effective terms: what a model or dataset may be used for, from its own
licence and its whole ancestry, with the path that brings each term.

A term (no commercial use, attribution, share-alike, use restrictions,
output restrictions) comes from a licence in data/licenses.yaml. It reaches an
entity from its own licence, or travels along lineage edges by the rules of
ontology/terms.yaml: which edge passes which kind of term (weights, data,
output). Every arrival keeps its path of entity ids, each step with the URL
that backs it, so every answer traces to evidence.

This is information about licences, not legal advice.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterable, Literal, Mapping

import networkx as nx
import yaml
from pydantic import ValidationError

from kg.entities import License, Strict
from kg.errors import RequestError
from kg.graph import RELATION_LABELS
from kg.vocab import ONTOLOGY_DIR

RULES_FILE = ONTOLOGY_DIR / "terms.yaml"
KINDS = ("own", "weights", "data", "output")
SUBJECTS = ("model", "dataset")  # the kinds of entity that have effective terms
MAX_PATHS = 32  # paths kept per term, kind and licence of one entity (the shortest)


class TermDefinition(Strict):
    field: Literal["commercial_use", "derivatives", "redistribution", "attribution", "share_alike", "use_restrictions", "output_restrictions"]
    value: bool


class Rule(Strict):
    field: str
    relations: list[str] | None = None
    passes: dict[Literal[KINDS], Literal[KINDS]]  # type: ignore[valid-type]
    terms: list[str] | None = None
    why: str


class Rules(Strict):
    terms: dict[str, TermDefinition]
    rules: list[Rule]

    def rule_for(self, field: str, relation: str) -> Rule | None:
        """The rule an edge follows, or None when the edge passes nothing."""
        for rule in self.rules:
            if rule.field == field and (rule.relations is None or relation in rule.relations):
                return rule
        return None


def load_rules(path: Path = RULES_FILE) -> Rules:
    """Read and check the table of rules; a broken table is an error naming the file and field."""
    try:
        rules = Rules.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    except (OSError, yaml.YAMLError) as exc:
        raise RequestError(f"{path}: cannot read the terms rules: {exc}", "reinstall llm-lineage or restore ontology/terms.yaml") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise RequestError(f"{path}: {where}: {first['msg']}", "see the comments at the top of the file") from None
    for rule in rules.rules:
        unknown = sorted(set(rule.terms or ()) - set(rules.terms))
        if unknown:
            raise RequestError(f"{path}: rule for {rule.field}: unknown term '{unknown[0]}'", f"terms are {', '.join(rules.terms)}")
    return rules


@dataclass(frozen=True)
class Term:
    """One way a term reaches an entity: `path` runs from the entity to the one
    whose licence states the term; `sources[i]` backs step i (the edge from
    path[i] to path[i + 1]), and the last source backs the licence itself."""

    term: str
    kind: str
    licence: str
    path: tuple[str, ...]
    sources: tuple[str, ...]


@dataclass(frozen=True)
class Gap:
    """An entity on the lineage whose terms are not recorded, and how it is reached."""

    entity: str
    path: tuple[str, ...]
    sources: tuple[str, ...]


@dataclass(frozen=True)
class Conflict:
    """A declared licence that allows what the lineage forbids, or lineage terms that cannot all be met."""

    kind: str
    message: str
    licences: tuple[str, ...]
    paths: tuple[Term, ...]


@dataclass(frozen=True)
class Declared:
    """One licence the entity's sources name: whether it governs, where it was stated, and the evidence."""

    licence: str
    governs: bool
    where: tuple[str, ...]
    sources: tuple[str, ...]
    scope: str | None = None  # "code": stated for the code beside the weights or data, no claim on them


@dataclass(frozen=True)
class EffectiveTerms:
    entity: str
    declared: tuple[Declared, ...]
    commercial_use: bool | None  # None: not known
    terms: tuple[Term, ...]
    conflicts: tuple[Conflict, ...]
    unknown: tuple[Gap, ...] = field(default=())
    paths_omitted: int = 0  # paths past MAX_PATHS, here or upstream; 0 on any real catalog so far
    # A licence that changed over time: the date the governing licence is stated from, and each
    # earlier dated licence as (from, licence, its own commercial use: True, False or None).
    as_of: str | None = None
    earlier: tuple[tuple[str, str, bool | None], ...] = ()

    def to_dict(self) -> dict:
        """The JSON shape of `kg terms --format json`."""
        out = asdict(self)
        for conflict in out["conflicts"]:
            conflict["paths"] = [_path_dict(p) for p in conflict["paths"]]
        out["terms"] = [_path_dict(t) for t in out["terms"]]
        out["unknown"] = [{**g, "path": list(g["path"]), "sources": list(g["sources"])} for g in out["unknown"]]
        for key in ("as_of", "earlier"):  # only for a licence that changed over time
            if not out[key]:
                del out[key]
        out["declared"] = [{**{k: v for k, v in d.items() if v is not None}, "where": list(d["where"]), "sources": list(d["sources"])} for d in out["declared"]]
        return out

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=2)


def _path_dict(term: dict) -> dict:
    return {**term, "path": list(term["path"]), "sources": list(term["sources"])}


@dataclass
class _Reached:
    terms: list[Term]
    gaps: dict[str, Gap]
    omitted: int = 0  # paths left out here and upstream by the MAX_PATHS bound


def compute_terms(graph: nx.MultiDiGraph, licenses: Mapping[str, License], entity: str, rules: Rules | None = None,
                  cache: dict[str, _Reached] | None = None) -> EffectiveTerms:
    """The effective terms of one model or dataset of `graph`.

    Only its ancestors are visited; pass the same `cache` dict to several
    calls to share the work (as `compute_all` does).
    """
    kind = graph.nodes[entity]["kind"]
    if kind not in SUBJECTS:
        supported = sorted(v for _, v, key in graph.out_edges(entity, keys=True) if key == "supports")
        hint = f"it supports {', '.join(supported)}: ask for one of those" if supported else "name a model or a dataset"
        raise RequestError(f"{entity} is {_article(kind)}{kind}: effective terms are computed for models and datasets", hint)
    rules = rules or load_rules()
    cache = {} if cache is None else cache
    reached = _reach(graph, licenses, entity, rules, cache)
    terms = tuple(sorted(reached.terms, key=lambda t: _term_order(rules, t)))
    return EffectiveTerms(
        entity=entity,
        declared=_declared(graph, entity),
        commercial_use=_commercial_use(graph, licenses, entity, terms),
        terms=terms,
        conflicts=_conflicts(graph, licenses, entity, terms),
        unknown=tuple(sorted(reached.gaps.values(), key=lambda g: (len(g.path), g.path))),
        paths_omitted=reached.omitted,
        **_history(graph.nodes[entity], licenses),
    )


def _history(data: dict, licenses: Mapping[str, License]) -> dict:
    """For a licence that changed over time: the latest date a statement gives the governing licence
    (`as_of`), and the other licences stated from earlier dates, oldest first, with their own verdicts."""
    governing = data.get("license")
    dated = [(s["as_of"], s["license"]) for s in data.get("license_statements", ()) if s.get("as_of") and s.get("scope") != "code"]
    since = max((day for day, lic in dated if lic == governing), default=None)
    if since is None:
        return {}
    earlier = sorted({(day, lic) for day, lic in dated if lic != governing and day < since})
    if not earlier:
        return {}
    return {"as_of": since, "earlier": tuple((day, lic, licenses[lic].commercial_use if lic in licenses else None) for day, lic in earlier)}


def compute_all(graph: nx.MultiDiGraph, licenses: Mapping[str, License], rules: Rules | None = None,
                nodes: Iterable[str] | None = None) -> dict[str, EffectiveTerms]:
    """The effective terms of every model and dataset, by id; of those among
    `nodes` only, when given (their ancestors are still walked in `graph`)."""
    rules = rules or load_rules()
    cache: dict[str, _Reached] = {}
    wanted = sorted(graph) if nodes is None else sorted(set(nodes))
    return {node: compute_terms(graph, licenses, node, rules, cache) for node in wanted if graph.nodes[node]["kind"] in SUBJECTS}


def _article(kind: str) -> str:
    return "" if kind == "software" else "an " if kind[0] in "aeiou" else "a "


def _term_order(rules: Rules, term: Term) -> tuple:
    return (list(rules.terms).index(term.term), KINDS.index(term.kind), term.licence, len(term.path), term.path)


def _reach(graph: nx.MultiDiGraph, licenses: Mapping[str, License], start: str, rules: Rules, cache: dict[str, _Reached]) -> _Reached:
    """What reaches `start`, computed parents first with an explicit stack (lineage
    chains may be thousands of steps long); each node's result is cached."""
    stack = [start]
    on_stack = {start}
    while stack:
        node = stack[-1]
        if node in cache:
            stack.pop()
            on_stack.discard(node)
            continue
        pending = [p for p, _ in _passing_edges(graph, node, rules) if p not in cache and p not in on_stack]
        if pending:
            stack.extend(pending)
            on_stack.update(pending)
            continue
        cache[node] = _combine(graph, licenses, node, rules, cache)
        stack.pop()
        on_stack.discard(node)
    return cache[start]


def _passing_edges(graph: nx.MultiDiGraph, node: str, rules: Rules) -> list[tuple[str, dict]]:
    out = []
    for _, parent, data in graph.out_edges(node, data=True):
        rule = rules.rule_for(data["field"], data["relation"])
        if rule is not None:
            out.append((parent, {**data, "rule": rule}))
    return sorted(out, key=lambda item: (item[0], item[1]["relation"]))


def _combine(graph: nx.MultiDiGraph, licenses: Mapping[str, License], node: str, rules: Rules, cache: dict[str, _Reached]) -> _Reached:
    data = graph.nodes[node]
    terms = _own_terms(data, licenses, node, rules)
    gaps: dict[str, Gap] = {}
    if data["kind"] in SUBJECTS and data.get("license") not in licenses:
        gaps[node] = Gap(node, (node,), (_first_source(data),))
    for parent, edge in _passing_edges(graph, node, rules):
        if parent not in cache:  # a cycle: refused by the catalog, skipped here rather than looping
            continue
        rule, evidence = edge["rule"], edge["evidence"]
        inherited = cache[parent]
        # A parent that holds a licence itself is the nearest source of its terms:
        # paths through it to farther holders of the same licence add nothing.
        held = {(t.term, t.licence) for t in inherited.terms if len(t.path) == 1}
        for term in inherited.terms:
            arrives = rule.passes.get(term.kind)
            if len(term.path) > 1 and (term.term, term.licence) in held:
                continue
            if arrives and (rule.terms is None or term.term in rule.terms):
                terms.append(Term(term.term, arrives, term.licence, (node, *term.path), (evidence, *term.sources)))
        for gap in inherited.gaps.values():
            if gap.entity == parent and edge["field"] == "generated_by" and graph.nodes[parent].get("output_terms"):
                continue  # a generator whose output terms are recorded leaves no gap on its outputs
            if gap.entity not in gaps or len(gap.path) + 1 < len(gaps[gap.entity].path):
                gaps[gap.entity] = Gap(gap.entity, (node, *gap.path), (evidence, *gap.sources))
    kept, omitted = _bounded(terms)
    return _Reached(kept, gaps, omitted + sum(cache[p].omitted for p, _ in _passing_edges(graph, node, rules) if p in cache))


def _bounded(terms: list[Term]) -> tuple[list[Term], int]:
    """The terms without repeats, at most MAX_PATHS paths (the shortest) for each
    term, kind and licence: merges of merges could otherwise multiply paths."""
    groups: dict[tuple[str, str, str], list[Term]] = {}
    for term in dict.fromkeys(terms):
        groups.setdefault((term.term, term.kind, term.licence), []).append(term)
    kept, omitted = [], 0
    for group in groups.values():
        group.sort(key=lambda t: (len(t.path), t.path))
        kept += group[:MAX_PATHS]
        omitted += max(0, len(group) - MAX_PATHS)
    return kept, omitted


def _own_terms(data: dict, licenses: Mapping[str, License], node: str, rules: Rules) -> list[Term]:
    terms = []
    governing = data.get("license")
    if governing in licenses:
        evidence = _licence_evidence(data, governing)
        terms += [Term(name, "own", governing, (node,), (evidence,)) for name in _terms_of(licenses[governing], rules)]
    for stated in data.get("output_terms", ()):
        if stated["license"] in licenses:
            terms += [Term(name, "output", stated["license"], (node,), (stated["source"],)) for name in _terms_of(licenses[stated["license"]], rules)]
    return terms


def _terms_of(license: License, rules: Rules) -> list[str]:
    return [name for name, definition in rules.terms.items() if getattr(license, definition.field) is definition.value]


def _licence_evidence(data: dict, license_id: str) -> str:
    """The URL that says the entity is under this licence: a statement naming it, else the entity's first source."""
    for statement in data.get("license_statements", ()):
        if statement["license"] == license_id:
            return statement["source"]
    return _first_source(data)


def _first_source(data: dict) -> str:
    return data["sources"][0]["url"]


def _declared(graph: nx.MultiDiGraph, node: str) -> tuple[Declared, ...]:
    data = graph.nodes[node]
    governing = data.get("license")
    found: dict[str, tuple[list[str], list[str]]] = {}
    scopes: dict[str, set] = {}
    if governing is not None:
        found[governing] = ([], [])
    for statement in data.get("license_statements", ()):
        where, sources = found.setdefault(statement["license"], ([], []))
        where += [statement["where"]] if statement["where"] not in where else []
        sources += [statement["source"]] if statement["source"] not in sources else []
        scopes.setdefault(statement["license"], set()).add(statement.get("scope"))
    if governing is not None and not found[governing][1]:
        found[governing][1].append(_first_source(data))
    # A licence every statement of which is about the code only (and that does not govern) is the code's.
    code = {lic for lic, said in scopes.items() if said == {"code"} and lic != governing}
    return tuple(Declared(lic, lic == governing, tuple(where), tuple(sources), "code" if lic in code else None) for lic, (where, sources) in found.items())


def _commercial_use(graph: nx.MultiDiGraph, licenses: Mapping[str, License], node: str, terms: tuple[Term, ...]) -> bool | None:
    """False when any path forbids commercial use; True when the governing licence
    allows it and nothing recorded forbids it; else None (not known)."""
    if any(t.term == "no-commercial-use" for t in terms):
        return False
    data = graph.nodes[node]
    if data.get("imported") and data.get("license_scope") not in ("weights", "data"):
        return None  # an imported licence that may be the code's (kg.merge) cannot by itself allow use of the weights or data
    governing = licenses.get(data.get("license", ""))
    return True if governing is not None and governing.commercial_use is True else None


def _conflicts(graph: nx.MultiDiGraph, licenses: Mapping[str, License], node: str, terms: tuple[Term, ...]) -> tuple[Conflict, ...]:
    """Four kinds: a declared licence allowing commercial use that the lineage forbids;
    a declared licence without the use restrictions its weights must carry on;
    a share-alike term whose licence the entity does not carry; and inherited terms
    that cannot all be met (two share-alike licences, or share-alike with no commercial use)."""
    inherited = [t for t in terms if t.kind != "own"]
    declared = _declared(graph, node)
    governing = graph.nodes[node].get("license")
    found: list[Conflict] = []
    forbidding = [t for t in inherited if t.term == "no-commercial-use"]
    restricted = [t for t in inherited if t.term == "use-restrictions" and t.kind == "weights"]
    for statement in declared:
        license = licenses.get(statement.licence)
        if license is None or statement.scope == "code":  # the code's licence is no claim on the weights or data
            continue
        stated = Term("declared", "own", statement.licence, (node,), statement.sources[:1])
        said = f"{'governs' if statement.governs else 'is stated'}{' (' + ', '.join(statement.where) + ')' if statement.where else ''}"
        reported: set[str] = set()
        if license.commercial_use is True and forbidding:
            against = sorted({t.licence for t in forbidding})
            reported.update(against)
            found.append(Conflict(
                "commercial-use",
                f"{statement.licence} {said} and allows commercial use, but {', '.join(against)} along the lineage forbid{'s' if len(against) == 1 else ''} it",
                (statement.licence, *against), (stated, *forbidding)))
        # Restrictions of a licence already reported above for this statement add nothing new.
        against = sorted({t.licence for t in restricted} - reported)
        if license.use_restrictions is False and against:
            restricted_here = tuple(t for t in restricted if t.licence in against)
            found.append(Conflict(
                "use-restrictions",
                f"{statement.licence} {said} with no use restrictions, but the weights carry those of {', '.join(against)}, which derived models must keep",
                (statement.licence, *against), (stated, *restricted_here)))
    # Share-alike binds adaptations of the work: derived data, or a model made from the weights.
    # Training data is not adapted into the weights unless a licence says so; none in the table does.
    model = graph.nodes[node]["kind"] == "model"
    share_alike = [t for t in inherited if t.term == "share-alike" and not (model and t.kind == "data")]
    for licence in sorted({t.licence for t in share_alike}):
        paths = tuple(t for t in share_alike if t.licence == licence)
        if governing is not None and governing != licence:
            found.append(Conflict(
                "share-alike",
                f"{licence} along the lineage asks that adaptations carry the same licence, but {governing} governs",
                (licence, governing), paths))
        other_share = sorted({t.licence for t in share_alike} - {licence})
        if other_share and licence < other_share[0]:
            found.append(Conflict(
                "incompatible",
                f"the lineage asks for both {licence} and {other_share[0]} on adaptations, which one licence cannot satisfy",
                (licence, other_share[0]), paths + tuple(t for t in share_alike if t.licence == other_share[0])))
        allows = licenses.get(licence)
        if allows is not None and allows.commercial_use is True:
            against = sorted({t.licence for t in forbidding} - {licence})
            if against:
                found.append(Conflict(
                    "incompatible",
                    f"{licence} along the lineage asks that adaptations carry it, and it allows commercial use, but {', '.join(against)} forbid{'s' if len(against) == 1 else ''} commercial use",
                    (licence, *against), paths + tuple(t for t in forbidding if t.licence in against)))
    return tuple(found)


def format_terms(result: EffectiveTerms, graph: nx.MultiDiGraph, licenses: Mapping[str, License]) -> str:
    """The text `kg terms` prints: the verdict, then each term as a tree of the paths that bring it."""
    name = graph.nodes[result.entity]["name"]
    verdict = _VERDICTS[result.commercial_use]
    lines = [f"{result.entity} ({name})", f"commercial use: {verdict}" + (f" (as of {result.as_of})" if result.as_of else "")]
    data = graph.nodes[result.entity]
    if result.commercial_use is None and data.get("imported") and "license" in data and "license_scope" not in data:
        lines.append(f"  {data['license']} is from a source that does not say it covers the {'weights' if data['kind'] == 'model' else 'data'} (it may be the code's)")
    for day, licence, allowed in result.earlier:
        lines.append(f"  before {result.as_of}: {licence} from {day}, commercial use {_VERDICTS[allowed]} by that licence alone")
    for declared in result.declared:
        where = f" ({', '.join(declared.where)})" if declared.where else ""
        lines.append(f"{'governing licence' if declared.governs else 'also stated'}: {declared.licence}{where}{' for the code only' if declared.scope == 'code' else ''}")
    groups: dict[tuple[str, str], list[Term]] = {}
    for term in result.terms:
        groups.setdefault((term.term, term.licence), []).append(term)
    lines.append("terms:" if groups else "terms: (none recorded)")
    for g, ((term, licence), paths) in enumerate(groups.items()):
        last_group = g == len(groups) - 1
        lines.append(f"{'└── ' if last_group else '├── '}{term}: {licence} ({_licence_name(licenses, licence)})")
        prefix = "    " if last_group else "│   "
        for i, path in enumerate(paths):
            lines.append(f"{prefix}{'└── ' if i == len(paths) - 1 else '├── '}{path.kind}: {format_path(graph, path.path)}  <{path.sources[-1]}>")
    if result.unknown:
        lines.append("not recorded (terms unknown):")
        lines += [f"  {format_path(graph, gap.path)}" for gap in result.unknown]
    if result.conflicts:
        lines.append("conflicts:")
        for conflict in result.conflicts:
            lines.append(f"  ! {conflict.kind}: {conflict.message}")
            lines += [f"      {p.licence}: {format_path(graph, p.path)}  <{p.sources[-1]}>" for p in conflict.paths]
    return "\n".join(lines)


_VERDICTS = {True: "allowed", False: "not allowed", None: "not known"}


def format_path(graph: nx.MultiDiGraph, path: tuple[str, ...]) -> str:
    """`a -> fine-tuned from b -> trained on c`: each step with the relation that joins it."""
    text = path[0]
    for child, parent in zip(path, path[1:]):
        relations = sorted(key for _, target, key in graph.out_edges(child, keys=True) if target == parent)
        text += f" -> {RELATION_LABELS.get(relations[0], relations[0]) if relations else 'from'} {parent}"
    return text


def _licence_name(licenses: Mapping[str, License], licence: str) -> str:
    return licenses[licence].name if licence in licenses else licence


def format_conflicts(results: Mapping[str, EffectiveTerms]) -> str:
    """One line per conflict of every entity: what `kg terms --conflicts` prints."""
    lines = [f"{entity}: {c.kind}: {c.message}" for entity, result in sorted(results.items()) for c in result.conflicts]
    return "\n".join(lines) if lines else "no conflicts"
