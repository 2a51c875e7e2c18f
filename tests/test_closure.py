"""The lineage closure in the store (`lkg:descendsFrom`, written by `kg build --store`),
and the commands that answer from the store: `kg query --store`, `kg lineage --store`."""

from __future__ import annotations

import errno
import io
import sys
from collections.abc import Iterator
from pathlib import Path

import pyoxigraph as ox
import pytest

import kg.store
from kg.build import build, publish
from kg.cli import main
from kg.errors import OutputError, RequestError
from kg.graph import find_node, format_lineage, load_graph
from kg.store import (
    add_closure,
    find_entity,
    read_derivations,
    read_lineage,
    write_store,
)

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
from hub_dump import write_dump  # noqa: E402

EX = "https://example.org/"
PROV = "http://www.w3.org/ns/prov#"
LKG = "https://w3id.org/llm-lineage/ontology#"
DESCENDS_FROM = ox.NamedNode(f"{LKG}descendsFrom")
DERIVED_FROM = f"<{PROV}wasDerivedFrom>"


def closure_of(ntriples: str) -> set[tuple[str, str]]:
    """The (x, ancestor) pairs add_closure writes into a store holding `ntriples`, checked against
    Oxigraph's own `prov:wasDerivedFrom+` on the same store."""
    store = ox.Store()
    store.load(ntriples.encode("utf-8"), format=ox.RdfFormat.N_TRIPLES)
    path = {(row["x"].value, row["a"].value) for row in store.query(f"SELECT ?x ?a WHERE {{ ?x {DERIVED_FROM}+ ?a }}")}
    count = add_closure(store)
    pairs = {(quad.subject.value, quad.object.value) for quad in store.quads_for_pattern(None, DESCENDS_FROM, None)}
    assert count == len(pairs)
    assert pairs == path
    return {(x.removeprefix(EX), a.removeprefix(EX)) for x, a in pairs}


def derivations(*pairs: str) -> str:
    """N-Triples of `x prov:wasDerivedFrom y` for each "x y"."""
    return "".join(f"<{EX}{x}> {DERIVED_FROM} <{EX}{y}> .\n" for x, y in map(str.split, pairs))


def test_a_chain_descends_from_every_link_above() -> None:
    assert closure_of(derivations("c b", "b a")) == {("c", "b"), ("b", "a"), ("c", "a")}


def test_a_diamond_gives_its_apex_once() -> None:
    assert closure_of(derivations("d b", "d c", "b a", "c a")) == {("d", "b"), ("d", "c"), ("b", "a"), ("c", "a"), ("d", "a")}


def test_a_merge_descends_from_both_parents_and_their_ancestors() -> None:
    pairs = derivations("merged left", "merged right", "left base", "right other-base")
    assert closure_of(pairs) == {
        ("merged", "left"), ("merged", "right"), ("merged", "base"), ("merged", "other-base"), ("left", "base"), ("right", "other-base"),
    }  # fmt: skip


def test_a_dataset_descends_from_the_model_that_generated_it_but_a_model_trained_on_it_does_not() -> None:
    ntriples = derivations("dataset/answers model/teacher", "model/teacher model/base") + (
        f"<{EX}dataset/answers> <{LKG}generatedBy> <{EX}model/teacher> .\n"
        f"<{EX}model/student> <{LKG}trainedOn> <{EX}dataset/answers> .\n"  # training data is no derivation
        f'<{EX}model/teacher> <http://www.w3.org/2000/01/rdf-schema#label> "Teacher"@en .\n'
    )
    assert closure_of(ntriples) == {("dataset/answers", "model/teacher"), ("dataset/answers", "model/base"), ("model/teacher", "model/base")}


def test_members_of_a_cycle_descend_from_themselves_as_the_property_path_says() -> None:
    assert closure_of(derivations("a b", "b a", "c a")) == {("a", "b"), ("b", "a"), ("a", "a"), ("b", "b"), ("c", "a"), ("c", "b")}


