"""Provenance per source record (issue 24): one IRI per record, a SourceRecord node in the
default graph, and the record's claims as quads in the graph named by that IRI."""

from __future__ import annotations

import datetime as dt
import gzip
import os
import shutil
from pathlib import Path

import pytest
import pyoxigraph as ox
from rdflib import Dataset, Graph
from rdflib.compare import isomorphic

from kg.build import build
from kg.cli import main
from kg.query import QUERIES_DIR
from kg.store import stage_store
from kg.stream import graph_blocks, write_exports
from kg.vocab import record_iri

from conftest import FIXTURES

SOURCES = FIXTURES / "sources"


def test_record_iri_keeps_unreserved_characters_and_slashes():
    assert record_iri("huggingface", "meta-llama/Llama-2-7b_hf.v1~x") == "https://w3id.org/llm-lineage/id/record/huggingface/meta-llama/Llama-2-7b_hf.v1~x"


def test_record_iri_percent_encodes_everything_else_as_utf8():
    assert record_iri("dpc", "Flan Collection/niv2:task#1") == "https://w3id.org/llm-lineage/id/record/dpc/Flan%20Collection/niv2%3Atask%231"
    assert record_iri("open-llms", "通义千问+%") == "https://w3id.org/llm-lineage/id/record/open-llms/%E9%80%9A%E4%B9%89%E5%8D%83%E9%97%AE%2B%25"


GOLDEN = FIXTURES / "provenance" / "imported.nq"
RETRIEVED = dt.datetime(2024, 5, 1, 12).timestamp()  # the copies' day, as their modification time says


def imported_part(catalog: Path) -> str:
    """The N-Quads a build adds to the tiny catalog's for a tiny Hub dump (a record matching a curated
    model and disagreeing on its licence, a new model whose base is unknown) and a tiny DPC file (a
    record matching a curated dataset, a new one with a resolved and an unresolved base)."""
    tmp = catalog.parent  # the working directory: the places in the records are relative to it
    shutil.copy(SOURCES / "huggingface" / "hub.jsonl", tmp / "hub.jsonl")
    shutil.copytree(SOURCES / "dpc", tmp / "dpc")
    for path in (tmp / "hub.jsonl", tmp / "dpc" / "Alpaca.json"):
        os.utime(path, (RETRIEVED, RETRIEVED))
    result = build(catalog, [("huggingface", "hub.jsonl"), ("dpc", "dpc/Alpaca.json")])
    catalog = {f"{s} {p} {o} .\n" for s, pairs in graph_blocks(result.rdf) for p, o in pairs}
    lines = [f"{s} {p} {o} .\n" for s, pairs in result.blocks() for p, o in pairs]
    lines += [f"{s} {p} {o} {g} .\n" for g, s, pairs in result.quads() for p, o in pairs]
    return "".join(sorted(set(lines) - catalog))


def graphs_of(text: str) -> dict[str, Graph]:
    dataset = Dataset()
    dataset.parse(data=text, format="nquads")
    return {str(g.identifier): Graph() + g for g in dataset.graphs() if len(g)}


def test_the_imported_part_of_a_build_is_the_golden_default_graph_and_named_graphs(tiny: Path) -> None:
    found, expected = graphs_of(imported_part(tiny)), graphs_of(GOLDEN.read_text(encoding="utf-8"))
    assert sorted(found) == sorted(expected)
    for name in expected:
        assert isomorphic(found[name], expected[name]), name


def test_a_claims_source_is_one_graph_pattern(tiny: Path) -> None:
    store = ox.Store()
    store.load(imported_part(tiny).encode(), format=ox.RdfFormat.N_QUADS)
    rows = store.query("""PREFIX schema: <http://schema.org/> PREFIX dcterms: <http://purl.org/dc/terms/>
        SELECT ?licence ?url WHERE { GRAPH ?record { <https://w3id.org/llm-lineage/id/dataset/alpaca-52k> schema:license ?licence }
                                     ?record dcterms:source ?url }""")
    dpc = "https://github.com/Data-Provenance-Initiative/Data-Provenance-Collection/blob/main/data_summaries/Alpaca.json"
    assert {(str(r["licence"]), r["url"].value) for r in rows} == {('"OpenAI"', dpc), ("<http://spdx.org/licenses/CC-BY-NC-4.0>", dpc)}


def test_entities_with_the_same_terms_share_one_policy(tiny: Path) -> None:
    (tiny.parent / "more").mkdir()
    (tiny.parent / "more" / "hub.jsonl").write_text('{"id": "someone/other-model", "tags": ["license:apache-2.0"]}\n', encoding="utf-8")
    result = build(tiny, [("huggingface", SOURCES / "huggingface" / "hub.jsonl"), ("huggingface", tiny.parent / "more" / "hub.jsonl")])
    policies = {s: o for s, pairs in result.blocks() for p, o in pairs if p == "<http://www.w3.org/ns/odrl/2/hasPolicy>" and "/id/terms/" in o}
    model = "<https://w3id.org/llm-lineage/id/model/huggingface-someone-{}>"
    assert policies[model.format("old-model")] == policies[model.format("other-model")]  # Apache-2.0, nothing upstream: the same terms
    assert len(policies) == 3 and len(set(policies.values())) == 2
    written = [s for s, _ in result.blocks() if s == policies[model.format("old-model")]]
    assert len(written) == 1  # the shared policy node is written once


