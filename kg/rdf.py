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

import functools
import hashlib
import io
import re
from collections.abc import Iterable, Mapping
from functools import cache

import networkx as nx
import pyoxigraph
from rdflib import Graph, Literal, URIRef
from rdflib.namespace import DCTERMS, ODRL2, RDF, RDFS, SKOS, XSD
from rdflib.term import Node

from kg.entities import License
from kg.errors import OutputError
from kg.stream import graph_blocks, write_blocks
from kg.stream import iri as nt_iri, literal as nt_literal, term as nt_term  # terms in N-Triples form, for streamed blocks
from kg.terms import EffectiveTerms, Term, compute_all, compute_terms
from kg.vocab import CLASSES, DERIVATIONS, ID, LICENSE, LINKS, LKG, ONTOLOGY_FILE, PREFIXES, REFERENCES, SCHEMA, SPDX, fits

Triple = tuple[Node, Node, Node]
Triples = set[Triple]  # the catalog's RDF as it is made, checked and written (`catalog_triples`)
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
    "user_threshold": LKG.userThreshold,
    "commercial_registration": LKG.commercialRegistration,
    "commercial_approval": LKG.commercialApproval,
    "hosting_grant": LKG.hostingGrant,
    "notice_text": LKG.noticeText,
    "name_prefix": LKG.namePrefix,
    "output_use_exception": LKG.outputUseException,
    "research_only": LKG.researchOnly,
    "non_production": LKG.nonProduction,
    "derivatives_keep_licence": LKG.derivativesKeepLicence,
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
# A condition of commercial use -> the duty it puts on the permission to commercialize (the user
# threshold is a constraint instead), and the licence field that holds its words.
CONDITION_DUTIES = {
    "commercial-registration": (ODRL2.inform, None),
    "commercial-approval": (ODRL2.obtainConsent, None),
    "hosting-grant": (LKG.obtainHostingGrant, None),
    "notice": (LKG.showNotice, "notice_text"),
    "name-prefix": (LKG.prefixModelName, "name_prefix"),
}
# A limit on use -> the odrl:purpose its permission to use is constrained to.
PURPOSES = {"research-only": LKG.ResearchPurpose, "non-production": LKG.NonProductionUse}


def to_rdf(graph: nx.MultiDiGraph, licenses: Mapping[str, License], terms: Iterable[EffectiveTerms] | None = None) -> Graph:
    """The RDF graph of the lineage graph and the licences its entities use, with the effective
    terms given (None: computed here for every model and dataset of `graph`): `to_graph(catalog_triples(...))`.

    Raises OutputError if a value would make an IRI that strict parsers
    reject (the catalog's own checks should have stopped it earlier).
    """
    return to_graph(catalog_triples(graph, licenses, terms))


def to_graph(triples: Iterable[Triple]) -> Graph:
    """An rdflib graph of `triples`, under the prefixes of `vocab.PREFIXES`."""
    rdf = Graph(bind_namespaces="none")
    for prefix, namespace in PREFIXES.items():
        rdf.bind(prefix, namespace)
    rdf += triples
    return rdf


def catalog_triples(graph: nx.MultiDiGraph, licenses: Mapping[str, License], terms: Iterable[EffectiveTerms] | None = None) -> Triples:
    """`to_rdf`'s triples, as a set: what the build checks and writes, with no rdflib graph made for them
    (filling one costs about 10 µs a triple: 0.6 s for the bundled catalog's 61,892). The build passes no
    terms and adds them once computed on the whole lineage (`add_effective_terms`)."""
    rdf: Triples = set()
    used = {data["license"] for _, data in graph.nodes(data=True) if "license" in data}
    used |= {st["license"] for _, data in graph.nodes(data=True) for st in data.get("license_statements", ())}
    used |= {t["license"] for _, data in graph.nodes(data=True) for t in data.get("output_terms", ())}
    for license_id in sorted(used):
        _add_license(rdf, licenses[license_id])
    for node, data in graph.nodes(data=True):
        _add_entity(rdf, node, data)
    for source, target, data in graph.edges(data=True):
        _add_edge(rdf, source, target, data)
    add_effective_terms(rdf, graph, licenses, compute_all(graph, licenses).values() if terms is None else terms)
    return rdf


