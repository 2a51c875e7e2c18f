"""The lineage graph as RDF under the lkg: ontology, and its serializations.

`to_rdf` writes each entity with its lkg: class and property, plus every
standard super-class and super-property the ontology declares for them, so
that plain SPARQL with PROV-O, FAIR4ML or schema.org finds the facts with no
reasoner. Each edge is also described by an `rdf:Statement` carrying its own
evidence (`dcterms:source`) and note. Each model and dataset has its
effective terms (`kg.terms`) as an ODRL 2.2 policy, and each licence is one.

Nothing here makes blank nodes: statements and corrections get IRIs derived
from what they describe, so equal catalogs give byte-equal files and a small
change to the catalog gives a small diff.
"""

from __future__ import annotations

import hashlib
import io
import re
from collections.abc import Iterable, Mapping
from functools import cache

import networkx as nx
import pyoxigraph
from rdflib import Graph, Literal, URIRef
from rdflib.namespace import DCTERMS, ODRL2, RDF, RDFS, SKOS, XSD

from kg.entities import License
from kg.errors import OutputError
from kg.stream import graph_blocks, write_blocks
from kg.terms import EffectiveTerms, Term, compute_all
from kg.vocab import CLASSES, DERIVATIONS, ID, LICENSE, LINKS, LKG, ONTOLOGY_FILE, PREFIXES, REFERENCES, SCHEMA, SPDX, fits

CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
DATE_TYPES = {3: XSD.date, 2: XSD.gYearMonth, 1: XSD.gYear}
# licences.yaml term -> property on the licence
LICENSE_TERMS = {
    "commercial_use": LKG.commercialUse,
    "derivatives": LKG.derivativesAllowed,
    "redistribution": LKG.redistributionAllowed,
    "attribution": LKG.attributionRequired,
    "share_alike": LKG.shareAlike,
    "use_restrictions": LKG.useRestrictions,
    "output_restrictions": LKG.outputRestrictions,
}
# A licence term -> the ODRL rule it makes: (rule type, action) for True and for False.
LICENSE_RULES = {
    "commercial_use": ((ODRL2.permission, ODRL2.commercialize), (ODRL2.prohibition, ODRL2.commercialize)),
    "derivatives": ((ODRL2.permission, ODRL2.derive), (ODRL2.prohibition, ODRL2.derive)),
    "redistribution": ((ODRL2.permission, ODRL2.distribute), (ODRL2.prohibition, ODRL2.distribute)),
    "use_restrictions": ((ODRL2.prohibition, LKG.restrictedUse), None),
    "output_restrictions": ((ODRL2.prohibition, LKG.outputUseForModels), None),
}
# Duties on the permission to use: licence field -> action.
LICENSE_DUTIES = {"attribution": ODRL2.attribute, "share_alike": ODRL2.shareAlike}
# Effective term -> (rule type, action); no-commercial-use is written from the verdict.
TERM_RULES = {
    "attribution": (ODRL2.duty, ODRL2.attribute),
    "share-alike": (ODRL2.duty, ODRL2.shareAlike),
    "use-restrictions": (ODRL2.prohibition, LKG.restrictedUse),
    "output-restrictions": (ODRL2.prohibition, LKG.outputUseForModels),
}
RULE_CLASSES = {ODRL2.permission: ODRL2.Permission, ODRL2.prohibition: ODRL2.Prohibition, ODRL2.duty: ODRL2.Duty}


def to_rdf(graph: nx.MultiDiGraph, licenses: Mapping[str, License]) -> Graph:
    """The RDF graph of the lineage graph and the licences its entities use.

    Raises OutputError if a value would make an IRI that strict parsers
    reject (the catalog's own checks should have stopped it earlier).
    """
    rdf = Graph(bind_namespaces="none")
    for prefix, namespace in PREFIXES.items():
        rdf.bind(prefix, namespace)
    used = {data["license"] for _, data in graph.nodes(data=True) if "license" in data}
    used |= {st["license"] for _, data in graph.nodes(data=True) for st in data.get("license_statements", ())}
    used |= {t["license"] for _, data in graph.nodes(data=True) for t in data.get("output_terms", ())}
    for license_id in sorted(used):
        _add_license(rdf, licenses[license_id])
    for node, data in graph.nodes(data=True):
        _add_entity(rdf, node, data)
    for source, target, data in graph.edges(data=True):
        _add_edge(rdf, source, target, data)
    for terms in compute_all(graph, licenses).values():
        _add_effective_terms(rdf, graph, terms)
    return rdf


