"""Merge records read from other trackers into the catalog, keeping every claim beside its source.

Identity, the rules in order (docs/reference/identity.md):
1. own id: the record's id in its source (`dpc:<collection>/<dataset>`...)
   equals one a curated entity lists in `same_as`, or one an earlier record
   of that source had;
2. explicit link: one of the record's external ids (a Hugging Face repo id)
   equals a curated entity's `links.huggingface`, a `same_as` id or an alias
   written as a Hub id (`meta-llama/Llama-2-7b-hf`), case-insensitively;
3. name: its name or an alias equals an entity's name or alias (`normalise`:
   case, spaces and punctuation aside; `+`, versions and sizes kept), among
   entities of the same kind whose owners do not differ from the record's.
Two or more candidates make the match ambiguous: reported, never merged. An
unmatched record becomes a new entity whose id is made from its source id.
Every decision is kept (`Merged.decisions`, `kg import --explain NAME`).

Mentions (free-text references) are resolved the same way, against curated
and new entities, and a provider's name before a model's ('OpenAI GPT-4') is
read as that provider's model; what stays unresolved is kept by name and counted.

Claims: for each entity and scalar field, the curated value is claim zero and
accepted; without one, the first source in `order` wins. Values that differ
(a partial date agrees with the full date it contains) make a conflict.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections import defaultdict
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping

import networkx as nx
import yaml
from rdflib import Dataset, Graph, URIRef
from rdflib.namespace import DCTERMS, ODRL2, PROV, RDF, RDFS, XSD

from kg.catalog import Catalog
from kg.entities import FOLDERS
from kg.errors import CatalogError, Problem, RequestError, suggest
from kg.graph import LINEAGE_FIELDS, RELATION_LABELS
from kg.publish import write_atomically
from kg.rdf import DATE_TYPES, license_iri, super_terms
from kg.stream import Block, iri, literal, term
from kg.reader import read_yaml
from kg.sources import SOURCE_NAMES, Claim, Mention, Origin, Record, normalise, read_source
from kg.vocab import CLASSES, DERIVATIONS, ID, KINDS, LKG, REFERENCES, SCHEMA, fits, record_iri

SCALAR_FIELDS = ("license", "released", "parameters", "records", "uploaded")
# Reference fields whose targets are compared: an imported target the catalog does not list is a conflict.
EDGE_FIELDS = ("derived_from", "developers")
CURATED = "catalog"
log = logging.getLogger("kg")
SHOWN_WARNINGS = 20  # a dump of millions can hold thousands of odd values: the first ones and a count
DEFAULT_ORDER = ("huggingface", "open-llms", "ecosystem-graphs", "dpc")
# Sources whose records are distinct by their own ids: never merged with each other by name.
DISTINCT_RECORDS = ("dpc",)


# Compiled once: re.sub(pattern, ...) looks each pattern up in re's cache, a third of the cost at a million names.
_NOT_SLUG = re.compile(r"[^a-z0-9.]+")
_DASHES = re.compile(r"-+")
_HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]+")


def hub_id_of(text: str) -> str | None:
    """'huggingface:<owner>/<name>' when `text` is written as a Hub repo id (an alias such as 'meta-llama/Llama-2-7b-hf')."""
    return f"huggingface:{text}" if _HUB_ID.fullmatch(text) else None


def huggingface_id(url: str) -> str | None:
    """'huggingface:<owner>/<name>' (datasets too) for a huggingface.co URL."""
    match = re.match(r"https?://huggingface\.co/(?:datasets/|spaces/)?([^/#?]+/[^/#?]+)", url)
    return f"huggingface:{match.group(1)}" if match else None


def _slug(text: str) -> str:
    text = unicodedata.normalize("NFKD", text).casefold().replace("+", "-plus-")  # 'Command R+' is not 'Command R' in an id either
    return _DASHES.sub("-", _NOT_SLUG.sub("-", text)).strip("-.") or "x"


@dataclass(slots=True)
class Reference:
    """A mention from an entity, resolved to a target id or left unresolved (target None)."""
    entity: str
    mention: Mention
    target: str | None
    candidates: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Edge:
    """An imported reference accepted into the lineage: an edge of the one graph that every view reads
    (graph.json, `kg lineage`, the page, `kg terms`, the API, the RDF and the store)."""
    entity: str
    target: str
    field: str  # the catalog field it stands for: derived_from, trained_on, generated_by, developers, dependencies
    relation: str  # the derivation's relation (based-on, derived: a source that does not say how), else the field
    origin: Origin


@dataclass
class Merged:
    records: list[Record]
    matched: list[tuple[Record, str, str]] = field(default_factory=list)  # record, entity id, how
    new: dict[str, list[Record]] = field(default_factory=dict)  # new entity id -> its records
    ambiguous: list[tuple[Record, tuple[str, ...]]] = field(default_factory=list)
    references: list[Reference] = field(default_factory=list)
    claims: dict[tuple[str, str], list[tuple[Claim, bool]]] = field(default_factory=dict)  # (entity, field) -> (claim, accepted)
    edges: list[Edge] = field(default_factory=list)  # the resolved references accepted as lineage (see accept_edges)
    decisions: list["Decision"] = field(default_factory=list)  # with merge(..., explain=NAME): how the records NAME names were placed

    # Computed once, after kg.merge.merge has filled the fields (they are read several times for a report).
    @cached_property
    def unresolved(self) -> list[Reference]:
        return [r for r in self.references if r.target is None]

    @cached_property
    def conflicts(self) -> dict[tuple[str, str], list[tuple[Claim, bool]]]:
        return {key: claims for key, claims in self.claims.items() if not _agree_on(key[1], claims)}

    def counts(self) -> dict[str, int]:
        return {
            "read": len(self.records),
            "matched": len(self.matched),
            "new": len(self.new),
            "ambiguous": len(self.ambiguous),
            "references": len(self.references),
            "resolved": len(self.references) - len(self.unresolved),
            "unresolved": len(self.unresolved),
            "conflicting": len(self.conflicts),
        }


def _agree_on(name: str, claims: list[tuple[Claim, bool]]) -> bool:
    if name not in EDGE_FIELDS:
        # The code's licence says nothing about the weights or the data: it disagrees with no one.
        return _agree([c.value for c, _ in claims if c.scope != "code"])
    curated = {c.value for c, _ in claims if c.origin.source == CURATED}
    # Without a curated value there is nothing to disagree with; several sources may list several targets.
    return not curated or {c.value for c, _ in claims} <= curated


def _agree(values: list[Any]) -> bool:
    texts = sorted({str(v) for v in values}, key=len)
    if not all(re.fullmatch(r"\d{4}(-\d\d){0,2}", t) for t in texts):
        return len(texts) <= 1
    # Dates agree when each is a prefix of the next longer one (2023, 2023-03 and 2023-03-30).
    return all(longer.startswith(shorter) for shorter, longer in zip(texts, texts[1:]))


class _Index:
    """Ids by explicit external id, by kind and normalised name, and the owners of each id.

    A key held by one id maps to the id itself, by several to a set: a
    million imported records make a million keys, and a set each would
    double the merge's memory (owners likewise: one key is kept as a string).
    """
    def __init__(self) -> None:
        self.explicit: dict[str, str | set[str]] = {}
        self.names: dict[str, str | set[str]] = {}
        self.owners: dict[str, str | frozenset[str]] = {}

    def add(self, entity_id: str, kind: str, names: Iterable[str], external: Iterable[str], owners: Iterable[str] = ()) -> None:
        for name in names:
            if normalise(name):
                _hold(self.names, f"{kind} {normalise(name)}", entity_id)
        for ext in external:
            _hold(self.explicit, ext.casefold(), entity_id)
        owners = frozenset(owners) | _as_owners(self.owners.get(entity_id))
        if owners:
            self.owners[entity_id] = next(iter(owners)) if len(owners) == 1 else owners

    def owners_of(self, entity_id: str) -> frozenset[str]:
        return _as_owners(self.owners.get(entity_id))

    def find(self, kind: str, names: Iterable[str], external: Iterable[str], owners: frozenset[str] = frozenset(), own: str | None = None) -> tuple[set[str], str, list[str]]:
        """The ids a record or mention may be, the rule that found them, and why other candidates were set aside."""
        notes: list[str] = []
        for ext in external:
            held = self.explicit.get(ext.casefold())
            if not held:
                continue
            found = {held} if isinstance(held, str) else set(held)  # a copy: the index's own sets stay as they are
            other = {i for i in found if not i.startswith(kind + "/")} if kind != "any" else ()
            if other:
                notes += [f"{ext} is also the id of {i}, not a {kind}" for i in sorted(other)]
                found -= other
            if found:
                return found, f"{'own id' if ext == own else 'explicit link'} {ext}", notes
        for name in names:
            if kind != "any":
                held = self.names.get(f"{kind} {normalise(name)}")
                found = {held} if isinstance(held, str) else set(held or ())
            else:
                found = {i for k in KINDS for i in _as_set(self.names.get(f"{k} {normalise(name)}", ()))}
            if not found:
                continue
            apart = {i for i in found if owners_differ(owners, self.owners_of(i))} if owners else ()
            if apart:
                notes += [f"name '{name}' is also {i}'s, but its owners ({', '.join(sorted(self.owners_of(i)))}) are not the record's ({', '.join(sorted(owners))})" for i in sorted(apart)]
                found -= apart
            if found:
                return found, f"name '{name}'", notes
        return set(), "", notes


def _as_owners(held: str | frozenset[str] | None) -> frozenset[str]:
    return frozenset((held,)) if isinstance(held, str) else held or frozenset()


def owners_differ(one: frozenset[str], other: frozenset[str]) -> bool:
    """True when both sides name owners and none of one side's is one of the other's.

    Owners are normalised names and Hub namespaces; a longer name containing
    another counts as the same owner ('stanford' and 'stanfordcrfm', 'meta' and
    'metaai'), for names of four letters or more.
    """
    if not one or not other:
        return False
    return not any(a == b or (min(len(a), len(b)) >= 4 and (a in b or b in a)) for a in one for b in other)


def _hold(index: dict[str, str | set[str]], key: str, entity_id: str) -> None:
    held = index.get(key)
    if held is None:
        index[key] = entity_id
    elif isinstance(held, str):
        if held != entity_id:
            index[key] = {held, entity_id}
    else:
        held.add(entity_id)


def _as_set(held: str | set[str] | tuple) -> set[str] | tuple:
    return {held} if isinstance(held, str) else held


def _hub_ids(entity: Any) -> list[str]:
    """An entity's Hugging Face ids: its `links.huggingface`, its `same_as` Hub ids and the aliases written as Hub ids."""
    ids = [i for i in getattr(entity, "same_as", None) or [] if i.casefold().startswith("huggingface:")]
    if entity.links and getattr(entity.links, "huggingface", None) and huggingface_id(entity.links.huggingface):
        ids.append(huggingface_id(entity.links.huggingface))
    return ids + [hub for hub in map(hub_id_of, entity.aliases) if hub]


