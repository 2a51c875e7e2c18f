"""The RDF export: valid for a strict parser, stable, aligned, declared, conforming.

The tiny catalog's export is compared as a graph with a golden file. After an
intended change to the export, refresh it with:

    .venv/bin/python tests/test_rdf.py --update
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from pathlib import Path

import networkx as nx
import pyoxigraph as ox
import pyshacl
import pytest
from rdflib import BNode, Graph, Literal, URIRef
from rdflib.compare import graph_diff, isomorphic, to_isomorphic
from rdflib.namespace import OWL, RDF, RDFS, SKOS

import kg.build

from kg.catalog import load_catalog
from kg.cli import main
from kg.errors import OutputError
from kg.graph import build_graph
from kg.query import run_checks
from kg.rdf import catalog_triples, serialize, to_rdf
from kg.vocab import FAIR4ML, ID, LKG, ONTOLOGY_DIR, PROV, SCHEMA

from conftest import TINY

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = Path(__file__).parent / "fixtures" / "tiny.ttl"
RDF_FIXTURES = Path(__file__).parent / "fixtures" / "rdf"
FORMATS = {"kg.ttl": ox.RdfFormat.TURTLE, "kg.nt": ox.RdfFormat.N_TRIPLES, "kg.jsonld": ox.RdfFormat.JSON_LD}


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


@pytest.fixture(scope="module")
def rdf(catalog) -> Graph:
    return to_rdf(build_graph(catalog), catalog.licenses)


@pytest.fixture(scope="module")
def files(rdf) -> dict[str, bytes]:
    return serialize(rdf)


def export_tiny() -> Graph:
    catalog = load_catalog(TINY)
    return to_rdf(build_graph(catalog), catalog.licenses)


def oxigraph_to_rdflib(data: bytes, form: ox.RdfFormat) -> Graph:
    """Parse with Oxigraph (strict, passes the W3C suites), hand the triples to rdflib as N-Triples."""
    triples = ox.serialize(ox.parse(data, format=form), format=ox.RdfFormat.N_TRIPLES)
    return Graph().parse(data=triples, format="nt")


@pytest.mark.parametrize("name", FORMATS)
def test_every_export_reparses_in_oxigraph_as_the_same_graph(files, rdf, name: str) -> None:
    assert isomorphic(oxigraph_to_rdflib(files[name], FORMATS[name]), rdf)


def test_turtle_parses_the_same_in_rdflib_and_oxigraph(files) -> None:
    by_rdflib = Graph().parse(data=files["kg.ttl"], format="turtle")
    assert isomorphic(by_rdflib, oxigraph_to_rdflib(files["kg.ttl"], ox.RdfFormat.TURTLE))


def test_the_tiny_export_matches_the_golden_graph() -> None:
    expected = Graph().parse(GOLDEN, format="turtle")
    actual = export_tiny()
    if not isomorphic(actual, expected):
        _, missing, extra = graph_diff(to_isomorphic(expected), to_isomorphic(actual))
        pytest.fail(f"missing:\n{missing.serialize(format='nt')}\nextra:\n{extra.serialize(format='nt')}")


def test_standard_super_terms_are_written_out(rdf) -> None:
    vicuna, llama = ID["model/vicuna-13b"], ID["model/llama-13b"]
    for predicate in (LKG.fineTunedFrom, LKG.derivedFrom, PROV.wasDerivedFrom, FAIR4ML.fineTunedFrom):
        assert (vicuna, predicate, llama) in rdf
    for cls in (LKG.Model, FAIR4ML.MLModel, PROV.Entity):
        assert (vicuna, RDF.type, cls) in rdf
    assert (llama, RDF.type, LKG.BaseModel) in rdf
    chinese, english = ID["dataset/alpaca-data-zh-51k"], ID["dataset/alpaca-52k"]
    assert (chinese, SCHEMA.translationOfWork, english) in rdf
    assert (english, PROV.wasDerivedFrom, ID["model/text-davinci-003"]) in rdf
    assert (english, SCHEMA.creator, ID["organization/stanford-crfm"]) in rdf
    assert (english, PROV.wasAttributedTo, ID["organization/stanford-crfm"]) in rdf
    assert (english, RDF.type, SCHEMA.Dataset) in rdf
    assert (ID["method/ppo"], SKOS.broader, ID["method/rlhf"]) in rdf


def test_values_are_typed_and_tagged(rdf) -> None:
    llama = ID["model/llama-7b"]
    assert (llama, SCHEMA.datePublished, Literal("2023-02-24", datatype=URIRef("http://www.w3.org/2001/XMLSchema#date"))) in rdf
    assert (llama, SCHEMA.license, URIRef("https://w3id.org/llm-lineage/id/license/LicenseRef-llama-1-noncommercial")) in rdf
    assert (ID["model/dolly-v2-12b"], SCHEMA.license, URIRef("http://spdx.org/licenses/MIT")) in rdf
    alpaca = ID["model/stanford-alpaca-7b"]
    assert set(rdf.objects(alpaca, RDFS.label)) == {Literal("Alpaca 7B", lang="en"), Literal("羊驼", lang="zh")}
    assert (alpaca, SKOS.altLabel, Literal("斯坦福羊驼", lang="zh")) in rdf
    assert (alpaca, SKOS.altLabel, Literal("Alpaca-7B", lang="en")) in rdf
    assert list(rdf.objects(alpaca, LKG.parameterCount)) == [Literal(6_700_000_000)]
    assert (alpaca, SCHEMA.inLanguage, Literal("en")) in rdf


def test_every_edge_has_a_statement_with_its_source(catalog, rdf) -> None:
    graph = build_graph(catalog)
    statements = set(rdf.subjects(RDF.type, RDF.Statement)) - set(rdf.subjects(RDF.type, LKG.LicenseStatement))
    assert len(statements) == graph.number_of_edges()
    koala = URIRef(f"{ID}model/koala-13b#fineTunedFrom-model-llama-13b")
    assert (koala, URIRef("http://purl.org/dc/terms/source"), URIRef("https://bair.berkeley.edu/blog/2023/04/03/koala/")) in rdf


def test_every_class_and_predicate_used_is_declared_in_the_ontology(rdf) -> None:
    ontology = Graph().parse(ONTOLOGY_DIR / "lkg.ttl")
    declared = {
        term
        for kind in (OWL.Class, OWL.ObjectProperty, OWL.DatatypeProperty, OWL.AnnotationProperty, RDF.Property)
        for term in ontology.subjects(RDF.type, kind)
    }
    used = set(rdf.predicates()) - {RDF.type} | set(rdf.objects(None, RDF.type))
    assert used - declared == set()


def test_every_lkg_term_has_english_and_chinese_labels_and_comments() -> None:
    ontology = Graph().parse(ONTOLOGY_DIR / "lkg.ttl")
    terms = {s for s in ontology.subjects() if isinstance(s, URIRef) and s.startswith(str(LKG))}
    assert len(terms) >= 30
    for term in terms:
        for predicate in (RDFS.label, RDFS.comment):
            languages = {value.language for value in ontology.objects(term, predicate)}
            assert languages == {"en", "zh"}, (term, predicate)


def test_the_real_export_passes_every_check(rdf) -> None:
    assert run_checks(rdf) == []


def test_each_check_finds_its_violation_in_a_broken_graph() -> None:
    found = [(v.check, v.entity, v.problem) for v in run_checks(Graph().parse(RDF_FIXTURES / "violations.ttl"))]
    lkg, ids = str(LKG), str(ID)
    assert found == [
        ("dangling-reference", "model/orphan", f"points with {lkg}fineTunedFrom at {ids}model/ghost, which the graph does not describe"),
        ("derivation-cycle", "model/a", "is derived from itself through a chain of prov:wasDerivedFrom"),
        ("derivation-cycle", "model/b", "is derived from itself through a chain of prov:wasDerivedFrom"),
        ("missing-label-or-source", "model/anonymous", "has no English rdfs:label"),
        ("missing-label-or-source", "model/anonymous", "has no dcterms:source"),
        ("model-without-developer", "model/anonymous", "is a model with no lkg:developedBy"),
        ("released-before-source", "model/orphan", f"released 2023-01-01, before {ids}model/early (2023-02-01)"),
        ("unbacked-statement", "model/early", f"has a statement of {lkg}developedBy {ids}organization/acme without a source"),
        ("unbacked-statement", "model/early", f"has a statement of {lkg}trainedOn {ids}model/a not asserted"),
        ("undeclared-term", "model/typo", f"property {lkg}fineTunedform is used but not declared in ontology/lkg.ttl"),
    ]
    assert {check for check, _, _ in found} == {p.name.removesuffix("-violation.rq") for p in (ONTOLOGY_DIR / "checks").glob("*.rq")}


def test_validate_reports_a_failed_check_at_the_entity_file(tiny: Path, capsys, monkeypatch) -> None:
    def with_typo(graph, licenses, terms=None):
        triples = catalog_triples(graph, licenses, terms)
        triples.add((ID["model/llama-7b"], LKG.fineTunedform, ID["model/pythia-12b"]))
        return triples

    monkeypatch.setattr("kg.build.catalog_triples", with_typo)
    assert main(["validate", "--data", "data"]) == 1
    assert capsys.readouterr().err == (
        f"data/models/llama-7b.yaml:1: property {LKG}fineTunedform is used but not declared in ontology/lkg.ttl [undeclared-term]\n"
        "Error: 1 error(s), 0 warning(s) in the catalog\n"
    )


def test_the_real_export_conforms_to_the_shapes(files) -> None:
    data = Graph().parse(data=files["kg.ttl"], format="turtle")
    conforms, _, text = pyshacl.validate(data, shacl_graph=Graph().parse(ONTOLOGY_DIR / "shapes.ttl"), inference="none")
    assert conforms, text


def test_a_broken_graph_does_not_conform_to_the_shapes() -> None:
    data = Graph().parse(RDF_FIXTURES / "shapes-broken.ttl")
    conforms, report, _ = pyshacl.validate(data, shacl_graph=Graph().parse(ONTOLOGY_DIR / "shapes.ttl"), inference="none")
    sh = "http://www.w3.org/ns/shacl#"
    messages = sorted(
        (str(report.value(r, URIRef(sh + "resultPath"))).rpartition("#")[2].rpartition("/")[2], str(report.value(r, URIRef(sh + "resultMessage"))))
        for r in report.subjects(RDF.type, URIRef(sh + "ValidationResult"))
    )
    assert not conforms
    assert messages == [
        ("developedBy", "Node dataset:data must conform to one or more shapes in [ sh:class lkg:Organization ] , [ sh:class lkg:Person ]"),
        ("parameterCount", 'Value is not > Literal("0", datatype=xsd:integer)'),
        ("parameterCount", "Value is not Literal with datatype xsd:integer"),
        ("source", "needs at least one dcterms:source IRI"),
    ]


def test_a_model_needs_a_developer_or_a_source_record_that_describes_it() -> None:
    # The Hub names who uploaded a model, not who made it: an imported model may have no developer, a curated one may not.
    data = Graph().parse(format="turtle", data=f"""
        @prefix lkg: <{LKG}> .
        <{ID}model/curated> a lkg:Model .
        <{ID}model/imported> a lkg:Model .
        <{ID}record/huggingface/someone/imported> lkg:describes <{ID}model/imported> .
        <{ID}model/developed> a lkg:Model ; lkg:developedBy <{ID}organization/acme> .""")
    _, report, _ = pyshacl.validate(data, shacl_graph=Graph().parse(ONTOLOGY_DIR / "shapes.ttl"), inference="none")
    sh = "http://www.w3.org/ns/shacl#"
    shape = URIRef("https://w3id.org/llm-lineage/shapes#ModelDeveloperShape")
    failing = {(str(report.value(r, URIRef(sh + "focusNode"))), str(report.value(r, URIRef(sh + "resultMessage"))))
               for r in report.subjects(URIRef(sh + "sourceShape"), shape)}
    assert failing == {(f"{ID}model/curated", "a model needs at least one developer, or a source record that describes it")}


def test_a_broken_effective_policy_does_not_conform_to_the_shapes() -> None:
    data = Graph().parse(RDF_FIXTURES / "odrl-broken.ttl")
    conforms, report, _ = pyshacl.validate(data, shacl_graph=Graph().parse(ONTOLOGY_DIR / "shapes.ttl"), inference="none")
    sh = "http://www.w3.org/ns/shacl#"
    found = sorted(
        (str(report.value(r, URIRef(sh + "resultPath"))).rpartition("#")[2].rpartition("/")[2], str(report.value(r, URIRef(sh + "sourceConstraintComponent"))).rpartition("#")[2])
        for r in report.subjects(RDF.type, URIRef(sh + "ValidationResult"))
    )
    assert not conforms
    assert found == [
        ("None", "NodeKindConstraintComponent"),  # the blank-node policy
        ("None", "OrConstraintComponent"),  # a prohibition no path explains
        ("action", "InConstraintComponent"),  # an action of no vocabulary
        ("source", "MinCountConstraintComponent"),  # a path with no evidence
        ("uid", "MinCountConstraintComponent"),  # the blank-node policy has no uid
    ]


def test_text_with_quotes_newlines_backslashes_chinese_and_emoji_survives(tmp_path: Path) -> None:
    text = 'He said "hi"\\n\nback\\slash 通义千问 😀 </script>'
    graph = nx.MultiDiGraph()
    graph.add_node("model/odd", kind="model", name="Odd", description=text, sources=[{"url": "https://example.org/", "supports": "x"}])
    rdf = to_rdf(graph, {})
    for name, data in serialize(rdf).items():
        parsed = oxigraph_to_rdflib(data, FORMATS[name])
        assert (ID["model/odd"], SCHEMA.description, Literal(text, lang="en")) in parsed, name


def test_an_iri_that_slipped_past_validation_stops_the_export() -> None:
    graph = nx.MultiDiGraph()
    graph.add_node("model/odd", kind="model", name="Odd", description="x", sources=[{"url": "https://example.org/a b", "supports": "x"}])
    with pytest.raises(OutputError) as caught:
        to_rdf(graph, {})
    assert str(caught.value).startswith("internal error: model/odd sources[0] gives an invalid IRI 'https://example.org/a b' (")


def test_a_small_change_gives_a_small_diff(tiny: Path) -> None:
    catalog = load_catalog(tiny)
    before = serialize(to_rdf(build_graph(catalog), catalog.licenses))["kg.ttl"].decode().splitlines()
    path = tiny / "models" / "llama-7b.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("description: ", "description: Meta's "), encoding="utf-8")
    catalog = load_catalog(tiny)
    after = serialize(to_rdf(build_graph(catalog), catalog.licenses))["kg.ttl"].decode().splitlines()
    assert len(before) == len(after)
    assert sum(a != b for a, b in zip(before, after)) == 1


def test_a_serializer_failure_writes_nothing(tiny: Path, capsys, monkeypatch) -> None:
    assert main(["build", "--data", "data", "--out", "out"]) == 0
    before = {p.name: p.read_bytes() for p in Path("out").iterdir()}
    real = kg.build.catalog_triples

    def with_a_blank_node(graph, licenses, terms=None):  # noqa: ANN001, ANN202 (the export never makes one: a bug would)
        triples = real(graph, licenses, terms)
        triples.add((BNode("b0"), RDFS.label, Literal("odd")))
        return triples

    monkeypatch.setattr("kg.build.catalog_triples", with_a_blank_node)
    assert main(["build", "--data", "data", "--out", "out"]) == 2
    assert capsys.readouterr().err == (
        "Error: internal error: cannot stream the RDF term rdflib.term.BNode('b0') (blank nodes are not written)\n"
        "Hint: the previous output was left as it was\n"
    )
    assert {p.name: p.read_bytes() for p in Path("out").iterdir()} == before


# Killed just before or just after the one step that swaps the old outputs for the new.
KILL_AT_THE_SWAP = """
import os, signal, sys
from kg import publish
real_exchange = publish._exchange
def exchange(a, b):
    if sys.argv[1] == "after":
        real_exchange(a, b)
    os.kill(os.getpid(), signal.SIGKILL)