def entity_iri(entity_id: str) -> URIRef:
    return _iri(f"{ID}{entity_id}", entity_id)


def license_iri(license_id: str) -> URIRef:
    base = LICENSE if license_id.startswith("LicenseRef-") else SPDX
    return _iri(f"{base}{license_id}", f"licence {license_id}")


def _iri(value: str, where: str) -> URIRef:
    try:
        pyoxigraph.NamedNode(value)
    except ValueError as exc:
        raise OutputError(f"internal error: {where} gives an invalid IRI {value!r} ({exc})") from exc
    return URIRef(value)


def _add_entity(rdf: Graph, node: str, data: dict) -> None:
    subject = entity_iri(node)
    kind = data["kind"]
    classes = [CLASSES[kind]] + ([LKG.BaseModel] if data.get("foundation") else [])
    add_closed(rdf, subject, RDF.type, classes, kind)
    rdf.add((subject, DCTERMS.identifier, Literal(node)))
    for field, language in (("name", "en"), ("name_zh", "zh")):
        if field in data:
            label = Literal(data[field], lang=language)
            rdf.add((subject, RDFS.label, label))
            rdf.add((subject, SCHEMA.name, label))
            if kind == "method":
                rdf.add((subject, SKOS.prefLabel, label))
    for alias in data.get("aliases", ()):
        rdf.add((subject, SKOS.altLabel, _text(alias)))
    for field, language in (("description", "en"), ("description_zh", "zh")):
        if field in data:
            rdf.add((subject, SCHEMA.description, Literal(data[field], lang=language)))
    if "released" in data:
        released = Literal(data["released"], datatype=DATE_TYPES[data["released"].count("-") + 1])
        rdf.add((subject, DCTERMS.issued, released))
        if fits(SCHEMA.datePublished, kind):
            rdf.add((subject, SCHEMA.datePublished, released))
    if "license" in data:
        rdf.add((subject, SCHEMA.license, license_iri(data["license"])))
    for index, statement in enumerate(data.get("license_statements", ()), start=1):
        _add_license_statement(rdf, subject, node, index, statement, data["license"])
    if "license_basis" in data:
        rdf.add((subject, LKG.licenseBasis, _text(data["license_basis"])))
    for language in data.get("languages", ()):
        rdf.add((subject, SCHEMA.inLanguage, Literal(language)))
    for field, predicate in (("parameters", LKG.parameterCount), ("records", LKG.recordCount)):
        if field in data:
            rdf.add((subject, predicate, Literal(data[field], datatype=XSD.integer)))
    if "open_weights" in data:
        rdf.add((subject, LKG.openWeights, Literal(data["open_weights"])))
    if "country" in data:  # schema:addressCountry belongs on a PostalAddress, not on the organization
        address = URIRef(f"{subject}#address")
        rdf.add((subject, SCHEMA.address, address))
        rdf.add((address, RDF.type, SCHEMA.PostalAddress))
        rdf.add((address, SCHEMA.addressCountry, Literal(data["country"])))
    for field, url in sorted(data.get("links", {}).items()):
        add_closed(rdf, subject, LINKS[field], [_iri(url, f"{node} links.{field}")], kind)
    for index, source in enumerate(data["sources"]):
        rdf.add((subject, DCTERMS.source, _iri(source["url"], f"{node} sources[{index}]")))
    for index, correction in enumerate(data.get("corrections", ()), start=1):
        _add_correction(rdf, subject, node, index, correction)
    if kind == "method":
        rdf.add((subject, SKOS.inScheme, LKG.MethodScheme))


def _add_correction(rdf: Graph, subject: URIRef, node: str, index: int, correction: dict) -> None:
    iri = URIRef(f"{subject}#correction-{index}")
    rdf.add((subject, LKG.hasCorrection, iri))
    rdf.add((iri, RDF.type, LKG.Correction))
    rdf.add((iri, LKG.claim, _text(correction["claim"])))
    rdf.add((iri, LKG.fact, _text(correction["fact"])))
    rdf.add((iri, DCTERMS.source, _iri(correction["source"], f"{node} corrections[{index - 1}].source")))


