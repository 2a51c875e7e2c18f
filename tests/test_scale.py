"""The Hub-scale build path: the dump generator, the streamed RDF writers and a 10,000-model build.

Speed and memory are measured by benchmarks/hub_build.py, not here; these
tests check that the large path writes the same facts as the small one, in
files strict parsers read, and that nothing is half-written when it fails.
"""

from __future__ import annotations

import collections
import json
import sys
from pathlib import Path

import networkx as nx
import pyoxigraph as ox
import pytest
from rdflib import Graph
from rdflib.compare import isomorphic

from kg.catalog import load_catalog
from kg.cli import main
from kg.errors import OutputError
from kg.build import build
from kg.graph import derivation_cycles, overview_nodes
from kg.merge import merge, read_sources
from kg.publish import READABLE_NODES, graph_to_json, publish_folder
from kg.rdf import serialize
from kg.stream import FILES, graph_blocks, iri, literal, write_exports

from conftest import FIXTURES, TINY

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import hub_dump  # noqa: E402

FORMATS = {"kg.nt": ox.RdfFormat.N_TRIPLES, "kg.ttl": ox.RdfFormat.TURTLE, "kg.nq": ox.RdfFormat.N_QUADS, "kg.jsonld": ox.RdfFormat.JSON_LD}
XSD = "http://www.w3.org/2001/XMLSchema#"


def _parsed(path: Path) -> set:
    return {ox.Triple(q.subject, q.predicate, q.object) for q in ox.parse(path=path, format=FORMATS[path.name])}


def test_the_dump_is_the_same_for_the_same_seed_and_differs_for_another() -> None:
    first = list(hub_dump.generate(300, seed=7))
    assert first == list(hub_dump.generate(300, seed=7))
    assert first != list(hub_dump.generate(300, seed=8))


