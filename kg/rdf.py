"""The lineage graph as RDF under the lkg: ontology, and its serializations.

`to_rdf` writes each entity with its lkg: class and property, plus every
standard super-class and super-property the ontology declares for them, so
that plain SPARQL with PROV-O, FAIR4ML or schema.org finds the facts with no
reasoner. Each edge is also described by an `rdf:Statement` carrying its own
evidence (`dcterms:source`) and note.

Nothing here makes blank nodes: statements and corrections get IRIs derived
from what they describe, so equal catalogs give byte-equal files and a small
change to the catalog gives a small diff.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from functools import cache

import networkx as nx
import pyoxigraph
from rdflib import Graph, Literal, URIRef
from rdflib.namespace import DCTERMS, RDF, RDFS, SKOS, XSD

from kg.entities import License
from kg.errors import OutputError
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
    for license_id in sorted(used):
        _add_license(rdf, licenses[license_id])
    for node, data in graph.nodes(data=True):
        _add_entity(rdf, node, data)
    for source, target, data in graph.edges(data=True):
        _add_edge(rdf, source, target, data)
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

    N-Triples lines are sorted; JSON-LD nodes and values are sorted; rdflib's
    Turtle writer already sorts subjects, predicates and objects. Raises
    OutputError if rdflib fails (it raises bare Exceptions), so that the
    command line reports it and writes nothing.
    """
    try:
        turtle = rdf.serialize(format="turtle", encoding="utf-8")
        lines = sorted(set(rdf.serialize(format="nt", encoding="utf-8").splitlines(keepends=True)) - {b"\n"})
        context = {prefix: str(namespace) for prefix, namespace in PREFIXES.items()}
        document = json.loads(rdf.serialize(format="json-ld", context=context, encoding="utf-8"))
    except Exception as exc:  # noqa: BLE001 (rdflib's serializers raise bare Exception)
        raise OutputError(f"internal error: the RDF could not be serialized ({exc})") from exc
    nodes = document.get("@graph", [document])
    for node in nodes:
        for value in node.values():
            if isinstance(value, list):
                value.sort(key=lambda v: json.dumps(v, sort_keys=True, ensure_ascii=False))
    nodes.sort(key=lambda n: n["@id"])
    jsonld = json.dumps({"@context": context, "@graph": nodes}, ensure_ascii=False, indent=1, sort_keys=True) + "\n"
    return {"kg.ttl": turtle, "kg.nt": b"".join(lines), "kg.jsonld": jsonld.encode("utf-8")}
