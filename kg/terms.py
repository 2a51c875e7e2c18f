"""Effective terms: what a model or dataset may be used for, from its own
licence and its whole ancestry, with the path that brings each term.

A term (no commercial use, attribution, share-alike, use restrictions,
output restrictions, and the conditions: a user threshold, registration, a
notice, a name prefix...) comes from a licence in data/licenses.yaml. It
reaches an entity from its own licence, or travels along lineage edges by the
rules of ontology/terms.yaml: which edge passes which kind of term (weights,
data, output). Every arrival keeps its path of entity ids, each step with the
URL that backs it, so every answer traces to evidence.

Memory stays linear in the lineage: an arrival is one step (entity, evidence)
linked to the parent's arrival it continues, so a chain shares its tails and a
path is rebuilt only when asked for (`Term.path`). Ancestors whose terms are
unknown are found on demand for the entity asked about (`EffectiveTerms.unknown`);
each node keeps only whether it is one and whether any lies upstream.

This is information about licences, not legal advice.
"""

from __future__ import annotations

import hashlib
import json
from collections import deque
from dataclasses import dataclass, field
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
VERDICTS = {True: "allowed", False: "not allowed", None: "not known"}
WITH_CONDITIONS = "allowed, with conditions"

LicenceField = Literal["commercial_use", "derivatives", "redistribution", "attribution", "share_alike", "use_restrictions",
                       "output_restrictions", "user_threshold", "commercial_registration", "commercial_approval", "hosting_grant",
                       "notice_text", "name_prefix", "research_only", "non_production", "derivatives_keep_licence"]


class TermDefinition(Strict):
    field: LicenceField
    value: bool | None = None  # None: any value of the field makes the term
    condition: bool = False
    says: str | None = None

    def made_by(self, license: License) -> bool:
        found = getattr(license, self.field)
        return found is not None if self.value is None else found is self.value


class Rule(Strict):
    field: str
    relations: list[str] | None = None
    passes: dict[Literal[KINDS], Literal[KINDS]]  # type: ignore[valid-type]
    terms: list[str] | None = None
    output_reach: bool = False
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


@dataclass(frozen=True, eq=False)
class _Arrival:
    """One step of a path: `node`, the evidence of its step to `next` (or, at the
    end, of the licence itself), and the parent's arrival it continues."""

    term: str
    kind: str
    licence: str
    node: str
    source: str
    next: _Arrival | None
    length: int  # entities on the path
    origin: str  # the entity at the path's end, whose licence states the term
    digest: str  # names the path by its content: equal paths, equal digests

    @classmethod
    def start(cls, term: str, kind: str, licence: str, node: str, source: str, after: _Arrival | None = None) -> _Arrival:
        tail = after.digest if after is not None else ""
        digest = hashlib.blake2b(f"{term}\x1f{kind}\x1f{licence}\x1f{node}\x1f{source}\x1f{tail}".encode(), digest_size=8).hexdigest()
        if after is None:
            return cls(term, kind, licence, node, source, None, 1, node, digest)
        return cls(term, kind, licence, node, source, after, 1 + after.length, after.origin, digest)

    def steps(self) -> Iterable[_Arrival]:
        step: _Arrival | None = self
        while step is not None:
            yield step
            step = step.next


class _PathOrder:
    """Orders arrivals by their path of ids, comparing lazily so that a sort
    rebuilds no path (ties in length are rare, and then stop at the first difference)."""

    __slots__ = ("arrival",)

    def __init__(self, arrival: _Arrival) -> None:
        self.arrival = arrival

    def __lt__(self, other: _PathOrder) -> bool:
        for mine, theirs in zip(self.arrival.steps(), other.arrival.steps()):
            if mine.node != theirs.node:
                return mine.node < theirs.node
        return self.arrival.length < other.arrival.length

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _PathOrder) and not self < other and not other < self