def _add_license_statement(rdf: Graph, subject: URIRef, node: str, index: int, statement: dict, governing: str) -> None:
    """One source's word on the licence, as a reified schema:license with its evidence."""
    iri = URIRef(f"{subject}#license-statement-{index}")
    rdf.add((subject, LKG.hasLicenseStatement, iri))
    rdf.add((iri, RDF.type, LKG.LicenseStatement))
    rdf.add((iri, RDF.type, RDF.Statement))
    rdf.add((iri, RDF.subject, subject))
    rdf.add((iri, RDF.predicate, SCHEMA.license))
    rdf.add((iri, RDF.object, license_iri(statement["license"])))
    rdf.add((iri, DCTERMS.source, _iri(statement["source"], f"{node} license_statements[{index - 1}].source")))
    rdf.add((iri, LKG.statedIn, Literal(statement["where"])))
    rdf.add((iri, LKG.governs, Literal(statement["license"] == governing)))
    if "as_of" in statement:
        as_of = statement["as_of"]
        rdf.add((iri, DCTERMS.date, Literal(as_of, datatype=DATE_TYPES[as_of.count("-") + 1])))
    if "commit" in statement:
        rdf.add((iri, LKG.sourceCommit, Literal(statement["commit"])))
    if "scope" in statement:
        rdf.add((iri, LKG.licenceScope, Literal(statement["scope"])))
    if "note" in statement:
        rdf.add((iri, RDFS.comment, _text(statement["note"])))


def _add_edge(rdf: Graph, source: str, target: str, data: dict) -> None:
    field, relation = data["field"], data["relation"]
    predicate = DERIVATIONS[relation] if field == "derived_from" else REFERENCES[field]
    subject, obj = entity_iri(source), entity_iri(target)
    add_closed(rdf, subject, predicate, [obj], source.partition("/")[0])
    # The statement's IRI names the edge, so it is stable and unique per edge.
    statement = URIRef(f"{subject}#{predicate.fragment}-{target.replace('/', '-')}")
    rdf.add((statement, RDF.type, RDF.Statement))
    rdf.add((statement, RDF.subject, subject))
    rdf.add((statement, RDF.predicate, predicate))
    rdf.add((statement, RDF.object, obj))
    rdf.add((statement, DCTERMS.source, _iri(data["evidence"], f"{source} {field} -> {target} source")))
    if "note" in data:
        rdf.add((statement, RDFS.comment, _text(data["note"])))
    if "date_waiver" in data:  # the released-before-source check reads it, as the catalog's own check does
        rdf.add((statement, LKG.dateWaiver, _text(data["date_waiver"])))


def _add_license(rdf: Graph, license: License) -> None:
    iri = license_iri(license.id)
    rdf.add((iri, RDF.type, LKG.License))
    rdf.add((iri, RDF.type, DCTERMS.LicenseDocument))
    rdf.add((iri, DCTERMS.identifier, Literal(license.id)))
    rdf.add((iri, RDFS.label, Literal(license.name, lang="en")))
    rdf.add((iri, SCHEMA.url, _iri(license.url, f"licence {license.id} url")))
    rdf.add((iri, LKG.licenseKind, Literal(license.kind)))
    for field, predicate in LICENSE_TERMS.items():
        value = getattr(license, field)
        if value is not None:
            rdf.add((iri, predicate, Literal(value)))
    if license.note is not None:
        rdf.add((iri, RDFS.comment, _text(license.note)))
    for index, source in enumerate(license.sources):
        rdf.add((iri, DCTERMS.source, _iri(source.url, f"licence {license.id} sources[{index}]")))
    _add_license_policy(rdf, license, iri)


def _add_license_policy(rdf: Graph, license: License, iri: URIRef) -> None:
    """The licence as an ODRL 2.2 Set: a permission to use with its duties, and a
    permission or prohibition for each term the text settles. Rules are IRIs in
    our licence namespace (SPDX's IRIs are not ours to extend)."""
    rdf.add((iri, RDF.type, ODRL2.Set))
    rdf.add((iri, RDF.type, ODRL2.Policy))
    rdf.add((iri, ODRL2.uid, iri))
    base = f"{LICENSE}{license.id}#"
    use = _add_rule(rdf, iri, URIRef(f"{base}permission-use"), ODRL2.permission, ODRL2.use)
    for field, action in LICENSE_DUTIES.items():
        if getattr(license, field) is True:
            _add_rule(rdf, use, URIRef(f"{base}duty-{_local(action)}"), ODRL2.duty, action)
    for field, (if_true, if_false) in LICENSE_RULES.items():
        value = getattr(license, field)
        chosen = if_true if value is True else if_false if value is False else None
        if chosen is not None:
            rule, action = chosen
            _add_rule(rdf, iri, URIRef(f"{base}{_local(rule)}-{_local(action)}"), rule, action)


