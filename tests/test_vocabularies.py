"""The standard terms in the export are used as their owners define them: every
subject is in the term's published domain and every entity object in its range.

The domains, ranges and sub-class links are shipped as small tables in
fixtures/vocab/, each row with the URL it was read from, so this test does not
trust the export's own idea of where a term fits.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from rdflib import RDF, URIRef

import kg
from kg.vocab import PREFIXES

from conftest import FIXTURES, TINY

VOCAB = FIXTURES / "vocab"


def expand(name: str) -> URIRef:
    prefix, _, local = name.partition(":")
    return URIRef(f"{PREFIXES[prefix]}{local}")


def read_table(path: Path) -> list[list[str]]:
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line and not line.startswith("#")]
    return list(csv.reader(lines, delimiter="\t"))


DOMAINS = {expand(term): ({expand(c) for c in domain.split()}, set() if rng == "-" else {expand(c) for c in rng.split()}) for term, domain, rng, _ in read_table(VOCAB / "domains.tsv")}
SUPERS = [(expand(cls), expand(sup)) for cls, sup, _ in read_table(VOCAB / "classes.tsv")]


def types_of(rdf, node) -> set:
    found = set(rdf.objects(node, RDF.type))
    while True:
        more = {sup for cls, sup in SUPERS if cls in found} - found
        if not more:
            return found
        found |= more


def misuses(rdf) -> list[str]:
    out = []
    for term, (domain, rng) in DOMAINS.items():
        for subject, obj in rdf.subject_objects(term):
            if not types_of(rdf, subject) & domain:
                out.append(f"{subject} {term}: subject outside the domain")
            if rng and isinstance(obj, URIRef) and not types_of(rdf, obj) & rng:
                out.append(f"{subject} {term} {obj}: object outside the range")
    return sorted(out)


@pytest.mark.parametrize("catalog", [TINY, None], ids=["tiny", "bundled"])
def test_every_standard_term_is_used_inside_its_domain_and_range(catalog) -> None:
    rdf = kg.load(catalog).rdf
    assert misuses(rdf) == []
    assert {term for term in DOMAINS if next(rdf.subject_objects(term), None)} >= {expand("schema:creator"), expand("fair4ml:trainedOn")}


def test_the_check_catches_a_misused_term() -> None:
    rdf = kg.load(TINY).rdf
    method = next(rdf.subjects(RDF.type, expand("lkg:Method")))
    rdf.add((method, expand("schema:creator"), next(rdf.subjects(RDF.type, expand("lkg:Organization")))))
    assert misuses(rdf) == [f"{method} {expand('schema:creator')}: subject outside the domain"]


def test_no_license_iri_claims_an_spdx_id_that_spdx_does_not_list() -> None:
    rdf = kg.load().rdf
    spdx = str(PREFIXES["spdx"])
    used = sorted(str(o).removeprefix(spdx) for o in rdf.objects(None, expand("schema:license")) if str(o).startswith(spdx))
    assert all(not name.startswith("LicenseRef-") and "rail" not in name.lower() for name in used), used
