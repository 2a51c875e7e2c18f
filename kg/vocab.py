"""Namespaces, and which ontology term each catalog field becomes.

The base IRI is chosen here, once. Entities live under `ID` by kind
(`https://w3id.org/llm-lineage/id/model/llama-7b`), ontology terms under `LKG`.
The w3id.org redirect is not registered yet: the IRIs are stable names, not
yet links that resolve.

Which standard super-terms are also written (prov:wasDerivedFrom for
lkg:fineTunedFrom, fair4ml:MLModel for lkg:Model...) is not repeated here:
`kg.rdf` reads it from ontology/lkg.ttl, the one place that says it.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from rdflib import Namespace
from rdflib.namespace import DCTERMS, FOAF, ODRL2, OWL, PROV, RDF, RDFS, SKOS, XSD

BASE = "https://w3id.org/llm-lineage/"
ID = Namespace(BASE + "id/")
LKG = Namespace(BASE + "ontology#")
ONTOLOGY_IRI = BASE + "ontology"
SCHEMA = Namespace("http://schema.org/")  # rdflib's own SCHEMA is https: the wrong one for most stores
FAIR4ML = Namespace("https://w3id.org/fair4ml#")
SPDX = Namespace("http://spdx.org/licenses/")
LICENSE = Namespace(BASE + "id/license/")  # our own LicenseRef-… licences
RECORD = BASE + "id/record/"


def record_iri(source: str, source_id: str) -> str:
    """The IRI of one source record: `…/id/record/<source>/<source id>`, the id with every
    character outside `A-Za-z0-9-._~/` percent-encoded as UTF-8 (the same rule in every path
    that writes records, so the same record gets the same IRI however it was built)."""
    return f"{RECORD}{source}/{quote(source_id, safe='/')}"



def bundled(folder: str) -> Path:
    """A folder shipped with the package: `kg/<folder>` in an installed wheel
    (pyproject.toml maps data/ and ontology/ there), else `<folder>` beside
    `kg/` in a checkout or an editable install."""
    package = Path(__file__).resolve().parent
    installed = package / folder
    return installed if installed.is_dir() else package.parent / folder


ONTOLOGY_DIR = bundled("ontology")
ONTOLOGY_FILE = ONTOLOGY_DIR / "lkg.ttl"

KINDS = ("model", "dataset", "organization", "person", "method", "software")

# The prefixes written in every export, in this order.
PREFIXES = {
    "lkg": LKG,
    **{kind: Namespace(f"{ID}{kind}/") for kind in KINDS},
    "license": LICENSE,
    "spdx": SPDX,
    "schema": SCHEMA,
    "fair4ml": FAIR4ML,
    "prov": PROV,
    "odrl": ODRL2,
    "skos": SKOS,
    "dcterms": DCTERMS,
    "foaf": FOAF,
    "owl": OWL,
    "rdf": RDF,
    "rdfs": RDFS,
    "xsd": XSD,
}

CLASSES = {
    "model": LKG.Model,
    "dataset": LKG.Dataset,
    "organization": LKG.Organization,
    "person": LKG.Person,
    "method": LKG.Method,
    "software": LKG.Software,
}

# derived_from relation -> property
DERIVATIONS = {
    "finetune": LKG.fineTunedFrom,
    "adapter": LKG.adapterOf,
    "continued-pretraining": LKG.continuedPretrainingOf,
    "merge": LKG.mergedFrom,
    "quantized": LKG.quantizedFrom,
    "reproduction": LKG.reproductionOf,
    "component": LKG.builtAround,
    "architecture": LKG.usesArchitectureOf,
    "distillation": LKG.distilledFrom,
    "translation": LKG.translatedFrom,
    "subset": LKG.subsetOf,
    "regeneration": LKG.regeneratedFrom,
    "conversion": LKG.convertedFrom,
    "filtering": LKG.filteredFrom,
}

# every other reference field -> property
REFERENCES = {
    "family": LKG.inFamily,
    "developers": LKG.developedBy,
    "trained_on": LKG.trainedOn,
    "generated_by": LKG.generatedBy,
    "methods": LKG.usesMethod,
    "built_with": LKG.builtWith,
    "supports": LKG.supportsModel,
    "part_of": LKG.partOf,
    "affiliations": LKG.affiliatedWith,
    "broader": SKOS.broader,
}

# Standard terms whose vocabulary gives them a domain, and the kinds of ours that
# fall inside it (schema.org: https://schema.org/<term>; FAIR4ML:
# https://w3id.org/fair4ml). The export writes such a term, as a super-term of
# ours or directly, only on those kinds: schema:creator is for CreativeWorks,
# so a method's developer is written with lkg:developedBy and prov only.
CREATIVE_WORKS = ("model", "dataset", "software")  # fair4ml:MLModel, schema:Dataset, schema:SoftwareSourceCode
STANDARD_DOMAINS = {
    SCHEMA.creator: CREATIVE_WORKS,
    SCHEMA.isPartOf: CREATIVE_WORKS,
    SCHEMA.datePublished: CREATIVE_WORKS,
    SCHEMA.citation: CREATIVE_WORKS,
    SCHEMA.license: CREATIVE_WORKS,
    SCHEMA.inLanguage: CREATIVE_WORKS,
    SCHEMA.translationOfWork: CREATIVE_WORKS,
    SCHEMA.codeRepository: ("software",),
    SCHEMA.parentOrganization: ("organization",),
    SCHEMA.affiliation: ("person",),
    FAIR4ML.trainedOn: ("model",),
    FAIR4ML.fineTunedFrom: ("model",),
}


def fits(term, kind: str) -> bool:  # noqa: ANN001
    """Whether a standard term's published domain admits entities of `kind`."""
    return kind in STANDARD_DOMAINS.get(term, (kind,))


LINKS = {
    "repository": LKG.repository,
    "homepage": SCHEMA.url,
    "paper": LKG.paper,
    "huggingface": LKG.huggingFacePage,
    "demo": LKG.demoPage,
    "blog": LKG.announcement,
}