def _add_rule(rdf: Graph, holder: URIRef, iri: URIRef, rule: URIRef, action: URIRef, target: URIRef | None = None) -> URIRef:
    rdf.add((holder, rule, iri))
    rdf.add((iri, RDF.type, RULE_CLASSES[rule]))
    rdf.add((iri, RDF.type, ODRL2.Rule))
    rdf.add((iri, ODRL2.action, action))
    if target is not None:
        rdf.add((iri, ODRL2.target, target))
    return iri


def _add_effective_terms(rdf: Graph, graph: nx.MultiDiGraph, terms: EffectiveTerms) -> None:
    """An entity's effective terms as its ODRL policy (`<entity>#terms`), with the
    paths that explain each rule, the conflicts and the gaps as lkg: detail."""
    subject = entity_iri(terms.entity)
    policy = URIRef(f"{subject}#terms")
    rdf.add((subject, ODRL2.hasPolicy, policy))
    rdf.add((policy, RDF.type, ODRL2.Set))
    rdf.add((policy, RDF.type, ODRL2.Policy))
    rdf.add((policy, ODRL2.uid, policy))
    governing = graph.nodes[terms.entity].get("license")
    if governing is not None:
        rdf.add((policy, ODRL2.inheritFrom, license_iri(governing)))
    for stated in graph.nodes[terms.entity].get("output_terms", ()):
        rdf.add((policy, ODRL2.inheritFrom, license_iri(stated["license"])))
    for parent in sorted({t.path[1] for t in terms.terms if len(t.path) > 1} | {g.path[1] for g in terms.unknown if len(g.path) > 1}):
        rdf.add((policy, ODRL2.inheritFrom, URIRef(f"{entity_iri(parent)}#terms")))
    use = _add_rule(rdf, policy, URIRef(f"{policy}-permission-use"), ODRL2.permission, ODRL2.use, subject)
    if terms.commercial_use is not None:
        rule = ODRL2.permission if terms.commercial_use else ODRL2.prohibition
        commercial = _add_rule(rdf, policy, URIRef(f"{policy}-{_local(rule)}-commercialize"), rule, ODRL2.commercialize, subject)
        if terms.commercial_use:
            rdf.add((commercial, DCTERMS.source, _iri(terms.declared[0].sources[0], f"{terms.entity} licence evidence")))
        for term in terms.terms:
            if term.term == "no-commercial-use":
                rdf.add((commercial, LKG.explainedBy, _add_path(rdf, policy, term)))
    for name, (rule, action) in TERM_RULES.items():
        paths = [t for t in terms.terms if t.term == name]
        if paths:
            holder = use if rule == ODRL2.duty else policy
            iri = _add_rule(rdf, holder, URIRef(f"{policy}-{_local(rule)}-{_local(action)}"), rule, action, None if rule == ODRL2.duty else subject)
            for term in paths:
                rdf.add((iri, LKG.explainedBy, _add_path(rdf, policy, term)))
    for gap in terms.unknown:
        node = URIRef(f"{policy}-gap-{_digest(gap.path)}")
        rdf.add((policy, LKG.termsNotRecorded, node))
        rdf.add((node, RDF.type, LKG.TermGap))
        rdf.add((node, LKG.origin, entity_iri(gap.entity)))
        _add_steps(rdf, node, gap.path, gap.sources)
    for conflict in terms.conflicts:
        node = URIRef(f"{policy}-conflict-{_digest((conflict.kind, *conflict.licences))}")
        rdf.add((subject, LKG.hasTermConflict, node))
        rdf.add((node, RDF.type, LKG.TermConflict))
        rdf.add((node, LKG.conflictKind, Literal(conflict.kind)))
        rdf.add((node, RDFS.comment, Literal(conflict.message, lang="en")))
        for licence in conflict.licences:
            rdf.add((node, LKG.conflictLicence, license_iri(licence)))
        for term in conflict.paths:
            rdf.add((node, LKG.explainedBy, _add_path(rdf, policy, term)))