def _namespace(hub_id: str) -> str:
    return normalise(hub_id.removeprefix("huggingface:").split("/")[0]) if "/" in hub_id else ""


def _curated_index(catalog: Catalog) -> _Index:
    index = _Index()
    entities = catalog.entities
    for entity_id, entity in entities.items():
        hub = _hub_ids(entity)
        external = [*(getattr(entity, "same_as", None) or []), *hub]
        # Owners: the developers' ids, names and aliases, and the namespaces of the Hub ids of the entity and of its developers.
        owners = {normalise(n) for n in map(_namespace, hub) if n}
        for ref in getattr(entity, "developers", None) or []:
            developer = entities.get(ref.id)
            owners.add(normalise(ref.id.split("/")[-1]))
            if developer is not None:
                owners |= {key for n in (developer.name, *developer.aliases) for key in _owner_keys(n)} | {n for n in map(_namespace, _hub_ids(developer)) if n}
        index.add(entity_id, entity.kind, [entity.name, *entity.aliases, *([entity.name_zh] if entity.name_zh else [])], external, owners - {""})
    return index


def owners_of(record: Record) -> frozenset[str]:
    """A record's owners: the developers it names and the namespaces of its Hub ids."""
    named = {key for m in record.mentions if m.field == "developers" for key in _owner_keys(m.text)}
    return frozenset((named | {_namespace(e) for e in record.external_ids}) - {""})