def add_effective_terms(rdf: Triples, graph: nx.MultiDiGraph, licenses: Mapping[str, License], terms: Iterable[EffectiveTerms]) -> None:
    """Add each entity's effective terms to `rdf` as its ODRL policy (see `_add_effective_terms`)."""
    for result in terms:
        _add_effective_terms(rdf, graph, licenses, result)


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


def _add_entity(rdf: Triples, node: str, data: dict) -> None:
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


def _add_correction(rdf: Triples, subject: URIRef, node: str, index: int, correction: dict) -> None:
    iri = URIRef(f"{subject}#correction-{index}")
    rdf.add((subject, LKG.hasCorrection, iri))
    rdf.add((iri, RDF.type, LKG.Correction))
    rdf.add((iri, LKG.claim, _text(correction["claim"])))
    rdf.add((iri, LKG.fact, _text(correction["fact"])))
    rdf.add((iri, DCTERMS.source, _iri(correction["source"], f"{node} corrections[{index - 1}].source")))


def _add_license_statement(rdf: Triples, subject: URIRef, node: str, index: int, statement: dict, governing: str) -> None:
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


def _add_edge(rdf: Triples, source: str, target: str, data: dict) -> None:
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


def _add_license(rdf: Triples, license: License) -> None:
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


def _add_license_policy(rdf: Triples, license: License, iri: URIRef) -> None:
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
    if license.use_policy is not None:
        # A page, not something the graph describes: a URI literal, as the dangling-reference check expects.
        rdf.add((iri, LKG.usePolicy, Literal(str(_iri(license.use_policy, f"licence {license.id} use_policy")), datatype=XSD.anyURI)))
    if license.output_reach is not None:
        rdf.add((iri, LKG.outputReach, Literal(license.output_reach if isinstance(license.output_reach, str) else " ".join(license.output_reach))))
    _add_conditions(rdf, base, use, license.commercial_use, [(name, license) for name in _conditions_of(license)])


def _conditions_of(license: License) -> list[str]:
    """The conditions and use limits the licence itself states (the names of ontology/terms.yaml)."""
    fields = {"user-threshold": "user_threshold", "research-only": "research_only", "non-production": "non_production",
              **{name: field or name.replace("-", "_") for name, (_, field) in CONDITION_DUTIES.items()}}
    return [name for name, field in fields.items() if getattr(license, field) not in (None, False)]


def _add_conditions(rdf: Triples, base: str, use: URIRef, commercial: bool | None, conditions: list[tuple[str, License]]) -> None:
    """Conditions of commercial use as ODRL: duties on the permission to commercialize
    (to use, when commercial use is not granted), the user threshold as a constraint
    on it, research-only and non-production as purpose constraints on the use."""
    holder = use
    if commercial is True and any(name not in PURPOSES for name, _ in conditions):
        holder = URIRef(f"{base}permission-commercialize")
    for name, license in conditions:
        tag = f"{name}-{_digest((license.id,))}"
        if name == "user-threshold":
            _add_constraint(rdf, holder, URIRef(f"{base}constraint-{tag}"), LKG.monthlyActiveUsers, ODRL2.lteq, Literal(license.user_threshold))
        elif name in PURPOSES:
            _add_constraint(rdf, use, URIRef(f"{base}constraint-{tag}"), ODRL2.purpose, ODRL2.eq, PURPOSES[name])
        else:
            action, field = CONDITION_DUTIES[name]
            duty = _add_rule(rdf, holder, URIRef(f"{base}duty-{tag}"), ODRL2.duty, action)
            if field is not None:
                rdf.add((duty, LKG.dutyNotice, Literal(getattr(license, field))))


def _add_constraint(rdf: Triples, holder: URIRef, iri: URIRef, left: URIRef, operator: URIRef, right: Literal | URIRef) -> None:
    rdf.add((holder, ODRL2.constraint, iri))
    rdf.add((iri, RDF.type, ODRL2.Constraint))
    rdf.add((iri, ODRL2.leftOperand, left))
    rdf.add((iri, ODRL2.operator, operator))
    rdf.add((iri, ODRL2.rightOperand, right))