publish._exchange = exchange
from kg.cli import main
sys.exit(main(sys.argv[2:]))
"""


@pytest.mark.parametrize("moment, survivor", [("before", "old"), ("after", "new")])
def test_a_build_killed_at_the_swap_leaves_one_whole_set(tiny: Path, moment: str, survivor: str) -> None:
    assert main(["build", "--data", "data", "--out", "old"]) == 0
    path = tiny / "models" / "llama-7b.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("description: ", "description: Changed. "), encoding="utf-8")
    assert main(["build", "--data", "data", "--out", "new"]) == 0
    shutil.copytree("old", "out")
    done = subprocess.run([sys.executable, "-c", KILL_AT_THE_SWAP, moment, "build", "--data", "data", "--out", "out"])
    assert done.returncode == -signal.SIGKILL
    read = lambda folder: {p.name: p.read_bytes() for p in Path(folder).iterdir()}  # noqa: E731
    assert read("out") == read(survivor)
    assert [p.name for p in Path(".").glob(".out.kg-new-*")]  # the killed build's folder is left...
    assert main(["build", "--data", "data", "--out", "out"]) == 0
    assert not list(Path(".").glob(".out.kg-*"))  # ...and swept by the next build
    assert read("out") == read("new")


if __name__ == "__main__":
    if sys.argv[1:] == ["--update"]:
        GOLDEN.write_bytes(serialize(export_tiny())["kg.ttl"])
    else:
        sys.exit(__doc__)


def test_a_distilled_model_is_written_with_its_own_property_under_was_derived_from(tiny: Path) -> None:
    (tiny / "models" / "alpaca-student-7b.yaml").write_text(
        "id: model/alpaca-student-7b\nname: Alpaca Student 7B\ndescription: A student of text-davinci-003 on LLaMA 7B.\nreleased: '2023-04-01'\n"
        "derived_from:\n  - {id: model/llama-7b, relation: finetune}\n  - {id: model/text-davinci-003, relation: distillation}\n"
        "sources:\n  - {url: 'https://example.org/student', supports: base model and teacher}\n",
        encoding="utf-8",
    )
    catalog = load_catalog(tiny)
    rdf = to_rdf(build_graph(catalog), catalog.licenses)
    student, teacher = ID["model/alpaca-student-7b"], ID["model/text-davinci-003"]
    for predicate in (LKG.distilledFrom, LKG.derivedFrom, PROV.wasDerivedFrom):
        assert (student, predicate, teacher) in rdf
    assert (student, FAIR4ML.fineTunedFrom, teacher) not in rdf
    ontology = Graph().parse(ONTOLOGY_DIR / "lkg.ttl", format="turtle")
    assert (LKG.distilledFrom, RDFS.subPropertyOf, LKG.derivedFrom) in ontology
    assert {label.language for label in ontology.objects(LKG.distilledFrom, RDFS.label)} == {"en", "zh"}


def test_conditions_are_odrl_constraints_and_duties_and_the_export_conforms() -> None:
    catalog = load_catalog(Path(__file__).parent / "fixtures" / "families")
    rdf = to_rdf(build_graph(catalog), catalog.licenses)
    odrl = "http://www.w3.org/ns/odrl/2/"
    policy = URIRef(f"{ID}model/deepseek-r1-distill-llama-70b#terms")
    commercial = URIRef(f"{policy}-permission-commercialize")
    assert (policy, URIRef(odrl + "permission"), commercial) in rdf
    (constraint,) = rdf.objects(commercial, URIRef(odrl + "constraint"))
    assert rdf.value(constraint, URIRef(odrl + "leftOperand")) == LKG.monthlyActiveUsers
    assert rdf.value(constraint, URIRef(odrl + "rightOperand")).toPython() == 700_000_000
    duties = {rdf.value(d, URIRef(odrl + "action")): str(rdf.value(d, LKG.dutyNotice)) for d in rdf.objects(commercial, URIRef(odrl + "duty"))}
    assert duties == {LKG.showNotice: "Built with Llama", LKG.prefixModelName: "Llama"}
    # The explaining path is one step that continues as the base's own path.
    (path,) = rdf.objects(constraint, LKG.explainedBy)
    assert rdf.value(path, LKG.pathStep) == ID["model/deepseek-r1-distill-llama-70b"]
    assert rdf.value(rdf.value(path, LKG.pathNext), LKG.pathStep) == ID["model/llama-3.3-70b-instruct"]
    conforms, _, text = pyshacl.validate(rdf, shacl_graph=Graph().parse(ONTOLOGY_DIR / "shapes.ttl"), ont_graph=Graph().parse(ONTOLOGY_DIR / "lkg.ttl"), inference="rdfs")
    assert conforms, text