def _owner_keys(name: str) -> set[str]:
    """An owner's name as matched, and for a name of three words or more its initials too ('Data Is Better Together' is 'dibt')."""
    words = re.findall(r"[^\W_]+", name)
    return {normalise(name), *(["".join(w[0] for w in words).casefold()] if len(words) >= 3 else [])}


@dataclass(slots=True)
class Decision:
    """How one record was placed: the entity it joined (None: ambiguous), the rule, and candidates set aside."""
    record: Record
    entity: str | None
    rule: str
    notes: list[str]


def merge(catalog: Catalog, records: list[Record], order: Iterable[str] = DEFAULT_ORDER, explain: str | None = None) -> Merged:
    """Resolve every record and mention against the catalog and each other; collect claims.

    With `explain`, the decisions about the records that `explains` it are kept in `Merged.decisions`.
    """
    merged = Merged(records)
    curated = _curated_index(catalog)
    imported = _Index()
    owner: dict[int, str] = {}
    for position, record in enumerate(records):
        names = [record.name, *record.aliases]
        own = f"{record.source}:{record.source_id}"
        external = [own, *record.external_ids] if own not in record.external_ids else record.external_ids  # a Hub record's own id is its Hub id
        owners = owners_of(record)
        own = None if own in record.external_ids else own
        found, how, notes = curated.find(record.kind, names, external, owners, own)
        if len(found) > 1:
            merged.ambiguous.append((record, tuple(sorted(found))))
            if explain is not None and explains(record, explain):
                merged.decisions.append(Decision(record, None, f"ambiguous by {how}: {', '.join(sorted(found))}", notes))
            continue
        if found:
            owner[position] = next(iter(found))
            merged.matched.append((record, owner[position], how))
        else:
            found, how, more = imported.find(record.kind, names, external, owners, own)
            notes += more
            if record.source in DISTINCT_RECORDS and how.startswith("name"):
                # Its other records are other datasets whatever their names ('math_qa' and 'mathqa' are two SNI tasks).
                alike = {i for i in found if all(r.source == record.source for r in merged.new[i])}
                notes += [f"{how} is also {i}'s, another record of {record.source}: its records are distinct by id" for i in sorted(alike)]
                found -= alike
            if len(found) == 1:
                entity_id = next(iter(found))
                how = f"joins {entity_id}, imported, by {how}"
            else:
                entity_id = _new_id(record, merged.new, catalog)
                merged.new[entity_id] = []
                how = "new entity" + (f" (several imported candidates by {how}: {', '.join(sorted(found))})" if found else "")
            merged.new[entity_id].append(record)
            imported.add(entity_id, record.kind, names, external, owners)
            owner[position] = entity_id
        if explain is not None and explains(record, explain):
            merged.decisions.append(Decision(record, owner[position], how, notes))
    for position, record in enumerate(records):
        if position not in owner:
            continue
        for mention in record.mentions:
            merged.references.append(_resolve(owner[position], mention, curated, imported))
    _collect_claims(catalog, records, owner, list(order), merged)
    _collect_edge_claims(catalog, merged)
    merged.edges = accept_edges(catalog, merged)
    return merged


# A source's `dependencies` (Ecosystem Graphs), by the kinds of the two ends -> the catalog field it stands for.
# A model another model depends on is its base model, as far as the source says; other pairs stay dependencies.
DEPENDENCY_FIELDS = {("model", "model"): "derived_from", ("model", "dataset"): "trained_on",
                     ("dataset", "dataset"): "derived_from", ("dataset", "model"): "generated_by"}
# The relation of a derivation whose source does not say how: a model `based-on` another (read as reusing its
# weights: the cautious reading for terms), a dataset `derived` from another (its records kept).
UNSTATED_RELATIONS = {"model": "based-on", "dataset": "derived"}