def test_a_chain_a_thousand_deep_needs_no_recursion() -> None:
    store = ox.Store()
    store.load(derivations(*(f"m{i + 1} m{i}" for i in range(1000))).encode(), format=ox.RdfFormat.N_TRIPLES)
    assert add_closure(store) == 1000 * 1001 // 2
    assert ox.Quad(ox.NamedNode(f"{EX}m1000"), DESCENDS_FROM, ox.NamedNode(f"{EX}m0")) in store


def derivation_pairs(text: str) -> set[tuple[str, str]]:
    names, parents = read_derivations(io.BytesIO(text.encode()))
    return {(names[child].decode(), names[parent].decode()) for child, direct in enumerate(parents) for parent in direct}


def test_the_scan_reads_default_graph_derivations_between_iris_across_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kg.store, "SCANNED_BLOCK", 7)  # every line split between blocks
    text = (
        f"<{EX}b> {DERIVED_FROM} <{EX}a> .\n"
        f"<{EX}c> {DERIVED_FROM} <{EX}b> <{EX}record/1> .\n"  # a claim in a record's graph, not an accepted fact
        f'<{EX}d> <{EX}says> "<{EX}x> {DERIVED_FROM} <{EX}y> ." .\n'  # in a literal
        f"_:n {DERIVED_FROM} <{EX}a> .\n"
        f"<{EX}c> {DERIVED_FROM} <{EX}a> ."  # the last line, with no newline
    )
    assert derivation_pairs(text) == {(f"<{EX}b>", f"<{EX}a>"), (f"<{EX}c>", f"<{EX}a>")}


def closure_in(folder: Path, export: Path) -> None:
    """Assert that the store at `folder` holds, as `lkg:descendsFrom`, what `prov:wasDerivedFrom+` finds on `export`."""
    store = ox.Store()
    store.load(path=str(export), format=ox.RdfFormat.N_QUADS if export.suffix == ".nq" else ox.RdfFormat.N_TRIPLES)
    path = {(row["x"], row["a"]) for row in store.query(f"SELECT ?x ?a WHERE {{ ?x {DERIVED_FROM}+ ?a }}")}
    closure = {(quad.subject, quad.object) for quad in ox.Store.read_only(str(folder)).quads_for_pattern(None, DESCENDS_FROM, None)}
    assert path and closure == path


def test_every_writer_puts_derivations_in_the_form_the_scan_reads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The catalog's serializer, the object path's stream and the tables' writers, to kg.nt and kg.nq:
    the store's closure is made from the scan of the text alone, never read back from the store."""

    def read_back(store: ox.Store) -> int:
        raise AssertionError("the scan missed a derivation")

    monkeypatch.setattr(kg.store, "add_closure", read_back)
    monkeypatch.setattr("kg.tables.TABLES_FROM_BYTES", 0)  # a dump this small keeps the object path otherwise
    dump = write_dump(500, 3, tmp_path / "hub.jsonl")
    for name, sources, columnar in (("catalog", [], False), ("objects", [("huggingface", dump)], False), ("tables", [("huggingface", dump)], True)):
        for export in ("kg.nt", "kg.nq"):
            result = build(ROOT / "data", sources, columnar=columnar)  # a Hub build's tables are let go once a store is loaded
            assert (result.tables is not None) == (name == "tables")
            out = tmp_path / f"{name}-{export}"
            publish(result, out, (export,), store=out / "store")
            closure_in(out / "store", out / export)


def test_derivations_written_in_another_form_are_read_back_from_the_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    monkeypatch.setattr(kg.store, "add_closure", lambda store: calls.append(add_closure(store)))
    (tmp_path / "kg.nt").write_text(
        f"<{EX}c>\t{DERIVED_FROM}\t<{EX}b> .\n"  # tabs, which N-Triples allows
        f"<{EX}b> {DERIVED_FROM} <{EX}\\u0061> .\n"  # <{EX}a>, escaped
        f"<{EX}a> {DERIVED_FROM} <{EX}base> .\n")
    write_store(tmp_path / "store", tmp_path / "kg.nt")
    assert calls == [6]
    closure_in(tmp_path / "store", tmp_path / "kg.nt")