def _add_rule(rdf: Triples, holder: URIRef, iri: URIRef, rule: URIRef, action: URIRef, target: URIRef | None = None) -> URIRef:
    rdf.add((holder, rule, iri))
    rdf.add((iri, RDF.type, RULE_CLASSES[rule]))
    rdf.add((iri, RDF.type, ODRL2.Rule))
    rdf.add((iri, ODRL2.action, action))
    if target is not None:
        rdf.add((iri, ODRL2.target, target))
    return iri


def _add_effective_terms(rdf: Triples, graph: nx.MultiDiGraph, licenses: Mapping[str, License], terms: EffectiveTerms) -> None:
    """An entity's effective terms as its ODRL policy (`<entity>#terms`), with the
    paths that explain each rule, the conditions as duties and constraints, the
    conflicts, and its own gap, as lkg: detail. Each path node holds one step and
    links to the parent's (lkg:pathNext), and ancestors with unknown terms are
    reached through odrl:inheritFrom: the export grows with the lineage, not with
    the square or cube of its depth."""
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
    for parent in sorted({t.arrival.next.node for t in terms.terms if t.arrival.next is not None} | set(terms.gap_parents)):
        rdf.add((policy, ODRL2.inheritFrom, _policy_iri(graph, licenses, parent)))
    nodes = {term: _add_path(rdf, policy, term, graph) for term in terms.terms}
    use = _add_rule(rdf, policy, URIRef(f"{policy}-permission-use"), ODRL2.permission, ODRL2.use, subject)
    if terms.commercial_use is not None:
        rule = ODRL2.permission if terms.commercial_use else ODRL2.prohibition
        commercial = _add_rule(rdf, policy, URIRef(f"{policy}-{_local(rule)}-commercialize"), rule, ODRL2.commercialize, subject)
        if terms.commercial_use:
            rdf.add((commercial, DCTERMS.source, _iri(terms.declared[0].sources[0], f"{terms.entity} licence evidence")))
        for term in terms.terms:
            if term.term == "no-commercial-use":
                rdf.add((commercial, LKG.explainedBy, nodes[term]))
    for name, (rule, action) in TERM_RULES.items():
        paths = [t for t in terms.terms if t.term == name]
        if paths:
            holder = use if rule == ODRL2.duty else policy
            iri = _add_rule(rdf, holder, URIRef(f"{policy}-{_local(rule)}-{_local(action)}"), rule, action, None if rule == ODRL2.duty else subject)
            for term in paths:
                rdf.add((iri, LKG.explainedBy, nodes[term]))
    limits = [(c.term, c.licence, c.paths) for c in terms.conditions] + [
        (name, licence, tuple(t for t in terms.terms if (t.term, t.licence) == (name, licence)))
        for name, licence in sorted({(t.term, t.licence) for t in terms.terms if t.term in PURPOSES})]
    _add_conditions(rdf, f"{policy}-", use, terms.commercial_use, [(name, licenses[licence]) for name, licence, _ in limits])
    for name, licence, paths in limits:
        tag = f"{name}-{_digest((licence,))}"
        kind = "constraint" if name == "user-threshold" or name in PURPOSES else "duty"
        for term in paths:
            rdf.add((URIRef(f"{policy}-{kind}-{tag}"), LKG.explainedBy, nodes[term]))
    if terms.own_gap is not None:
        gap = terms.own_gap
        node = URIRef(f"{policy}-gap-{_digest(gap.path)}")
        rdf.add((policy, LKG.termsNotRecorded, node))
        rdf.add((node, RDF.type, LKG.TermGap))
        rdf.add((node, LKG.origin, entity_iri(gap.entity)))
        rdf.add((node, DCTERMS.source, _iri(gap.sources[0], f"{gap.entity} first source")))
    for conflict in terms.conflicts:
        node = URIRef(f"{policy}-conflict-{_digest((conflict.kind, *conflict.licences))}")
        rdf.add((subject, LKG.hasTermConflict, node))
        rdf.add((node, RDF.type, LKG.TermConflict))
        rdf.add((node, LKG.conflictKind, Literal(conflict.kind)))
        rdf.add((node, RDFS.comment, Literal(conflict.message, lang="en")))
        for licence in conflict.licences:
            rdf.add((node, LKG.conflictLicence, license_iri(licence)))
        for term in conflict.paths:
            rdf.add((node, LKG.explainedBy, nodes[term] if term in nodes else _add_path(rdf, policy, term, graph)))