def accept_edges(catalog: Catalog, merged: Merged) -> list[Edge]:
    """The one imported lineage: each resolved reference as the edge it stands for, once.

    New entities take every resolved reference. A curated entity keeps its
    reviewed edges: a source's reference is accepted only in a field its entry
    leaves empty (as for scalar claims); the others stay claims beside it.
    """
    kinds = {entity_id: records[0].kind for entity_id, records in merged.new.items()}
    edges: dict[tuple[str, str, str], Edge] = {}
    for ref in merged.references:
        if ref.target is None or ref.target == ref.entity:
            continue
        kind = kinds.get(ref.entity) or ref.entity.partition("/")[0]
        target_kind = ref.target.partition("/")[0]
        name = ref.mention.field
        if name == "dependencies":
            name = DEPENDENCY_FIELDS.get((kind, target_kind), "dependencies")
        if name == "derived_from":
            if kind != target_kind or kind not in UNSTATED_RELATIONS:
                continue  # a model is derived from models, a dataset from datasets: anything else is no derivation
            relation = ref.mention.relation or UNSTATED_RELATIONS[kind]
        else:
            relation = name
        if relation not in RELATION_LABELS:
            continue
        entity = catalog.entities.get(ref.entity)
        if entity is not None and any(field_name == name for field_name, _, _ in entity.edges):
            continue
        edges.setdefault((ref.entity, ref.target, relation), Edge(ref.entity, ref.target, name, relation, ref.mention.origin))
    return list(edges.values())


def explains(record: Record, text: str) -> bool:
    """Whether `text` names the record: its name, an alias, its source id (or that id's last part) or a Hub id, as `normalise` reads them."""
    wanted = normalise(text.removeprefix("huggingface:"))
    ids = [record.source_id, *(e.removeprefix("huggingface:") for e in record.external_ids)]
    names = (record.name, record.name.rsplit(": ", 1)[-1], *record.aliases)  # 'Longform: c4' is named by 'c4' too
    return bool(wanted) and wanted in {normalise(n) for n in (*names, *ids, *(i.rsplit("/", 1)[-1] for i in ids))}


def _collect_edge_claims(catalog: Catalog, merged: Merged) -> None:
    """Base models and developers of curated entities: the catalog's targets, then every source's resolved ones."""
    gathered: dict[tuple[str, str], list[Claim]] = defaultdict(list)
    for ref in merged.references:
        entity = catalog.entities.get(ref.entity)
        name = ref.mention.field
        if ref.target and entity is not None and name == "dependencies" and entity.kind == "model" and ref.target.startswith("model/"):
            name = "derived_from"  # a model another model depends on is its base model, as far as that source says
        if ref.target and entity is not None and name in EDGE_FIELDS:
            gathered[(ref.entity, name)].append(Claim(name, ref.target, ref.mention.origin))
    for (entity_id, name), claims in sorted(gathered.items()):
        entity = catalog.entities[entity_id]
        where = f"{catalog.paths[entity_id]}:{catalog.line_of(entity_id, (name,))}"
        curated = [Claim(name, ref.id, Origin(CURATED, where, ref.source or entity.sources[0].url)) for field_name, _, ref in entity.edges if field_name == name]
        merged.claims[(entity_id, name)] = [(claim, claim.origin.source == CURATED) for claim in curated + claims]


def _new_id(record: Record, taken: dict, catalog: Catalog) -> str:
    base = f"{record.kind}/{_slug(record.source)}-{_slug(record.source_id)}"
    entity_id, n = base, 2
    while entity_id in taken or entity_id in catalog.entities:
        entity_id, n = f"{base}-{n}", n + 1
    return entity_id


def _resolve(entity_id: str, mention: Mention, curated: _Index, imported: _Index) -> Reference:
    text = mention.text
    external = [text] if text.startswith("huggingface:") else []
    if "huggingface.co/" in text:
        external.append("huggingface:" + re.sub(r"^.*huggingface\.co/(datasets/)?", "", text).strip("/"))
    if hub_id_of(text):
        external.append(hub_id_of(text))
    names = [text.removeprefix("huggingface:").split("/")[-1]] if external else [text]
    for index in (curated, imported):
        found, _, _ = index.find(mention.kind, names, external)
        found = found - {entity_id}  # a copy: the index's own set must not change
        if not found and not external and index is curated:
            found = _by_provider(mention, curated) - {entity_id}
        if len(found) == 1:
            return Reference(entity_id, mention, next(iter(found)))
        if len(found) > 1:
            return Reference(entity_id, mention, None, tuple(sorted(found)))
    return Reference(entity_id, mention, None)


def _by_provider(mention: Mention, curated: _Index) -> set[str]:
    """'OpenAI GPT-4', 'Meta LLaMA': trackers put the provider before the model; the model must be that provider's."""
    if mention.kind not in ("model", "software", "any"):
        return set()
    words = mention.text.split()
    for cut in range(1, len(words)):
        provider, rest = normalise(" ".join(words[:cut])), " ".join(words[cut:])
        found, _, _ = curated.find(mention.kind, [rest], [])
        found = {i for i in found if curated.owners_of(i) and not owners_differ(frozenset((provider,)), curated.owners_of(i))}
        if found:
            return found
    return set()