def stored(folder: Path) -> set[ox.Triple]:
    return {quad.triple for quad in ox.Store.read_only(str(folder))}


def exported(path: Path) -> set[ox.Triple]:
    store = ox.Store()
    store.load(path=str(path), format=ox.RdfFormat.N_TRIPLES)
    return {quad.triple for quad in store}


def test_the_closure_is_in_the_store_only(tiny: Path) -> None:
    assert main(["build", "--data", "data", "--out", "out", "--store", "out/store"]) == 0
    export = exported(Path("out/kg.nt"))
    assert not any(triple.predicate == DESCENDS_FROM for triple in export)
    added = stored(Path("out/store")) - export
    assert added and all(triple.predicate == DESCENDS_FROM for triple in added)
    store = ox.Store()
    store.load(path="out/kg.nt", format=ox.RdfFormat.N_TRIPLES)
    path = {(row["x"], row["a"]) for row in store.query(f"SELECT ?x ?a WHERE {{ ?x {DERIVED_FROM}+ ?a }}")}
    assert {(triple.subject, triple.object) for triple in added} == path
    assert stored(Path("out/store")) >= export


def test_a_failure_while_loading_the_closure_leaves_the_old_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    old = f"<{EX}b> {DERIVED_FROM} <{EX}a> .\n".encode()
    write_store(tmp_path / "store", old)
    before = stored(tmp_path / "store")

    def fill_the_disk(names: list[bytes], parents: list[list[int]]) -> Iterator[bytes]:
        yield f"<{EX}c> <{LKG}descendsFrom> <{EX}a> .\n".encode()  # half done...
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(kg.store, "closure_lines", fill_the_disk)
    with pytest.raises(OutputError, match=r"^disk full while loading the store .*/store$"):
        write_store(tmp_path / "store", old + f"<{EX}c> {DERIVED_FROM} <{EX}b> .\n".encode())
    assert stored(tmp_path / "store") == before
    assert [p.name for p in tmp_path.iterdir()] == ["store"]


def run(capsys: pytest.CaptureFixture, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def tiny_store(tiny: Path, capsys: pytest.CaptureFixture) -> Path:
    assert main(["build", "--data", "data", "--out", "out", "--store", "out/store"]) == 0
    capsys.readouterr()
    return Path("out/store")


def test_query_store_answers_with_the_closure_what_the_property_path_answers_on_the_export(tiny_store: Path, capsys: pytest.CaptureFixture) -> None:
    closure = run(capsys, "query", "--store", "out/store", "SELECT ?m WHERE { ?m lkg:descendsFrom model:llama-7b } ORDER BY ?m")
    path = run(capsys, "query", "--graph", "out/kg.nt", "SELECT ?m WHERE { ?m prov:wasDerivedFrom+ model:llama-7b } ORDER BY ?m")
    assert closure == path == (0, "m\nmodel:alpaca-lora-7b\nmodel:stanford-alpaca-7b\n(2 rows)\n", "")
    assert run(capsys, "query", "--store", "out/store", "--format", "csv", "llama-descendants")[0] == 0


def test_query_store_keeps_the_bounds_of_kg_query(tiny_store: Path, capsys: pytest.CaptureFixture) -> None:
    assert run(capsys, "query", "--store", "out/store", "SELECT * WHERE { SERVICE <http://127.0.0.1:1/> { ?s ?p ?o } }") == (
        1, "", "Error: query:1:18: SERVICE is refused: queries here never reach another machine\n"
        "Hint: query the local graph only; to federate, load build/kg.nt into an endpoint of your own\n",
    )  # fmt: skip
    assert run(capsys, "query", "--store", "out/store", "--max-rows", "2", "SELECT * WHERE { ?s ?p ?o }") == (
        1, "", "Error: query: the answer has more than 2 rows\nHint: add LIMIT or narrow the query, or raise --max-rows\n",
    )  # fmt: skip
    cross = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l }"
    assert run(capsys, "query", "--store", "out/store", "--timeout", "0.5", cross) == (
        1, "", "Error: query: stopped after 0.5 s without an answer\nHint: narrow the query, or give more time with --timeout\n",
    )  # fmt: skip