# Imported entities, a million perhaps, share their policy nodes: one per distinct set of terms.
POLICY_BASE = f"{ID}terms/"


def terms_signature(terms: EffectiveTerms, governing: str | None) -> tuple:
    """What an imported entity's policy says, without paths: each term as (name, kind, licence, stated
    by the entity's own or a parent's licence directly), the governing licence, whether the entity's own
    terms are unknown and whether an ancestor's are. Entities with equal signatures share one policy."""
    entries = frozenset((t.term, t.kind, t.licence, t.arrival.length == 1) for t in terms.terms)
    return entries, governing, terms.own_gap is not None, bool(terms.gap_parents)


def policy_digest(signature: tuple) -> str:
    """The name of a shared policy: a digest of its signature (the same in every build of the same terms)."""
    entries, governing, own_gap, upstream_gap = signature
    text = "\x1e".join(["\x1f".join((t, k, lic, "1" if d else "0")) for t, k, lic, d in sorted(entries)]
                       + [governing or "", "1" if own_gap else "0", "1" if upstream_gap else "0"])
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


@functools.cache
def _policy_terms() -> dict:
    """The constant N-Triples terms of every shared policy, made once: a Hub build writes tens of thousands of policies."""
    rules = {rule: (nt_term(rule), nt_term(RULE_CLASSES[rule]), _local(rule)) for rule in RULE_CLASSES}
    actions = {action: (nt_term(action), _local(action)) for _, action in [*TERM_RULES.values(), (None, ODRL2.use), (None, ODRL2.commercialize)]}
    return {"a": nt_term(RDF.type), "Set": nt_term(ODRL2.Set), "Policy": nt_term(ODRL2.Policy), "uid": nt_term(ODRL2.uid),
            "inheritFrom": nt_term(ODRL2.inheritFrom), "termName": nt_term(LKG.termName), "Rule": nt_term(ODRL2.Rule),
            "action": nt_term(ODRL2.action), "rules": rules, "actions": actions}


@functools.lru_cache(maxsize=4096)
def _licence_term(license_id: str) -> str:
    return nt_term(license_iri(license_id))


def shared_policy_blocks(signature: tuple, licenses: Mapping[str, License]) -> list[tuple[str, list[tuple[str, str]]]]:
    """The blocks (kg.stream) of one shared ODRL policy: the licences its terms come from, each term by
    name, commercial use permitted or prohibited when known, and a rule for each term ODRL can say.
    Paths are not written for imported entities: `kg terms` reconstructs them on demand."""
    entries, governing, _, _ = signature
    terms = _policy_terms()
    policy = f"{POLICY_BASE}{policy_digest(signature)}"
    a = terms["a"]
    pairs = [(a, terms["Set"]), (a, terms["Policy"]), (terms["uid"], nt_iri(policy))]
    pairs += [(terms["inheritFrom"], _licence_term(lic)) for lic in sorted({e[2] for e in entries} | ({governing} if governing else set())) if lic in licenses]
    names = {e[0] for e in entries}
    pairs += [(terms["termName"], nt_literal(name)) for name in sorted(names)]
    commercial = False if "no-commercial-use" in names else (True if governing in licenses and licenses[governing].commercial_use is True else None)
    rules = [(ODRL2.permission, ODRL2.use)]  # as every curated policy: use is permitted, under the rules beside it
    rules += [] if commercial is None else [(ODRL2.permission if commercial else ODRL2.prohibition, ODRL2.commercialize)]
    rules += [rule for name, rule in TERM_RULES.items() if name in names]
    blocks: dict[str, list[tuple[str, str]]] = {}
    use = nt_iri(f"{policy}-permission-use")
    for rule, action in rules:
        rule_term, rule_class, rule_name = terms["rules"][rule]
        action_term, action_name = terms["actions"][action]
        node = nt_iri(f"{policy}-{rule_name}-{action_name}")
        holder = blocks[use] if rule == ODRL2.duty else pairs  # a duty is a condition of the permission to use, as in curated policies
        holder.append((rule_term, node))
        blocks[node] = [(a, rule_class), (a, terms["Rule"]), (terms["action"], action_term)]
    return [*blocks.items(), (nt_iri(policy), pairs)]