def _collect_claims(catalog: Catalog, records: list[Record], owner: dict[int, str], order: list[str], merged: Merged) -> None:
    rank = {name: i for i, name in enumerate(order)}
    gathered: dict[tuple[str, str], list[Claim]] = defaultdict(list)
    for position, record in enumerate(records):
        for claim in record.claims:
            if position in owner and claim.field in SCALAR_FIELDS:
                gathered[(owner[position], claim.field)].append(claim)
    for (entity_id, name), claims in sorted(gathered.items()):
        claims.sort(key=lambda c: rank.get(c.origin.source, len(rank)))
        entity = catalog.entities.get(entity_id)
        value = getattr(entity, name, None) if entity is not None else None
        if value is not None:
            where = f"{catalog.paths[entity_id]}:{catalog.line_of(entity_id, (name,))}"
            claims.insert(0, Claim(name, value, Origin(CURATED, where, entity.sources[0].url)))
        # A licence of the code only is kept as a claim but never accepted as the thing's own.
        accepted = next((claim for claim in claims if claim.scope != "code"), None)
        merged.claims[(entity_id, name)] = [(claim, claim is accepted) for claim in claims]


def _origin_dict(origin: Origin) -> dict:
    return {name: getattr(origin, name) for name in ("source", "where", "url", "retrieved", "commit") if getattr(origin, name) is not None}


def add_to_graph(graph: nx.MultiDiGraph, merged: Merged, licenses: Iterable[str] = ()) -> None:
    """Curated nodes get `claims` (every source's value, the accepted one marked) and `imported_references`.

    New entities join the graph with only what traversals, the terms and the
    page need (`kind`, `name`, `sources`, `imported`; `license` and its
    `license_scope` when the accepted licence claim names one of `licenses`,
    and every such claim as `license_statements`); their other claims are in
    the RDF export (`imported_blocks`). Every accepted imported edge
    (`merged.edges`) joins the graph, marked with its source (`imported`).
    """
    known = set(licenses)
    for entity_id, records in merged.new.items():
        sources = [{"url": r.origin.url, "supports": f"{r.source} record {r.source_id}"} for r in records if r.origin.url]
        graph.add_node(entity_id, kind=records[0].kind, name=records[0].name, sources=sources, imported=True)
    for (entity_id, name), claims in merged.claims.items():
        if name == "license" and entity_id in merged.new:
            _add_licence(graph.nodes[entity_id], claims, known)
    for (entity_id, name), claims in merged.claims.items():
        if entity_id in graph and entity_id not in merged.new:
            graph.nodes[entity_id].setdefault("claims", []).extend(
                {"field": name, "value": c.value, "accepted": accepted, **({"scope": c.scope} if c.scope else {}), **_origin_dict(c.origin)}
                for c, accepted in claims
            )
    for edge in merged.edges:
        evidence = edge.origin.url or graph.nodes[edge.entity]["sources"][0]["url"]
        graph.add_edge(edge.entity, edge.target, key=edge.relation, field=edge.field, relation=edge.relation, evidence=evidence, imported=edge.origin.source)
    for ref in merged.references:
        if ref.entity in graph and ref.entity not in merged.new:
            row = {"field": ref.mention.field, "text": ref.mention.text, **_origin_dict(ref.mention.origin)}
            row.update({"target": ref.target} if ref.target else {"unresolved": True})
            graph.nodes[ref.entity].setdefault("imported_references", []).append(row)


def _add_licence(node: dict, claims: list[tuple[Claim, bool]], known: set[str]) -> None:
    """An imported entity's licence as kg.terms reads it: the accepted claim governs (with the scope its
    source gave, absent when not said); each claim of a known licence is a statement, the code's marked so."""
    statements = []
    for claim, accepted in claims:
        if claim.value not in known:
            continue
        if accepted:
            node["license"] = claim.value
            if claim.scope:
                node["license_scope"] = claim.scope
        scope = f"the {claim.scope}" if claim.scope else "scope not stated"
        statements.append({"license": claim.value, "where": f"{claim.origin.source}, {scope}", "source": claim.origin.url or node["sources"][0]["url"],
                           **({"scope": claim.scope} if claim.scope else {})})
    if statements:
        node["license_statements"] = statements


# A claim's field -> the predicates of its value (the catalog's own export writes a release date with both).
PREDICATES = {"license": (SCHEMA.license,), "released": (DCTERMS.issued, SCHEMA.datePublished), "parameters": (LKG.parameterCount,),
              "records": (LKG.recordCount,), "uploaded": (LKG.uploaded,)}
_DATE = re.compile(r"\d{4}(-\d\d){0,2}")

NamedBlock = tuple[str, str, list[tuple[str, str]]]  # graph, subject, (predicate, object) pairs: kg.stream writes them to kg.nq


def claims_to_rdf(rdf: Graph | Dataset, blocks: Iterable[Block], quads: Iterable[NamedBlock] = ()) -> None:
    """Add the imported part of an export (`imported_blocks`, and the shared policies `kg.build` puts
    before them) to an rdflib graph, the API's `.rdf` (a large merge is streamed instead); with a
    Dataset, the records' named graphs (`imported_quads`) too."""
    text = "".join(f"{subject} {p} {o} .\n" for subject, pairs in blocks for p, o in pairs)
    if isinstance(rdf, Dataset):
        text += "".join(f"{subject} {p} {o} {graph} .\n" for graph, subject, pairs in quads for p, o in pairs)
        rdf.parse(data=text, format="nquads")
    else:
        rdf.parse(data=text, format="nt")