@dataclass(frozen=True, eq=False)
class Term:
    """One way a term reaches an entity: `path` runs from the entity to the one
    whose licence states the term; `sources[i]` backs step i (the edge from
    path[i] to path[i + 1]), and the last source backs the licence itself.
    Path and sources are rebuilt from the shared steps each time they are read."""

    term: str
    kind: str
    licence: str
    arrival: _Arrival = field(repr=False)

    @classmethod
    def along(cls, term: str, kind: str, licence: str, path: tuple[str, ...], sources: tuple[str, ...]) -> Term:
        """A term with a path given whole (as tests and callers outside the walk write it)."""
        arrival = None
        for node, source in zip(reversed(path), reversed(sources)):
            arrival = _Arrival.start(term, kind if node == path[0] else "own", licence, node, source, arrival)
        return _term(arrival)

    @property
    def path(self) -> tuple[str, ...]:
        return tuple(step.node for step in self.arrival.steps())

    @property
    def sources(self) -> tuple[str, ...]:
        return tuple(step.source for step in self.arrival.steps())

    @property
    def origin(self) -> str:
        """The entity whose licence (or output terms) states the term: the path's end."""
        return self.arrival.origin

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Term) and (self.term, self.kind, self.licence, self.arrival.digest) == (other.term, other.kind, other.licence, other.arrival.digest)

    def __hash__(self) -> int:
        return hash((self.term, self.kind, self.licence, self.arrival.digest))

    def __repr__(self) -> str:
        return f"Term({self.term!r}, {self.kind!r}, {self.licence!r}, {self.path!r})"


def _term(arrival: _Arrival) -> Term:
    return Term(arrival.term, arrival.kind, arrival.licence, arrival)


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
class Condition:
    """A condition of commercial use (a user threshold, a notice, a name prefix...),
    stated by `licence`, in words (`says`), with the paths that bring it."""

    term: str
    licence: str
    says: str
    paths: tuple[Term, ...]


@dataclass(frozen=True)
class Declared:
    """One licence the entity's sources name: whether it governs, where it was stated, and the evidence."""

    licence: str
    governs: bool
    where: tuple[str, ...]
    sources: tuple[str, ...]
    scope: str | None = None  # "code": stated for the code beside the weights or data, no claim on them


class EffectiveTerms:
    """The effective terms of one entity. `unknown` (ancestors whose terms are not
    recorded, each with its shortest path) is found when first read."""

    def __init__(self, entity: str, declared: tuple[Declared, ...], commercial_use: bool | None, terms: tuple[Term, ...],
                 conflicts: tuple[Conflict, ...], conditions: tuple[Condition, ...] = (), paths_omitted: int = 0,
                 unknown: tuple[Gap, ...] | None = None, find_unknown=None,  # noqa: ANN001
                 own_gap: Gap | None = None, gap_parents: tuple[str, ...] = (),
                 as_of: str | None = None, earlier: tuple[tuple[str, str, bool | None], ...] = ()) -> None:
        self.entity = entity
        self.declared = declared
        self.commercial_use = commercial_use  # None: not known
        self.terms = terms
        self.conflicts = conflicts
        self.conditions = conditions
        self.paths_omitted = paths_omitted  # paths past MAX_PATHS, here or upstream; 0 on any real catalog so far
        self._unknown = unknown
        self._find_unknown = find_unknown
        self.own_gap = own_gap  # the entity itself, when its terms are unknown
        # A licence that changed over time: the date the governing licence is stated from, and each
        # earlier dated licence as (from, licence, its own commercial use: True, False or None).
        self.as_of = as_of
        self.earlier = earlier
        self.gap_parents = gap_parents  # parents through which ancestors with unknown terms are reached

    @property
    def verdict(self) -> str:
        """allowed / allowed, with conditions / not allowed / not known."""
        return WITH_CONDITIONS if self.commercial_use is True and self.conditions else VERDICTS[self.commercial_use]

    @property
    def unknown(self) -> tuple[Gap, ...]:
        if self._unknown is None:
            self._unknown = self._find_unknown() if self._find_unknown is not None else ()
        return self._unknown

    def to_dict(self) -> dict:
        """The JSON shape of `kg terms --format json` (`as_of` and `earlier` only for a licence that changed over time)."""
        history = {"as_of": self.as_of, "earlier": [list(e) for e in self.earlier]} if self.as_of and self.earlier else {}
        return {
            "entity": self.entity,
            "declared": [{"licence": d.licence, "governs": d.governs, "where": list(d.where), "sources": list(d.sources),
                          **({"scope": d.scope} if d.scope is not None else {})} for d in self.declared],
            "commercial_use": self.commercial_use,
            "verdict": self.verdict,
            "conditions": [{"term": c.term, "licence": c.licence, "says": c.says, "paths": [_path_dict(p) for p in c.paths]} for c in self.conditions],
            "terms": [_path_dict(t) for t in self.terms],
            "conflicts": [{"kind": c.kind, "message": c.message, "licences": list(c.licences), "paths": [_path_dict(p) for p in c.paths]} for c in self.conflicts],
            "unknown": [{"entity": g.entity, "path": list(g.path), "sources": list(g.sources)} for g in self.unknown],
            "paths_omitted": self.paths_omitted,
            **history,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=2)


