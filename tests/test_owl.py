"""The ontology with the export loads in an OWL 2 DL reasoner (HermiT, through
owlready2) and is consistent. HermiT needs Java: .ci/run installs Debian's; a
run outside CI without it skips."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pyoxigraph as ox
import pytest
from rdflib import Graph

import kg
from kg.store import write_store
from kg.vocab import ONTOLOGY_FILE

from conftest import TINY

owlready2 = pytest.importorskip("owlready2")

if shutil.which("java") is None:
    if os.environ.get("CI"):
        pytest.fail("HermiT needs Java (Debian's default-jre-headless)", pytrace=False)
    pytest.skip("no Java for HermiT", allow_module_level=True)


def reason(rdf: Graph, tmp_path: Path):  # noqa: ANN201
    """Load ontology + export into a fresh owlready2 world and run HermiT on it."""
    merged = Graph().parse(ONTOLOGY_FILE) + rdf
    path = tmp_path / "all.nt"
    merged.serialize(path, format="nt", encoding="utf-8")
    world = owlready2.World()
    world.get_ontology(path.as_uri()).load(format="ntriples")
    owlready2.sync_reasoner_hermit(world, infer_property_values=False, debug=0)
    return world


@pytest.mark.parametrize("catalog", [TINY, None], ids=["tiny", "bundled"])
def test_ontology_and_export_are_consistent_in_hermit(catalog, tmp_path: Path) -> None:
    world = reason(kg.load(catalog).rdf, tmp_path)
    assert list(world.inconsistent_classes()) == []


def test_hermit_does_find_an_inconsistency(tmp_path: Path) -> None:
    """The reasoner really reasons: a model declared disjoint from its own class is caught."""
    rdf = kg.load(TINY).rdf
    rdf.parse(data="""
        @prefix owl: <http://www.w3.org/2002/07/owl#> .
        @prefix lkg: <https://w3id.org/llm-lineage/ontology#> .
        lkg:Model owl:disjointWith lkg:Dataset .
        <https://w3id.org/llm-lineage/id/model/llama-7b> a lkg:Dataset .
    """, format="turtle")
    with pytest.raises(owlready2.OwlReadyInconsistentOntologyError):
        reason(rdf, tmp_path)


def test_the_store_closure_is_consistent_with_the_ontology(tmp_path: Path) -> None:
    """lkg:descendsFrom (transitive, written only into the store) with the export of the tiny catalog."""
    rdf = kg.load(TINY).rdf
    write_store(tmp_path / "store", rdf.serialize(format="nt", encoding="utf-8"))
    closure = [quad for quad in ox.Store.read_only(str(tmp_path / "store")) if quad.predicate.value.endswith("#descendsFrom")]
    assert closure
    rdf.parse(data="".join(f"{q.subject} {q.predicate} {q.object} .\n" for q in closure), format="nt")
    world = reason(rdf, tmp_path)
    assert list(world.inconsistent_classes()) == []