class _Terms:
    """The N-Triples terms of an imported entity's RDF, made once per merge."""

    def __init__(self, licenses: Iterable[str]) -> None:
        self.licenses = set(licenses)
        supers = super_terms()
        self.types = {kind: [term(c) for c in (cls, *supers.get(cls, ()))] for kind, cls in CLASSES.items()}
        self.predicates = {name: [term(p) for p in ps] for name, ps in PREDICATES.items()}
        self.fitting = {(name, kind): [term(p) for p in ps if fits(p, kind)] for name, ps in PREDICATES.items() for kind in CLASSES}
        self.closed = {prop: {kind: [term(q) for q in (prop, *supers.get(prop, ())) if fits(q, kind)] for kind in CLASSES}
                       for prop in (*DERIVATIONS.values(), *REFERENCES.values(), PROV.wasDerivedFrom, LKG.dependsOn)}
        self.integer = str(XSD.integer)

    def value(self, field_name: str, value: Any) -> str:
        """A claimed value as an object: a licence the catalog knows as its IRI, a date typed by its precision."""
        if field_name == "license" and value in self.licenses:
            return term(license_iri(value))
        if isinstance(value, int) and not isinstance(value, bool):
            return literal(str(value), datatype=self.integer)
        text = str(value)
        if field_name in ("released", "uploaded") and _DATE.fullmatch(text):
            return literal(text, datatype=str(DATE_TYPES[text.count("-") + 1]))
        return literal(text)


def _entity(entity_id: str) -> str:
    return f"<{ID}{entity_id}>"  # ids are slugs (checked for curated ones, made by _slug for new ones): nothing to escape


def _property_of(field_name: str, relation: str | None) -> URIRef:
    """The property of a lineage reference: a derivation's by its relation (of unstated kind: prov's own), else the field's."""
    if field_name == "derived_from":
        return DERIVATIONS.get(relation or "", PROV.wasDerivedFrom)
    return REFERENCES.get(field_name, LKG.dependsOn)


def _placed(merged: Merged) -> Iterator[tuple[Record, str]]:
    """Each record that joined an entity (ambiguous ones did not), with that entity, in the order read."""
    owner = {id(record): entity_id for record, entity_id, _ in merged.matched}
    owner.update((id(record), entity_id) for entity_id, records in merged.new.items() for record in records)
    for record in merged.records:
        if id(record) in owner:
            yield record, owner[id(record)]


def imported_blocks(merged: Merged, licenses: Iterable[str], policies: Mapping[str, str] | None = None) -> Iterator[Block]:
    """The default graph of a merge, one subject at a time, terms in N-Triples form (see kg.stream).

    New entities: class, label, description, identifier, `dcterms:source`, their
    accepted values as plain triples (licence, dates, sizes), their accepted lineage
    (with the standard super-properties) and, from `policies` (entity id -> policy
    IRI term), `odrl:hasPolicy`. Curated entities get the lineage edges their entries
    leave empty. Then one `lkg:SourceRecord` node per placed record: what it
    describes, its source, place, day and version. Every claim of a record is in its
    named graph (`imported_quads`).
    """
    terms = _Terms(licenses)
    policies = policies or {}
    a, label, name, description, identifier = term(RDF.type), term(RDFS.label), term(SCHEMA.name), term(SCHEMA.description), term(DCTERMS.identifier)
    source, has_policy = term(DCTERMS.source), term(ODRL2.hasPolicy)
    accepted: dict[str, list[tuple[str, Any]]] = defaultdict(list)
    for (entity_id, field_name), claims in merged.claims.items():
        if entity_id in merged.new and field_name in PREDICATES:
            accepted[entity_id] += [(field_name, claim.value) for claim, ok in claims if ok]
    edges: dict[str, list[Edge]] = defaultdict(list)
    for edge in merged.edges:  # the same edges as the graph's (add_to_graph): one lineage for SPARQL and networkx
        edges[edge.entity].append(edge)
    for entity_id, records in merged.new.items():
        kind = records[0].kind
        pairs = [(a, t) for t in terms.types[kind]]
        where = ", ".join(sorted({r.source for r in records}))
        name_term = literal(records[0].name, lang="en")
        pairs += [(label, name_term), (name, name_term), (identifier, literal(entity_id)),
                  (description, literal(f"A {kind} known only from {where}; not reviewed for the catalog.", lang="en"))]
        pairs += [(source, iri(r.origin.url)) for r in records if r.origin.url]
        pairs += [(p, terms.value(field_name, value)) for field_name, value in accepted.pop(entity_id, ()) for p in terms.fitting[(field_name, kind)]]
        pairs += [(p, _entity(edge.target)) for edge in edges.pop(entity_id, ()) for p in terms.closed[_property_of(edge.field, edge.relation)][kind]]
        if entity_id in policies:
            pairs.append((has_policy, policies[entity_id]))
        yield _entity(entity_id), list(dict.fromkeys(pairs))
    for entity_id, kept in edges.items():  # curated entities' edges from sources, in fields their entries leave empty
        kind = entity_id.partition("/")[0]
        yield _entity(entity_id), list(dict.fromkeys((p, _entity(edge.target)) for edge in kept for p in terms.closed[_property_of(edge.field, edge.relation)][kind]))
    yield from _record_blocks(merged)


def _record_blocks(merged: Merged) -> Iterator[Block]:
    record_type, describes, source = term(LKG.SourceRecord), term(LKG.describes), term(DCTERMS.source)
    claim_source, claim_location, retrieved, commit = term(LKG.claimSource), term(LKG.claimLocation), term(LKG.retrieved), term(LKG.sourceCommit)
    a, date = term(RDF.type), str(XSD.date)
    for record, entity_id in _placed(merged):
        origin = record.origin
        pairs = [(a, record_type), (describes, _entity(entity_id)), (claim_source, literal(record.source)),
                 *([(source, iri(origin.url))] if origin.url else []),
                 (claim_location, literal(origin.where.removesuffix("#/"))),  # the whole JSON document of a row: its line says it
                 *([(retrieved, literal(origin.retrieved, datatype=date))] if origin.retrieved else []),
                 *([(commit, literal(origin.commit))] if origin.commit else [])]
        yield iri(record_iri(record.source, record.source_id)), pairs