def test_a_missing_store_or_a_folder_that_is_not_one_says_how_to_make_one(tiny: Path, capsys: pytest.CaptureFixture) -> None:
    Path("notes").mkdir()
    for command in (["query", "ASK {}"], ["lineage", "LLaMA"]):
        assert run(capsys, *command, "--store", "none") == (1, "", "Error: none does not exist\nHint: build one with `kg build --store none`\n")
        assert run(capsys, *command, "--store", "notes") == (1, "", "Error: notes is not an Oxigraph store\nHint: build one with `kg build --store notes`\n")
        assert run(capsys, *command, "--store", "notes", "--graph", "out/graph.json") == (
            1, "", "Error: --graph and --store both give the graph to answer from\nHint: give one of them\n",
        )  # fmt: skip


def test_lineage_store_prints_what_lineage_graph_prints(tiny_store: Path, capsys: pytest.CaptureFixture) -> None:
    for name in ("羊驼", "model/llama-7b", "Alpaca-52K", "text-davinci-003"):
        from_graph = run(capsys, "lineage", "--graph", "out/graph.json", name)
        assert run(capsys, "lineage", "--store", "out/store", name) == from_graph
        assert from_graph[0] == 0
    assert run(capsys, "lineage", "--store", "out/store", "--depth", "1", "LLaMA-7B") == run(capsys, "lineage", "--graph", "out/graph.json", "--depth", "1", "LLaMA-7B")
    assert run(capsys, "lineage", "--store", "out/store", "model/alpaca-lora") == (
        1, "", "Error: no entity is named 'model/alpaca-lora'\nHint: did you mean 'model/alpaca-lora-7b'?\n",
    )  # fmt: skip


def same_lineage_everywhere(out: Path) -> int:
    """Compare, for every entity of a build, `format_lineage` from graph.json and from the store; return how many."""
    graph = load_graph(out / "graph.json")
    store = ox.Store.read_only(str(out / "store"))
    for node in graph:
        assert format_lineage(read_lineage(store, node), node) == format_lineage(graph, node), node
    return graph.number_of_nodes()


def test_every_entity_of_the_bundled_catalog_has_the_same_lineage_from_the_store(tmp_path: Path) -> None:
    assert main(["build", "--out", str(tmp_path / "out"), "--store", str(tmp_path / "out" / "store")]) == 0
    assert same_lineage_everywhere(tmp_path / "out") > 200
    graph, store = load_graph(tmp_path / "out" / "graph.json"), ox.Store.read_only(str(tmp_path / "out" / "store"))
    for text in ("Vicuna-13B", "vicuna-13b", "VICUNA-13B", "小羊驼", "骆驼", "Alpaca-LoRA", "chatyuan", "llama", "LLaMA 2", "model/llama-2"):
        assert find_entity(store, text) == find_node(graph, text), text
    for text in ("model/vicuna-13", "Vicunaa", "no such thing at all"):
        with pytest.raises(RequestError) as from_graph:
            find_node(graph, text)
        with pytest.raises(RequestError) as from_store:
            find_entity(store, text)
        assert (from_store.value.message, from_store.value.hint) == (from_graph.value.message, from_graph.value.hint)


def test_every_entity_of_a_small_hub_build_has_the_same_lineage_from_the_store(tmp_path: Path) -> None:
    dump = write_dump(2_000, 3, tmp_path / "hub.jsonl")
    out = tmp_path / "out"
    assert main(["build", "--source", f"huggingface={dump}", "--out", str(out), "--store", str(out / "store")]) == 0
    assert same_lineage_everywhere(out) > 2_000