def test_the_dump_has_models_datasets_power_law_families_and_every_relation(tmp_path: Path) -> None:
    path = hub_dump.write_dump(3000, 1, tmp_path / "hub.jsonl")
    records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    models = [r for r in records if "repoType" not in r]
    datasets = [r for r in records if r.get("repoType") == "dataset"]
    assert (len(models), len(datasets)) == (3000, 60)
    assert len({r["id"] for r in records}) == len(records)
    relations = collections.Counter(t.split(":")[1] for r in models for t in r["tags"] if t.startswith("base_model:") and t.count(":") == 2)
    assert set(relations) == {"finetune", "adapter", "quantized", "merge"}
    assert any("cardData" not in r for r in models) and any("base_model_relation" in r.get("cardData", {}) for r in models)
    assert any("generated_by" in r["cardData"] for r in datasets)
    parents = collections.Counter(t.split(":", 2)[2] for r in models for t in r["tags"] if t.startswith("base_model:finetune:"))
    sizes = sorted(parents.values(), reverse=True)
    assert sizes[0] > 20 * sizes[len(sizes) // 2]  # a few bases draw most derivatives
    assert len({r["id"].split("/")[0] for r in records}) > 10  # organizations


def test_dataset_records_of_a_dump_name_the_model_that_generated_them() -> None:
    catalog = load_catalog(TINY)
    merged = merge(catalog, read_sources([("huggingface", FIXTURES / "sources" / "huggingface" / "hub-datasets.jsonl")]))
    assert {entity_id: records[0].kind for entity_id, records in merged.new.items()} == {
        "model/huggingface-acme-writer-7b": "model", "model/huggingface-acme-base-7b": "model", "dataset/huggingface-acme-stories": "dataset",
    }
    edges = {(r.entity, r.mention.field, r.target) for r in merged.references}
    assert edges == {
        ("model/huggingface-acme-writer-7b", "derived_from", "model/huggingface-acme-base-7b"),
        ("dataset/huggingface-acme-stories", "generated_by", "model/huggingface-acme-writer-7b"),
    }


HARD_TEXT = 'He said "hi"\nthen\ttabbed \\ back \x01 通义千问 🦙'


def test_streamed_files_parse_in_pyoxigraph_to_exactly_the_triples_given(tmp_path: Path) -> None:
    s, p = "https://example.org/id/model/a", "https://example.org/p"
    blocks = [
        (iri(s), [(iri("http://www.w3.org/1999/02/22-rdf-syntax-ns#type"), iri("https://w3id.org/llm-lineage#Model")),
                  (iri(p), literal(HARD_TEXT, lang="zh")), (iri(p), literal(HARD_TEXT)), (iri(p), literal("7", datatype=XSD + "integer")),
                  (iri(p), literal("true", datatype=XSD + "boolean")), (iri(p), literal("2024-02", datatype=XSD + "gYearMonth")),
                  (iri(p), iri("https://huggingface.co/a b{c}"))]),
        (iri(f"{s}#import-1"), [(iri(p), literal(""))]),
    ]
    assert write_exports(tmp_path, blocks, FILES) == 8
    S, P = ox.NamedNode(s), ox.NamedNode(p)
    expected = {
        ox.Triple(S, ox.NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#type"), ox.NamedNode("https://w3id.org/llm-lineage#Model")),
        ox.Triple(S, P, ox.Literal(HARD_TEXT, language="zh")), ox.Triple(S, P, ox.Literal(HARD_TEXT)),
        ox.Triple(S, P, ox.Literal("7", datatype=ox.NamedNode(XSD + "integer"))),
        ox.Triple(S, P, ox.Literal("true", datatype=ox.NamedNode(XSD + "boolean"))),
        ox.Triple(S, P, ox.Literal("2024-02", datatype=ox.NamedNode(XSD + "gYearMonth"))),
        ox.Triple(S, P, ox.NamedNode("https://huggingface.co/a%20b%7Bc%7D")),
        ox.Triple(ox.NamedNode(f"{s}#import-1"), P, ox.Literal("")),
    }
    for name in FILES:
        assert _parsed(tmp_path / name) == expected, name


def test_a_synced_file_syncs_each_part_and_hands_its_pages_back_as_it_grows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    import kg.stream

    monkeypatch.setattr(kg.stream, "SYNC_BYTES", 10)
    calls: list = []
    monkeypatch.setattr(os, "fdatasync", lambda fd: calls.append("sync"))
    monkeypatch.setattr(os, "posix_fadvise", lambda fd, start, length, advice: calls.append((start, length, advice)), raising=False)
    with kg.stream.SyncedFile(tmp_path / "kg.nt") as out:
        for part in (b"a" * 6, b"b" * 6, b"c" * 25, b"d" * 3):
            assert out.write(part) == len(part)
    assert (tmp_path / "kg.nt").read_bytes() == b"a" * 6 + b"b" * 6 + b"c" * 25 + b"d" * 3
    assert calls == ["sync", (0, 12, os.POSIX_FADV_DONTNEED), "sync", (12, 25, os.POSIX_FADV_DONTNEED)]
    with pytest.raises(FileExistsError):
        kg.stream.SyncedFile(tmp_path / "kg.nt")


def test_a_synced_files_failed_sync_is_raised_when_it_is_closed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A part is synced by a thread of its own: its error is not lost, the close raises it (and still closes the file)."""
    import errno
    import os

    import kg.stream

    def fail(fd: int) -> None:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(kg.stream, "SYNC_BYTES", 10)
    monkeypatch.setattr(os, "fdatasync", fail)
    out = kg.stream.SyncedFile(tmp_path / "kg.nt")
    out.write(b"a" * 12)
    with pytest.raises(OSError, match=r"^\[Errno 5\] Input/output error$"):
        out.close()
    assert out.closed


def test_streamed_files_of_the_bundled_catalog_are_isomorphic_to_rdflibs_graph(tmp_path: Path) -> None:
    rdf = build(None, ()).rdf
    write_exports(tmp_path, graph_blocks(rdf))
    for name, rdflib_format in (("kg.nt", "nt"), ("kg.ttl", "turtle"), ("kg.jsonld", "json-ld")):
        assert isomorphic(Graph().parse(tmp_path / name, format=rdflib_format), rdf), name
    assert len(_parsed(tmp_path / "kg.ttl")) == len(rdf)


def test_graph_json_of_a_large_graph_is_node_link_data_without_indentation(monkeypatch: pytest.MonkeyPatch) -> None:
    graph = build(None, ()).graph
    graph.add_edge("model/alpaca-7b", "dataset/alpaca-data", key="trained_on", id="an attribute named like a node's key", source="and one named like an edge's")
    data = nx.node_link_data(graph, edges="edges")
    data["nodes"].sort(key=lambda n: n["id"])
    data["edges"].sort(key=lambda e: (e["source"], e["target"], e["key"]))
    monkeypatch.setattr("kg.publish.READABLE_NODES", graph.number_of_nodes() - 1)
    assert graph_to_json(graph) == (json.dumps(data, ensure_ascii=False, sort_keys=True) + "\n").encode("utf-8")
    assert graph_to_json(graph).count(b"\n") == 1
    monkeypatch.setattr("kg.publish.READABLE_NODES", READABLE_NODES)
    assert graph_to_json(graph).count(b"\n") > graph.number_of_nodes()  # small graphs stay indented


def test_without_sources_kg_build_writes_the_sorted_files_of_serialize(tiny: Path) -> None:
    assert main(["build", "--data", str(tiny), "--out", "out"]) == 0
    expected = serialize(build(tiny, ()).rdf)
    assert {name: (Path("out") / name).read_bytes() for name in expected} == expected
    assert (Path("out") / "kg.ttl").read_bytes() == (FIXTURES / "tiny.ttl").read_bytes()


def test_a_failing_stream_leaves_the_previous_outputs_and_no_temporaries(tmp_path: Path) -> None:
    out = tmp_path / "build"
    publish_folder(out, {"kg.nt": b"old\n"})

    def blocks():  # noqa: ANN202
        yield iri("https://example.org/a"), [(iri("https://example.org/p"), literal("x"))]
        raise OutputError("disk full while writing kg.ttl")

    with pytest.raises(OutputError, match="disk full while writing kg.ttl"):
        publish_folder(out, {"graph.json": b"{}"}, lambda folder: write_exports(folder, blocks()) and FILES)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["build"]
    assert sorted(p.name for p in out.iterdir()) == ["kg.nt"] and (out / "kg.nt").read_bytes() == b"old\n"


def test_a_10000_model_dump_builds_through_kg_build_source(tiny: Path, capsys: pytest.CaptureFixture) -> None:
    dump = hub_dump.write_dump(10_000, 5, Path("hub.jsonl"))
    assert main(["build", "--data", str(tiny), "--out", "out", "--source", f"huggingface={dump}"]) == 0
    printed = capsys.readouterr().out
    triples = int(printed.split("kg.jsonld: ")[1].split()[0])
    assert len(_parsed(Path("out/kg.nt"))) == triples
    assert len(_parsed(Path("out/kg.ttl"))) == triples
    graph = json.loads(Path("out/graph.json").read_text(encoding="utf-8"))
    assert len(graph["nodes"]) == len(load_catalog(tiny).entities) + 10_200
    assert "sources: read 10200, matched 0, new 10200" in printed
    assert "nodes (the catalog and the biggest imported families)" in printed


def test_imported_derivation_cycles_are_found_and_reported(tiny: Path, capsys: pytest.CaptureFixture) -> None:
    Path("hub.jsonl").write_text(
        '{"id": "a/one", "tags": ["base_model:finetune:a/two"]}\n{"id": "a/two", "tags": ["base_model:merge:a/one"]}\n', encoding="utf-8"
    )
    assert main(["build", "--data", str(tiny), "--out", "out", "--source", "huggingface=hub.jsonl"]) == 0
    assert "warning: imported records form a derivation cycle: model/huggingface-a-one, model/huggingface-a-two" in capsys.readouterr().err
    assert "derivation cycle (not a lineage): model/huggingface-a-one -> model/huggingface-a-two\n" in Path("out/sources-report.txt").read_text()


def test_the_overview_keeps_the_curated_entities_and_the_biggest_imported_families() -> None:
    graph = nx.MultiDiGraph()
    graph.add_node("model/curated", imported=False)
    for root, size in (("model/big", 5), ("model/small", 2), ("model/alone", 0)):
        graph.add_node(root, imported=True)
        for i in range(size):
            graph.add_node(f"{root}-{i}", imported=True)
            graph.add_edge(f"{root}-{i}", root, key="finetune", field="derived_from")
    graph.add_edge("model/big-1-x", "model/big-1", key="adapter", field="derived_from")
    graph.nodes["model/big-1-x"]["imported"] = True
    assert overview_nodes(graph, families=1, members=2) == {"model/curated", "model/big", "model/big-1", "model/big-0"}
    assert derivation_cycles(graph) == []


def test_the_overview_shows_imported_derivatives_that_join_the_catalog() -> None:
    graph = nx.MultiDiGraph()
    graph.add_node("model/curated", imported=False)
    for i in range(3):
        graph.add_node(f"model/child-{i}", imported=True)
        graph.add_edge(f"model/child-{i}", "model/curated", key="based-on", field="derived_from")
    graph.add_node("model/grandchild", imported=True)
    graph.add_edge("model/grandchild", "model/child-2", key="finetune", field="derived_from")
    graph.add_node("organization/acme", imported=True)
    graph.add_edge("model/curated", "organization/acme", key="developers", field="developers")
    # child-2 has a derivative of its own, so it comes first; then the ids in order. Developers are no lineage.
    assert overview_nodes(graph, families=0, joined=2) == {"model/curated", "model/child-2", "model/child-0"}


def test_kg_lineage_answers_from_a_saved_graph_with_imported_entities(tiny: Path, capsys: pytest.CaptureFixture) -> None:
    dump = FIXTURES / "sources" / "huggingface" / "hub-datasets.jsonl"
    assert main(["build", "--data", str(tiny), "--out", "out", "--source", f"huggingface={dump}"]) == 0
    capsys.readouterr()
    assert main(["lineage", "--graph", "out/graph.json", "model/huggingface-acme-base-7b"]) == 0
    assert capsys.readouterr().out == (
        "model/huggingface-acme-base-7b (base-7b)\n"
        "upstream:\n"
        "  (none)\n"
        "downstream:\n"
        "└── model/huggingface-acme-writer-7b (writer-7b) (fine-tuned from it)\n"
        "    └── dataset/huggingface-acme-stories (stories) (generated by it)\n"
    )
    assert main(["lineage", "--graph", "out/missing.json", "x"]) == 1
    assert capsys.readouterr().err == "Error: out/missing.json: no such file\nHint: run kg build first; it writes build/graph.json\n"


def test_the_api_keeps_imported_lineage_in_its_graph() -> None:
    import kg

    lkg = kg.load(TINY, sources={"huggingface": FIXTURES / "sources" / "huggingface" / "hub-datasets.jsonl"})
    assert lkg.downstream("model/huggingface-acme-base-7b") == ["dataset/huggingface-acme-stories", "model/huggingface-acme-writer-7b"]