def imported_quads(merged: Merged, licenses: Iterable[str]) -> Iterator[NamedBlock]:
    """Every claim of every placed record, accepted or not, in the graph named by the record's IRI
    (`kg.vocab.record_iri`): its values (`<entity> schema:license <licence>`), its resolved references
    (`<entity> lkg:fineTunedFrom <base>`) and, as `lkg:mentions "text"`, the names no entity answers to."""
    terms = _Terms(licenses)
    mentions = term(LKG.mentions)
    targets = {id(ref.mention): ref.target for ref in merged.references}
    for record, entity_id in _placed(merged):
        kind = entity_id.partition("/")[0]
        pairs = [(p, terms.value(claim.field, claim.value)) for claim in record.claims if claim.field in PREDICATES for p in terms.fitting[(claim.field, kind)]]
        for mention in record.mentions:
            target = targets.get(id(mention))
            pairs.append((term(_property_of(mention.field, mention.relation)), _entity(target)) if target else (mentions, literal(mention.text)))
        if pairs:
            yield iri(record_iri(record.source, record.source_id)), _entity(entity_id), list(dict.fromkeys(pairs))


def read_sources(sources: Iterable[tuple[str, str]] | dict, commit: str | None = None) -> list[Record]:
    """Read every (name, path); raise CatalogError listing all bad input of all sources at once."""
    pairs = list(sources.items()) if isinstance(sources, dict) else list(sources)
    problems: list[Problem] = []
    records: list[Record] = []
    for name, path in pairs:
        records += read_source(name, path, problems)
    if any(p.level == "error" for p in problems):
        raise CatalogError(problems)
    # Warnings (odd values a reader set aside, the record still read) go to the log: stderr under `kg`.
    for problem in sorted(problems)[:SHOWN_WARNINGS]:
        log.warning("%s", problem)
    if len(problems) > SHOWN_WARNINGS:
        log.warning("... and %d more warning(s) in the sources", len(problems) - SHOWN_WARNINGS)
    return records


def format_report(merged: Merged, limit: int | None = 20) -> str:
    """The merge report. Its first screen is about the catalog: the counts, then the
    disagreements of the sources with curated entities. Then the matches and
    ambiguities, the disagreements among imported records (grouped by field and
    sources), and the unresolved names (most frequent first); `limit` bounds the
    lines of each group and of the unresolved names (None: all)."""
    lines = [f"{key}: {value}" for key, value in merged.counts().items()]
    lines += ["", *format_conflicts(merged).splitlines()]
    lines.append("\nmatched:")
    lines += [f"  {r.source} '{r.name}' -> {entity_id} ({how})" for r, entity_id, how in merged.matched]
    lines.append("\nambiguous (not merged):")
    lines += [f"  {r.source} '{r.name}' ({r.origin.where}): {', '.join(c)}" for r, c in merged.ambiguous]
    lines += _imported_conflicts(merged, limit)
    unresolved: dict[str, int] = defaultdict(int)
    for ref in merged.unresolved:
        unresolved[ref.mention.text] += 1
    shown = len(unresolved) if limit is None else min(limit, len(unresolved))
    lines.append(f"\nunresolved ({len(unresolved)} distinct names; the {shown} most frequent):")
    lines += [f"  {n:>4}  {text}" for text, n in sorted(unresolved.items(), key=lambda kv: (-kv[1], kv[0]))[:shown]]
    return "\n".join(lines) + "\n"


def format_decisions(merged: Merged, name: str) -> str:
    """`kg import --explain NAME`: each record NAME names, the rule that placed it and the candidates set aside."""
    if not merged.decisions:
        return f"no record is named '{name}' (by name, alias, source id or Hub id)\n"
    lines = []
    targets = {id(ref.mention): ref for ref in merged.references}
    for decision in merged.decisions:
        record = decision.record
        lines.append(f"{record.source} '{record.name}' ({record.origin.where})")
        lines.append(f"  id: {record.source}:{record.source_id}" + "".join(f", {e}" for e in record.external_ids))
        lines.append(f"  -> {decision.entity or 'not merged'}: {decision.rule}")
        lines += [f"  not: {note}" for note in decision.notes]
        # Its lineage references: a part or a reformat is linked to its source here, never merged into it.
        for mention in record.mentions:
            ref = targets.get(id(mention))
            if ref is not None and mention.field in (*LINEAGE_FIELDS, "dependencies"):
                relation = f" ({mention.relation})" if mention.relation else ""
                lines.append(f"  {mention.field}{relation}: {mention.text} -> {ref.target or 'unresolved'}")
    return "\n".join(lines) + "\n"


def format_conflicts(merged: Merged, curated_only: bool = True, limit: int | None = None) -> str:
    """What `kg conflicts` prints: a summary line, every disagreement that touches a curated
    entity (the curated value first, the accepted one starred), then (unless `curated_only`)
    those among imported records only, grouped (`limit` entities a group; None: all)."""
    catalog = [(key, claims) for key, claims in sorted(merged.conflicts.items()) if key[0] not in merged.new]
    lines = [f"conflicts: {len(catalog)} with the catalog, {len(merged.conflicts) - len(catalog)} among imported records only", "",
             f"disagreements with the catalog ({len(catalog)}):" if catalog else "disagreements with the catalog: none"]
    for (entity_id, name), claims in catalog:
        lines.append(f"  {entity_id} {name}:")
        lines += [f"    {'*' if accepted else ' '} {c.value!s:<32} {c.origin.source} {c.origin.where}{_scope_note(c)}" for c, accepted in claims]
    if not curated_only:
        lines += _imported_conflicts(merged, limit)
    return "\n".join(lines) + "\n"