def _path_dict(term: Term) -> dict:
    return {"term": term.term, "kind": term.kind, "licence": term.licence, "path": list(term.path), "sources": list(term.sources)}


@dataclass
class _Reached:
    arrivals: list[_Arrival]
    own_gap: bool  # the entity's own terms are unknown
    upstream_gap: bool  # some ancestor's terms are unknown, reached along passing edges
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
    terms = tuple(_term(a) for a in sorted(reached.arrivals, key=lambda a: _arrival_order(rules, a)))
    commercial_use = _commercial_use(graph, licenses, entity, terms)
    return EffectiveTerms(
        entity=entity,
        declared=_declared(graph, entity),
        commercial_use=commercial_use,
        terms=terms,
        conflicts=_conflicts(graph, licenses, entity, terms),
        conditions=_conditions(licenses, rules, terms),
        paths_omitted=reached.omitted,
        find_unknown=lambda: _gaps(graph, licenses, entity, rules) if reached.own_gap or reached.upstream_gap else (),
        own_gap=Gap(entity, (entity,), (_first_source(graph.nodes[entity]),)) if reached.own_gap else None,
        gap_parents=tuple(gap_parents(graph, licenses, entity, rules, cache)),
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


def _arrival_order(rules: Rules, arrival: _Arrival) -> tuple:
    return (list(rules.terms).index(arrival.term), KINDS.index(arrival.kind), arrival.licence, arrival.length, _PathOrder(arrival))


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
    """A node's arrivals: its own terms, then each parent's that the edge's rule
    passes, each a new first step on the parent's arrival (no path is copied)."""
    data = graph.nodes[node]
    arrivals = _own_arrivals(data, licenses, node, rules)
    upstream_gap = False
    omitted = 0
    for parent, edge in _passing_edges(graph, node, rules):
        if parent not in cache:  # a cycle: refused by the catalog, skipped here rather than looping
            continue
        rule, evidence = edge["rule"], edge["evidence"]
        inherited = cache[parent]
        omitted += inherited.omitted
        upstream_gap = upstream_gap or inherited.upstream_gap or (inherited.own_gap and not _excused(graph, parent, edge))
        # A parent that holds a licence itself is the nearest source of its terms:
        # paths through it to farther holders of the same licence add nothing.
        held = {(a.term, a.licence) for a in inherited.arrivals if a.length == 1}
        for arrival in inherited.arrivals:
            arrives = rule.passes.get(arrival.kind)
            if arrival.length > 1 and (arrival.term, arrival.licence) in held:
                continue
            if arrives and _rule_passes(rule, arrival, licenses):
                arrivals.append(_Arrival.start(arrival.term, arrives, arrival.licence, node, evidence, arrival))
    kept, dropped = _bounded(arrivals)
    own_gap = data["kind"] in SUBJECTS and data.get("license") not in licenses
    return _Reached(kept, own_gap, upstream_gap, omitted + dropped)


def _rule_passes(rule: Rule, arrival: _Arrival, licenses: Mapping[str, License]) -> bool:
    """Whether the rule lets this term through: it is among the rule's terms, or the
    rule follows outputs and the term's licence says it reaches models trained on them."""
    if rule.terms is None or arrival.term in rule.terms:
        return True
    if not rule.output_reach or arrival.licence not in licenses:
        return False
    reach = licenses[arrival.licence].output_reach
    return reach == "all" or (reach is not None and arrival.term in reach)


def _excused(graph: nx.MultiDiGraph, parent: str, edge: dict) -> bool:
    """A generator whose output terms are recorded leaves no gap on its outputs."""
    return edge["field"] == "generated_by" and bool(graph.nodes[parent].get("output_terms"))


def _bounded(arrivals: list[_Arrival]) -> tuple[list[_Arrival], int]:
    """The arrivals without repeats, at most MAX_PATHS paths (the shortest) for each
    term, kind and licence: merges of merges could otherwise multiply paths."""
    groups: dict[tuple[str, str, str], dict[str, _Arrival]] = {}
    for arrival in arrivals:
        groups.setdefault((arrival.term, arrival.kind, arrival.licence), {}).setdefault(arrival.digest, arrival)
    kept, omitted = [], 0
    for group in groups.values():
        ordered = sorted(group.values(), key=lambda a: (a.length, _PathOrder(a)))
        kept += ordered[:MAX_PATHS]
        omitted += max(0, len(ordered) - MAX_PATHS)
    return kept, omitted


def _gaps(graph: nx.MultiDiGraph, licenses: Mapping[str, License], start: str, rules: Rules) -> tuple[Gap, ...]:
    """Every ancestor whose terms are unknown, each with its shortest path (the
    first in the order of parents when several tie): a breadth-first walk from
    `start`, so the work is that of one entity's lineage, nothing kept after."""
    found: dict[str, Gap] = {}
    if _unknown(graph, licenses, start):
        found[start] = Gap(start, (start,), (_first_source(graph.nodes[start]),))
    way: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {start: ((start,), ())}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        path, sources = way[node]
        for parent, edge in _passing_edges(graph, node, rules):
            if parent not in way:
                way[parent] = ((*path, parent), (*sources, edge["evidence"]))
                queue.append(parent)
            if parent not in found and _unknown(graph, licenses, parent) and not _excused(graph, parent, edge):
                found[parent] = Gap(parent, (*path, parent), (*sources, edge["evidence"], _first_source(graph.nodes[parent])))
    return tuple(sorted(found.values(), key=lambda g: (len(g.path), g.path)))


def _unknown(graph: nx.MultiDiGraph, licenses: Mapping[str, License], node: str) -> bool:
    data = graph.nodes[node]
    return data["kind"] in SUBJECTS and data.get("license") not in licenses


def gap_parents(graph: nx.MultiDiGraph, licenses: Mapping[str, License], entity: str, rules: Rules,
                cache: Mapping[str, _Reached]) -> list[str]:
    """The parents through which an ancestor with unknown terms reaches `entity`
    (after `compute_all` filled `cache`): what the export links to with
    `odrl:inheritFrom` rather than listing every such ancestor on every descendant."""
    found = set()
    for parent, edge in _passing_edges(graph, entity, rules):
        reached = cache.get(parent)
        if reached is not None and (reached.upstream_gap or (reached.own_gap and not _excused(graph, parent, edge))):
            found.add(parent)
    return sorted(found)


def _own_arrivals(data: dict, licenses: Mapping[str, License], node: str, rules: Rules) -> list[_Arrival]:
    arrivals = []
    governing = data.get("license")
    if governing in licenses:
        evidence = _licence_evidence(data, governing)
        arrivals += [_Arrival.start(name, "own", governing, node, evidence) for name in _terms_of(licenses[governing], rules)]
    for stated in data.get("output_terms", ()):
        if stated["license"] in licenses:
            arrivals += [_Arrival.start(name, "output", stated["license"], node, stated["source"]) for name in _terms_of(licenses[stated["license"]], rules)]
    return arrivals


def _terms_of(license: License, rules: Rules) -> list[str]:
    return [name for name, definition in rules.terms.items() if definition.made_by(license)]


def _conditions(licenses: Mapping[str, License], rules: Rules, terms: tuple[Term, ...]) -> tuple[Condition, ...]:
    """The conditions among the terms, one per term and licence, in words, with their paths."""
    grouped: dict[tuple[str, str], list[Term]] = {}
    for term in terms:
        if rules.terms[term.term].condition:
            grouped.setdefault((term.term, term.licence), []).append(term)
    found = []
    for (name, licence), paths in grouped.items():
        definition = rules.terms[name]
        value = getattr(licenses[licence], definition.field) if licence in licenses else None
        says = (definition.says or name).format(value=value)
        found.append(Condition(name, licence, says, tuple(paths)))
    return tuple(found)


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
    """Five kinds: a declared licence allowing commercial use that the lineage forbids;
    a declared licence without the use restrictions its weights must carry on;
    a share-alike term whose licence the entity does not carry; a licence of the
    weights that stays with derived models while another governs (keeps-licence);
    and inherited terms that cannot all be met (two share-alike licences, or
    share-alike with no commercial use)."""
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
        stated = _term(_Arrival.start("declared", "own", statement.licence, node, statement.sources[0]))
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
    kept = [t for t in inherited if t.term == "keeps-licence" and t.kind == "weights"]
    for licence in sorted({t.licence for t in kept} - {governing}):
        if governing is not None:
            found.append(Conflict(
                "keeps-licence",
                f"{licence} stays with models made from its weights, but {governing} governs",
                (governing, licence), tuple(t for t in kept if t.licence == licence)))
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
    """The text `kg terms` prints: the verdict, the conditions it carries, then each
    other term, each as a tree of the paths that bring it."""
    name = graph.nodes[result.entity]["name"]
    lines = [f"{result.entity} ({name})", f"commercial use: {result.verdict}" + (f" (as of {result.as_of})" if result.as_of else "")]
    data = graph.nodes[result.entity]
    if result.commercial_use is None and data.get("imported") and "license" in data and "license_scope" not in data:
        lines.append(f"  {data['license']} is from a source that does not say it covers the {'weights' if data['kind'] == 'model' else 'data'} (it may be the code's)")
    for day, licence, allowed in result.earlier:
        lines.append(f"  before {result.as_of}: {licence} from {day}, commercial use {VERDICTS[allowed]} by that licence alone")
    for declared in result.declared:
        where = f" ({', '.join(declared.where)})" if declared.where else ""
        lines.append(f"{'governing licence' if declared.governs else 'also stated'}: {declared.licence}{where}{' for the code only' if declared.scope == 'code' else ''}")
    if result.conditions:
        lines.append("conditions:")
        lines += _tree(graph, [(f"{c.term}: {c.says} ({c.licence})", c.paths) for c in result.conditions])
    shown = {(c.term, c.licence) for c in result.conditions}
    groups: dict[tuple[str, str], list[Term]] = {}
    for term in result.terms:
        if (term.term, term.licence) not in shown:
            groups.setdefault((term.term, term.licence), []).append(term)
    lines.append("terms:" if groups else "terms: (none recorded)")
    lines += _tree(graph, [(f"{term}: {licence} ({_licence_name(licenses, licence)})", paths) for (term, licence), paths in groups.items()])
    if result.unknown:
        lines.append("not recorded (terms unknown):")
        lines += _gap_lines(graph, result.unknown)
    if result.conflicts:
        lines.append("conflicts:")
        for conflict in result.conflicts:
            lines.append(f"  ! {conflict.kind}: {conflict.message}")
            lines += [f"      {p.licence}: {format_path(graph, p.path)}  <{p.sources[-1]}>" for p in conflict.paths]
    return "\n".join(lines)


def _gap_lines(graph: nx.MultiDiGraph, gaps: Iterable[Gap]) -> list[str]:
    """One line per ancestor whose terms are unknown. A path whose next-to-last entity was listed above
    says only its last step, after `… ` and that entity (the way there is the one above): on a long
    chain the text then grows with the chain, not with its square."""
    printed: set[str] = set()
    lines = []
    for gap in gaps:
        if len(gap.path) > 2 and gap.path[-2] in printed:
            lines.append(f"  … {format_path(graph, gap.path[-2:])}")
        else:
            lines.append(f"  {format_path(graph, gap.path)}")
        printed.add(gap.entity)
    return lines


def _tree(graph: nx.MultiDiGraph, groups: list[tuple[str, Iterable[Term]]]) -> list[str]:
    """Each heading with its paths under it, drawn as a tree."""
    lines = []
    for g, (heading, paths) in enumerate(groups):
        last_group = g == len(groups) - 1
        lines.append(f"{'└── ' if last_group else '├── '}{heading}")
        prefix = "    " if last_group else "│   "
        paths = list(paths)
        for i, path in enumerate(paths):
            lines.append(f"{prefix}{'└── ' if i == len(paths) - 1 else '├── '}{path.kind}: {format_path(graph, path.path)}  <{path.sources[-1]}>")
    return lines


def format_path(graph: nx.MultiDiGraph, path: tuple[str, ...]) -> str:
    """`a -> fine-tuned from b -> trained on c`: each step with the relation that joins it.
    Joined once at the end: adding to a growing string would cost the square of a long path."""
    parts = [path[0]]
    for child, parent in zip(path, path[1:]):
        relations = sorted(graph.get_edge_data(child, parent, default={}))
        parts.append(f"{RELATION_LABELS.get(relations[0], relations[0]) if relations else 'from'} {parent}")
    return " -> ".join(parts)


def _licence_name(licenses: Mapping[str, License], licence: str) -> str:
    return licenses[licence].name if licence in licenses else licence


def format_conflicts(results: Mapping[str, EffectiveTerms]) -> str:
    """One line per conflict of every entity: what `kg terms --conflicts` prints."""
    lines = [f"{entity}: {c.kind}: {c.message}" for entity, result in sorted(results.items()) for c in result.conflicts]
    return "\n".join(lines) if lines else "no conflicts"