def _add_path(rdf: Graph, policy: URIRef, term: Term) -> URIRef:
    """One path that brings a term, as an lkg:TermPath named by its content; the
    policy lists it unless it is the declared side of a conflict."""
    node = URIRef(f"{policy}-path-{_digest((term.term, term.kind, term.licence, *term.path))}")
    if term.term != "declared":
        rdf.add((policy, LKG.termPath, node))
    rdf.add((node, RDF.type, LKG.TermPath))
    rdf.add((node, LKG.termName, Literal(term.term)))
    rdf.add((node, LKG.termKind, Literal(term.kind)))
    rdf.add((node, LKG.termLicence, license_iri(term.licence)))
    rdf.add((node, LKG.origin, entity_iri(term.path[-1])))
    _add_steps(rdf, node, term.path, term.sources)
    return node


def _add_steps(rdf: Graph, node: URIRef, path: tuple[str, ...], sources: tuple[str, ...]) -> None:
    rdf.add((node, LKG.pathIds, Literal(" ".join(path))))
    rdf.add((node, LKG.pathLength, Literal(len(path) - 1, datatype=XSD.integer)))
    for entity in path:
        rdf.add((node, LKG.through, entity_iri(entity)))
    for index, url in enumerate(sources):
        rdf.add((node, DCTERMS.source, _iri(url, f"{path[0]} terms path step {index}")))


def _local(term: URIRef) -> str:
    """A term's local name: odrl:commercialize -> commercialize, lkg:restrictedUse -> restrictedUse."""
    return re.split(r"[#/]", str(term))[-1]


def _digest(parts: tuple[str, ...]) -> str:
    """A short stable name for what `parts` describe, so IRIs stay put when other entries change."""
    return hashlib.sha1("\x1f".join(parts).encode("utf-8")).hexdigest()[:12]


def add_closed(rdf: Graph, subject: URIRef, predicate: URIRef, objects: Iterable[URIRef], kind: str) -> None:
    """Add the triples, and again with every standard super-term the ontology gives.

    For rdf:type the objects are classes and their super-classes are added;
    otherwise the predicate's super-properties are, those whose published
    domain admits the subject's `kind` (see vocab.STANDARD_DOMAINS).
    """
    supers = super_terms()
    for obj in objects:
        if predicate == RDF.type:
            for cls in (obj, *supers.get(obj, ())):
                rdf.add((subject, RDF.type, cls))
        else:
            for prop in (predicate, *supers.get(predicate, ())):
                if fits(prop, kind):
                    rdf.add((subject, prop, obj))


@cache
def super_terms() -> dict[URIRef, tuple[URIRef, ...]]:
    """Every term of ontology/lkg.ttl -> all its super-classes or super-properties."""
    ontology = load_ontology()
    supers: dict[URIRef, tuple[URIRef, ...]] = {}
    for link in (RDFS.subClassOf, RDFS.subPropertyOf):
        for term in set(ontology.subjects(link, None)):
            closure = ontology.transitive_objects(term, link)
            supers[term] = tuple(sorted(t for t in closure if t != term))
    return supers


def load_ontology() -> Graph:
    """ontology/lkg.ttl, parsed."""
    return Graph().parse(ONTOLOGY_FILE, format="turtle")


def _text(value: str) -> Literal:
    """Free text with no language field of its own (aliases, notes, corrections):
    tagged zh when it contains Chinese characters, else en."""
    return Literal(value, lang="zh" if CJK.search(value) else "en")


def serialize(rdf: Graph) -> dict[str, bytes]:
    """The graph as Turtle, N-Triples and JSON-LD, each byte-identical for equal graphs.

    Written by `kg.stream`'s writers, the same that stream a Hub-scale export:
    subjects sorted, each with its rdf:type first and its other predicates and
    objects sorted, under the prefixes of `vocab.PREFIXES`; the N-Triples
    lines are sorted as a whole. rdflib's own serializers gave the same
    triples ten times slower (`benchmarks/RESULTS.md`).
    """
    texts = {name: io.StringIO() for name in ("kg.ttl", "kg.nt", "kg.jsonld")}
    write_blocks(graph_blocks(rdf), texts)
    lines = sorted(texts["kg.nt"].getvalue().splitlines(keepends=True))
    return {"kg.ttl": texts["kg.ttl"].getvalue().encode("utf-8"), "kg.nt": "".join(lines).encode("utf-8"), "kg.jsonld": texts["kg.jsonld"].getvalue().encode("utf-8")}