def _imported_conflicts(merged: Merged, limit: int | None) -> list[str]:
    """Disagreements on imported entities only, grouped by field and by the sources that disagree
    (the biggest group first); each entity on one line, the accepted value starred."""
    groups: dict[tuple[str, str], list[tuple[str, list]]] = defaultdict(list)
    for (entity_id, name), claims in sorted(merged.conflicts.items()):
        if entity_id in merged.new:
            groups[(name, " vs ".join(sorted({c.origin.source for c, _ in claims})))].append((entity_id, claims))
    lines = [f"\ndisagreements among imported records ({sum(map(len, groups.values()))}), by field and sources:"]
    for (name, sources), group in sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        lines.append(f"  {name}, {sources}: {len(group)} entit{'y' if len(group) == 1 else 'ies'}")
        for entity_id, claims in group[:limit]:
            lines.append(f"    {entity_id}: {' | '.join(dict.fromkeys(f'{c.value}{_scope_note(c)}' + ('*' if ok else '') for c, ok in claims))}")
        if limit is not None and len(group) > limit:
            lines.append(f"    ... and {len(group) - limit} more (kg build writes them all to sources-report.txt)")
    return lines


def _scope_note(claim: Claim) -> str:
    return f" (the {claim.scope})" if claim.scope else ""


DRAFT_LIMIT = 200  # above this many new entities a source is not "small": review it with kg conflicts instead


def write_drafts(root: "Path", merged: Merged) -> list[tuple["Path", "Path | None"]]:
    """Draft entries of the new entities under <root>/_drafts/<folder>/ (the loader skips '_' folders);
    return (file written, the draft it was written beside or None) for each.

    A draft has no description: the reviewer writes one in their own words
    and moves the file into the catalog. Each file is written whole or not at all.
    A draft already there is never overwritten: the same text is left alone, a
    different one (edited by its reviewer) is kept and the new draft is written
    beside it as <slug>.new.yaml.
    """
    if len(merged.new) > DRAFT_LIMIT:
        raise RequestError(f"{len(merged.new)} new entities is too many drafts to review", f"--write is for sources of at most {DRAFT_LIMIT} new entities")
    written = []
    for entity_id, records in sorted(merged.new.items()):
        kind, _, slug = entity_id.partition("/")
        entry: dict[str, Any] = {"id": entity_id, "name": records[0].name}
        for (owner_id, name), claims in merged.claims.items():
            if owner_id == entity_id:
                entry[name] = next(c.value for c, accepted in claims if accepted)
        entry["sources"] = [{"url": r.origin.url, "supports": f"{r.source} record {r.source_id} ({r.origin.where})"} for r in records if r.origin.url]
        text = "# Draft from kg import: check every value, write a description in your own words, then move it into the catalog.\n"
        path = Path(root) / "_drafts" / FOLDERS[kind] / f"{slug}.yaml"
        data = (text + yaml.safe_dump(entry, allow_unicode=True, sort_keys=False)).encode()
        kept = path if path.exists() else None
        if kept is not None:
            if kept.is_file() and kept.read_bytes() == data:
                continue
            path = path.with_name(f"{slug}.new.yaml")
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(path, data)
        written.append((path, kept))
    return written


SOURCES_FILE = "sources.yaml"


def sources_from_file(root: "Path") -> tuple[list[tuple[str, "Path"]], tuple[str, ...]] | None:
    """The sources listed in <root>/sources.yaml (paths relative to it), and their order; None without the file.

        sources:
          dpc: ../../shared/data/data-provenance-collection/data_summaries
        order: [huggingface, dpc]      # optional
    """
    path = Path(root) / SOURCES_FILE
    if not path.is_file():
        return None
    doc, problems = read_yaml(path, str(path))
    value = doc.value if doc is not None else None
    if doc is not None and not (isinstance(value, dict) and isinstance(value.get("sources"), dict)):
        problems.append(Problem(str(path), 1, "sources", "expected a mapping 'sources' of source name -> path"))
    if problems:
        raise CatalogError(problems)

    for key in value:
        if key not in ("sources", "order"):
            problems.append(Problem(str(path), doc.line_of((key,)), key, f"unknown field '{key}'", suggest(key, ("sources", "order"))))
    pairs = []
    for name, where in value["sources"].items():
        if name not in SOURCE_NAMES:
            problems.append(Problem(str(path), doc.line_of(("sources", name)), f"sources.{name}", f"unknown source '{name}'", suggest(name, SOURCE_NAMES)))
        elif not isinstance(where, str):
            problems.append(Problem(str(path), doc.line_of(("sources", name)), f"sources.{name}", "expected a path"))
        else:
            pairs.append((name, path.parent / where))
    order = value.get("order", list(DEFAULT_ORDER))
    if not (isinstance(order, list) and all(isinstance(n, str) for n in order)):
        problems.append(Problem(str(path), doc.line_of(("order",)), "order", "expected a list of source names"))
    if problems:
        raise CatalogError(problems)
    return pairs, tuple(order)