def shared_policies(all_terms: Iterable[EffectiveTerms], graph: nx.MultiDiGraph, licenses: Mapping[str, License]) -> tuple[dict[str, str], list]:
    """Each entity's shared policy (entity id -> the policy's IRI term) and the blocks of the policies, each once."""
    chosen: dict[str, str] = {}
    named: dict[tuple, str] = {}
    blocks: list = []
    for terms in all_terms:
        signature = terms_signature(terms, graph.nodes[terms.entity].get("license"))
        if signature not in named:
            named[signature] = nt_iri(f"{POLICY_BASE}{policy_digest(signature)}")
            blocks += shared_policy_blocks(signature, licenses)
        chosen[terms.entity] = named[signature]
    return chosen, blocks


def _path_iri(arrival) -> URIRef:  # noqa: ANN001
    return URIRef(f"{entity_iri(arrival.node)}#terms-path-{arrival.digest}")


def _policy_iri(graph: nx.MultiDiGraph, licenses: Mapping[str, License], entity: str) -> URIRef:
    """The policy an entity's terms are exported as: a catalog entity's own (`<entity>#terms`), an imported
    one's shared policy (`terms/<digest>` of what its terms say, as kg.merge and kg.tables write it)."""
    if not graph.nodes[entity].get("imported"):
        return URIRef(f"{entity_iri(entity)}#terms")
    signature = terms_signature(compute_terms(graph, licenses, entity), graph.nodes[entity].get("license"))
    return URIRef(f"{POLICY_BASE}{policy_digest(signature)}")


def _add_path(rdf: Triples, policy: URIRef, term: Term, graph: nx.MultiDiGraph) -> URIRef:
    """One step of a path that brings a term, as an lkg:TermPath named by its content,
    linked to the parent's path it continues; the policy lists it unless it is the
    declared side of a conflict. The steps through imported entities follow (a curated
    entity a Hub dump gives a parent): their shared policies list no paths."""
    node = _path_iri(term.arrival)
    if term.term != "declared":
        rdf.add((policy, LKG.termPath, node))
    step = term.arrival
    while step is not None:
        iri = _path_iri(step)
        name, kind, licence = (term.term, term.kind, term.licence) if step is term.arrival else (step.term, step.kind, step.licence)
        rdf.add((iri, RDF.type, LKG.TermPath))
        rdf.add((iri, LKG.termName, Literal(name)))
        rdf.add((iri, LKG.termKind, Literal(kind)))
        rdf.add((iri, LKG.termLicence, license_iri(licence)))
        rdf.add((iri, LKG.origin, entity_iri(step.origin)))
        rdf.add((iri, LKG.pathStep, entity_iri(step.node)))
        rdf.add((iri, LKG.pathLength, Literal(step.length - 1, datatype=XSD.integer)))
        rdf.add((iri, DCTERMS.source, _iri(step.source, f"{step.node} terms path step")))
        if step.next is not None:
            rdf.add((iri, LKG.pathNext, _path_iri(step.next)))
        step = step.next if step.next is not None and graph.nodes[step.next.node].get("imported") else None
    return node


def _local(term: URIRef) -> str:
    """A term's local name: odrl:commercialize -> commercialize, lkg:restrictedUse -> restrictedUse."""
    return re.split(r"[#/]", str(term))[-1]


def _digest(parts: tuple[str, ...]) -> str:
    """A short stable name for what `parts` describe, so IRIs stay put when other entries change."""
    return hashlib.sha1("\x1f".join(parts).encode("utf-8")).hexdigest()[:12]


def add_closed(rdf: Triples, subject: URIRef, predicate: URIRef, objects: Iterable[URIRef], kind: str) -> None:
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


def serialize(rdf: Iterable[Triple]) -> dict[str, bytes]:
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