def test_nq_and_compressed_files_hold_the_named_graphs(tmp_path: Path) -> None:
    named = [("<https://example.org/record/1>", "<https://example.org/e>", [("<https://example.org/p>", '"claimed"')])]
    blocks = [("<https://example.org/e>", [("<https://example.org/p>", '"accepted"')])]
    assert write_exports(tmp_path, blocks, ("kg.nt", "kg.nq"), named, compress=True) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kg.nq.gz", "kg.nt.gz"]
    assert gzip.decompress((tmp_path / "kg.nt.gz").read_bytes()) == b'<https://example.org/e> <https://example.org/p> "accepted" .\n'
    assert gzip.decompress((tmp_path / "kg.nq.gz").read_bytes()) == (
        b'<https://example.org/e> <https://example.org/p> "accepted" .\n'
        b'<https://example.org/e> <https://example.org/p> "claimed" <https://example.org/record/1> .\n')


def test_the_store_is_loaded_from_kg_nq_gz_with_its_named_graphs(tmp_path: Path) -> None:
    (tmp_path / "kg.nq.gz").write_bytes(gzip.compress(b'<https://example.org/e> <https://example.org/p> "claimed" <https://example.org/record/1> .\n'))
    staged = stage_store(tmp_path / "store", tmp_path / "kg.nq.gz")
    store = ox.Store.read_only(str(staged))
    graphs = {str(q.graph_name) for q in store.quads_for_pattern(None, None, None)}
    assert graphs == {"<https://example.org/record/1>"}


def test_the_shipped_query_of_claims_reads_each_claim_beside_the_accepted_licence(tiny: Path) -> None:
    store = ox.Store()
    store.load(imported_part(tiny).encode(), format=ox.RdfFormat.N_QUADS)
    store.load(b"<https://w3id.org/llm-lineage/id/dataset/alpaca-52k> <http://schema.org/license> <http://spdx.org/licenses/CC-BY-NC-4.0> .\n",
               format=ox.RdfFormat.N_TRIPLES)  # the catalog's own, accepted licence of the curated dataset
    rows = store.query((QUERIES_DIR / "21-claims-and-their-sources.rq").read_text(encoding="utf-8"))
    found = {(r["entity"].value.rpartition("/")[2], str(r["claimed"]), str(r["accepted"]) if r["accepted"] else None, r["tracker"].value, r["location"].value) for r in rows}
    assert found == {
        ("alpaca-52k", '"OpenAI"', "<http://spdx.org/licenses/CC-BY-NC-4.0>", "dpc", "dpc/Alpaca.json#/alpaca-52k"),
        ("alpaca-52k", "<http://spdx.org/licenses/CC-BY-NC-4.0>", "<http://spdx.org/licenses/CC-BY-NC-4.0>", "dpc", "dpc/Alpaca.json#/alpaca-52k"),
        ("huggingface-databricks-dolly-v2-12b", '"MIT"', '"MIT"', "huggingface", "hub.jsonl:1#/id"),
        ("huggingface-someone-old-model", "<http://spdx.org/licenses/Apache-2.0>", "<http://spdx.org/licenses/Apache-2.0>", "huggingface", "hub.jsonl:2#/id"),
    }


def test_kg_build_compress_writes_gz_files_and_loads_the_store_from_kg_nq_gz(tiny: Path, capsys) -> None:  # noqa: ANN001
    from kg.cli import main

    hub = SOURCES / "huggingface" / "hub.jsonl"
    assert main(["build", "--data", "data", "--out", "out", "--formats", "nt,nq", "--compress", "--store", "out/store", "--source", f"huggingface={hub}"]) == 0
    assert "wrote out/kg.nt.gz, kg.nq.gz: " in capsys.readouterr().out
    assert sorted(p.name for p in Path("out").iterdir()) == ["graph.json", "kg.nq.gz", "kg.nt.gz", "lineage.html", "sources-report.txt", "store"]
    store = ox.Store.read_only("out/store")
    rows = store.query("SELECT ?record WHERE { GRAPH ?record { ?model <http://schema.org/license> ?licence } }")
    assert {r["record"].value for r in rows} == {f"https://w3id.org/llm-lineage/id/record/huggingface/{repo}" for repo in ("databricks/dolly-v2-12b", "someone/old-model")}


def test_kg_query_reads_the_compressed_quads_a_build_wrote(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    (tmp_path / "kg.nq.gz").write_bytes(gzip.compress(b'<https://example.org/e> <https://example.org/p> "claimed" <https://example.org/record/1> .\n'))
    assert main(["query", "--graph", str(tmp_path / "kg.nq.gz"), "--format", "csv",
                 "SELECT ?record WHERE { GRAPH ?record { ?e ?p 'claimed' } }"]) == 0
    assert capsys.readouterr().out == "record\nhttps://example.org/record/1\n"
