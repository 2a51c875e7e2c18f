"""The columnar Hub path (kg.tables) against the object path (kg.sources.huggingface -> kg.merge -> kg.terms)
on small hand-written dumps of both shapes: the same entities, edges, licences and terms; bad rows
reported by file and row; RDF that pyoxigraph and rdflib parse; golden N-Quads compared as graphs."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pyoxigraph as ox
import pytest
from rdflib import Dataset, Graph
from rdflib.compare import isomorphic

from hub_fixtures import HUB_FIXTURES, write_hub_stats
from kg.catalog import load_catalog
from kg.graph import build_graph
from kg.merge import add_to_graph, merge, read_sources
from kg.rdf import catalog_triples, to_graph
from kg.tables import compute_terms_table, curated_lineage, join_catalog, read_hub_tables, write_build
from kg.terms import compute_terms

FIXTURES = Path(__file__).parent / "fixtures" / "tables"
# Two records the catalog knows by their Hub ids, and models derived from them: the joins with curated entities.
CURATED_RECORDS = [
    {"id": "meta-llama/Llama-2-7b", "sha": "a" * 40, "createdAt": "2023-07-18T00:00:00.000Z", "tags": ["license:llama2", "dataset:tiny-lab/web-text"],
     "cardData": {"license": "llama2"}},
    {"id": "someone/llama-2-7b-sql", "sha": "b" * 40, "createdAt": "2024-01-02T00:00:00.000Z",
     "tags": ["license:llama2", "base_model:meta-llama/Llama-2-7b", "base_model:finetune:meta-llama/Llama-2-7b"], "cardData": {"license": "llama2"}},
    {"id": "someone/llama-2-7b-sql-GGUF", "sha": "c" * 40, "createdAt": "2024-01-03T00:00:00.000Z",
     "tags": ["gguf", "base_model:someone/llama-2-7b-sql"]},
    {"id": "someone/nc-tune", "sha": "d" * 40, "createdAt": "2024-02-03T00:00:00.000Z",
     "tags": ["license:cc-by-nc-4.0", "base_model:adapter:someone/llama-2-7b-sql", "base_model:gone/missing-7b", "dataset:tiny-lab/web-text"]},
]


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


def hub_records() -> list[dict]:
    models = json.loads((HUB_FIXTURES / "models.json").read_text(encoding="utf-8"))
    datasets = [{**d, "repoType": "dataset"} for d in json.loads((HUB_FIXTURES / "datasets.json").read_text(encoding="utf-8"))]
    return models + datasets + CURATED_RECORDS


def write_jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def both_paths(catalog, path: Path):  # noqa: ANN001, ANN201
    tables = read_hub_tables([path])
    assert [p for p in tables.problems if p.level == "error"] == []
    joined = join_catalog(tables, catalog)
    merged = merge(catalog, read_sources([("huggingface", str(path))]))
    return joined, merged


def assert_same_as_object_path(joined, merged) -> None:  # noqa: ANN001
    assert set(joined.entities.filter(joined.entities["imported"])["entity"].to_pylist()) == set(merged.new)
    assert {(r["entity"], r["relation"], r["target"]) for r in joined.edges.to_pylist()} == {(e.entity, e.relation, e.target) for e in merged.edges}
    licences = {r["entity"]: r["license"] for r in joined.entities.to_pylist() if r["imported"] and r["license"]}
    accepted = {entity: next(c.value for c, ok in claims if ok) for (entity, name), claims in merged.claims.items()
                if name == "license" and entity in merged.new and any(ok for _, ok in claims)}
    assert licences == accepted
    matched = {joined.tables.records["id"][i].as_py(): entity for i, (entity, _) in joined.matched.items()}
    assert matched == {record.source_id: entity for record, entity, _ in merged.matched}
    assert joined.counts() == {**merged.counts(), "conflicting": 0}


def test_api_json_lines_give_the_object_paths_entities_edges_and_licences(tmp_path, catalog):
    joined, merged = both_paths(catalog, write_jsonl(tmp_path / "hub.jsonl", hub_records()))
    assert_same_as_object_path(joined, merged)
    assert ("model/huggingface-someone-llama-2-7b-sql", "finetune", "model/llama-2-7b") in {(r["entity"], r["relation"], r["target"]) for r in joined.edges.to_pylist()}


def test_ids_whose_slugs_clash_are_numbered_as_the_object_path_numbers_them(tmp_path, catalog):
    """x_y/z and x/y-z give the slug huggingface-x-y-z (their names differ: no name join), so the second is numbered
    -2; x-y/Z is joined by name to x_y/z; x-y/z-2's own slug is the -2 an earlier record took, so it becomes -2-2,
    as kg.merge numbers them in record order (the columnar path once gave the second -3)."""
    clashing = [{"id": "x_y/z", "sha": "1" * 40}, {"id": "x/y-z", "sha": "2" * 40, "tags": ["base_model:x_y/z"]},
                {"id": "x-y/Z", "sha": "3" * 40, "tags": ["base_model:x/y-z"]}, {"id": "x-y/z-2", "sha": "4" * 40, "tags": ["base_model:x-y/Z"]}]
    joined, merged = both_paths(catalog, write_jsonl(tmp_path / "hub.jsonl", clashing))
    assert_same_as_object_path(joined, merged)
    assert joined.owner.to_pylist() == ["model/huggingface-x-y-z", "model/huggingface-x-y-z-2", "model/huggingface-x-y-z", "model/huggingface-x-y-z-2-2"]


def test_columns_hashed_in_parts_by_length_join_as_the_object_path_joins(tmp_path, catalog, monkeypatch):
    """Every column is grouped and matched in parts by length, as a Hub's millions are (kg.tables.HASHED_APART):
    the same entities, joins by name, numbered slugs and edges as kg.merge."""
    monkeypatch.setattr("kg.tables.HASHED_APART", 1)
    records = hub_records() + [{"id": "x_y/z", "sha": "1" * 40}, {"id": "x/y-z", "sha": "2" * 40, "tags": ["base_model:x_y/z"]},
                               {"id": "x-y/Z", "sha": "3" * 40, "tags": ["base_model:x/y-z", "base_model:gone/missing-7b"]}]
    joined, merged = both_paths(catalog, write_jsonl(tmp_path / "hub.jsonl", records))
    assert_same_as_object_path(joined, merged)
    assert joined.owner.to_pylist()[-3:] == ["model/huggingface-x-y-z", "model/huggingface-x-y-z-2", "model/huggingface-x-y-z"]


def test_codes_and_positions_in_parts_by_length_are_those_of_one_piece(monkeypatch):
    from kg.tables import _positions, codes_of

    words = [None, "", "a", "bb", "ab", "ba", "ccc", "x" * 17, "é", "ü", "naïve", "w1", "w22", None]
    values, ids = pa.array(words * 3 + ["zz"], pa.string()), pa.array(["ba", None, "é", "ba", "w22", "q"], pa.string())
    whole, at = codes_of(values), _positions(values, ids)
    monkeypatch.setattr("kg.tables.HASHED_APART", 1)
    parts = codes_of(values)
    assert len(set(zip(whole.tolist(), parts.tolist()))) == len(set(parts.tolist())) == len(set(words)) + 1 and parts.max() == len(set(words))
    assert _positions(values, ids).tolist() == at.tolist() == [1, -1, -1, -1, -1, 0, -1, -1, 2, -1, -1, -1, 4, 1] * 3 + [-1]


def test_hub_stats_parquet_gives_the_object_paths_entities_edges_and_licences(tmp_path, catalog):
    models = json.loads((HUB_FIXTURES / "models.json").read_text(encoding="utf-8"))
    write_hub_stats(models, tmp_path / "models.parquet")
    joined, merged = both_paths(catalog, tmp_path / "models.parquet")
    assert_same_as_object_path(joined, merged)
    assert joined.edges.num_rows == 8


def test_every_imported_entitys_terms_are_kg_terms_answer(tmp_path, catalog):
    path = write_jsonl(tmp_path / "hub.jsonl", hub_records())
    joined, merged = both_paths(catalog, path)
    graph = build_graph(catalog)
    terms = compute_terms_table(joined, curated_lineage(joined, graph), catalog.licenses)
    add_to_graph(graph, merged, catalog.licenses)
    entities = joined.entities["entity"].to_pylist()
    for row, entity in enumerate(entities):
        expected = compute_terms(graph, catalog.licenses, entity)
        signature = terms.signatures[terms.signature[row]]
        assert {(t, k, lic) for t, k, lic, _ in signature.entries} == {(t.term, t.kind, t.licence) for t in expected.terms}, entity
        assert signature.commercial_use(catalog.licenses) == expected.commercial_use, entity
    nc = entities.index("model/huggingface-someone-nc-tune")
    assert terms.origin()[nc].as_py() == "model/huggingface-someone-nc-tune"
    gguf = entities.index("model/huggingface-someone-llama-2-7b-sql-gguf")
    assert terms.via()[gguf].as_py() == "model/huggingface-someone-llama-2-7b-sql"
    assert terms.origin()[gguf].as_py() == "model/huggingface-someone-llama-2-7b-sql"


def test_bad_rows_are_reported_by_file_and_row_and_the_others_read(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"id": "ok/one", "tags": ["license:mit"]}\n'
                    "not json\n"
                    '{"id": "no good id!"}\n'
                    '{"author": "x"}\n'
                    '{"id": "ok/two", "tags": ["base_model:finetune:no good base"]}\n', encoding="utf-8")
    tables = read_hub_tables([path])
    shown = [str(p) for p in tables.problems]
    assert shown == [f"{path}:2: not valid JSON: Expecting value",
                     f"{path}:3: id: 'no good id!' cannot be a Hub id (a Hub id is owner/name in letters, digits, '-', '_' and '.')",
                     f"{path}:4: id: a Hub model record needs an 'id'",
                     f"{path}:5: warning: tags.0: 'no good base' cannot be a Hub id; left out"]
    assert tables.records["id"].to_pylist() == ["ok/one", "ok/two"]
    assert tables.records["row"].to_pylist() == [1, 5]


def test_a_clean_batch_is_read_by_arrow_with_its_rows_and_checks(tmp_path):
    """No line of this dump needs the object reader: the checks of the Arrow path report by row."""
    path = write_jsonl(tmp_path / "clean.jsonl", [
        {"id": "ok/one", "tags": ["license:mit"]},
        {"id": "bad..id"},
        {"id": "ok/two", "tags": ["base_model:finetune:ok/one", "base_model:merge:-x-"]},
    ])
    tables = read_hub_tables([path])
    assert [str(p) for p in tables.problems] == [
        f"{path}:2: id: 'bad..id' cannot be a Hub id (a Hub id is owner/name in letters, digits, '-', '_' and '.')",
        f"{path}:3: warning: tags.1: '-x-' cannot be a Hub id; left out"]
    assert tables.mentions.to_pylist() == [{"record": 1, "field": "derived_from", "relation": "finetune", "text": "ok/one", "kind": "model", "pointer": "tags/0"}]


def test_batches_read_by_several_threads_keep_the_files_order_rows_and_problems(tmp_path, monkeypatch):
    """Batches of a line or two, parsed and checked by two threads, some through the object reader: the records,
    their rows, the mentions' records and the problems are those of reading the dump in one batch."""
    lines = ['{"id": "ok/one", "tags": ["license:mit"]}', "not json", '{"id": "ok/two", "tags": ["base_model:finetune:ok/one"]}',
             '{"id": "bad..id"}', '{"id": "ok/three", "tags": ["base_model:ok/two", "dataset:ok/data"]}', '{"id": "ok/four", "tags": ["base_model:-x-"]}']
    path = tmp_path / "mixed.jsonl"
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    whole = read_hub_tables([path])
    monkeypatch.setattr("kg.tables.BATCH_BYTES", 80)  # each line is shorter: a line or two a batch
    monkeypatch.setattr("kg.tables.READ_THREADS", 2)
    batched = read_hub_tables([path])
    for tables in (whole, batched):
        assert tables.records.select(["id", "row"]).to_pylist() == [{"id": "ok/one", "row": 1}, {"id": "ok/two", "row": 3},
                                                                    {"id": "ok/three", "row": 5}, {"id": "ok/four", "row": 6}]
        ids = tables.records["id"].to_pylist()
        assert sorted((ids[m["record"]], m["text"]) for m in tables.mentions.to_pylist()) == [("ok/three", "ok/data"), ("ok/three", "ok/two"), ("ok/two", "ok/one")]
    assert [str(p) for p in batched.problems] == [str(p) for p in whole.problems] == [
        f"{path}:2: not valid JSON: Expecting value",
        f"{path}:4: id: 'bad..id' cannot be a Hub id (a Hub id is owner/name in letters, digits, '-', '_' and '.')",
        f"{path}:6: warning: tags.0: '-x-' cannot be a Hub id; left out"]


def test_a_line_longer_than_a_batch_is_left_out_and_the_lines_after_it_read(tmp_path, monkeypatch):
    monkeypatch.setattr("kg.tables.BATCH_BYTES", 64)
    monkeypatch.setattr("kg.sources.huggingface.MAX_RECORD", 50)
    long = json.dumps({"id": "ok/long", "tags": ["x" * 270]})
    path = tmp_path / "long.jsonl"
    path.write_text(f'{{"id": "ok/a"}}\n{long}\n{{"id": "ok/c"}}\n', encoding="utf-8")
    tables = read_hub_tables([path])
    assert tables.records.select(["id", "row"]).to_pylist() == [{"id": "ok/a", "row": 1}, {"id": "ok/c", "row": 3}]
    assert [str(p) for p in tables.problems] == [f"{path}:2: warning: record of {len(long):,} bytes is over the 50 characters a record may have; left out"]


@pytest.fixture(scope="module")
def built(tmp_path_factory, catalog):
    folder = tmp_path_factory.mktemp("tables-build")
    path = write_jsonl(folder / "hub.jsonl", hub_records())
    graph = build_graph(catalog)
    rdf = catalog_triples(graph, catalog.licenses, terms=())
    joined = join_catalog(read_hub_tables([path]), catalog)
    terms = compute_terms_table(joined, curated_lineage(joined, graph), catalog.licenses)
    out = folder / "out"
    out.mkdir()
    write_build(out, rdf, joined, terms, ("kg.nt", "kg.ttl", "kg.nq", "kg.jsonld"), catalog.licenses)
    return out


def test_every_file_parses_with_pyoxigraph_and_rdflib_and_holds_the_same_triples(built):
    nt = Graph().parse(built / "kg.nt", format="nt")
    assert isomorphic(nt, Graph().parse(built / "kg.ttl", format="turtle"))
    assert {tuple(map(str, t)) for t in ox.parse(path=str(built / "kg.ttl"), format=ox.RdfFormat.TURTLE)} == \
           {tuple(map(str, t)) for t in ox.parse(path=str(built / "kg.nt"), format=ox.RdfFormat.N_TRIPLES)}
    quads = [q for q in ox.parse(path=str(built / "kg.nq"), format=ox.RdfFormat.N_QUADS)]
    default = {(str(q.subject), str(q.predicate), str(q.object)) for q in quads if q.graph_name == ox.DefaultGraph()}
    assert default == {(str(q.subject), str(q.predicate), str(q.object)) for q in ox.parse(path=str(built / "kg.nt"), format=ox.RdfFormat.N_TRIPLES)}
    assert len(Dataset().parse(built / "kg.nq", format="nquads")) > 0  # rdflib reads it too
    assert len({tuple(map(str, t)) for t in ox.parse(path=str(built / "kg.jsonld"), format=ox.RdfFormat.JSON_LD)}) == len(nt)


def test_a_curated_entitys_edge_from_the_dump_is_written(built, catalog):
    """kg.merge accepts a source's reference in a field the entry leaves empty; the export writes it as a plain triple."""
    assert "trained_on" not in {name for name, _, _ in catalog.entities["model/llama-2-7b"].edges}
    triple = ("<https://w3id.org/llm-lineage/id/model/llama-2-7b>", "<https://w3id.org/llm-lineage/ontology#trainedOn>",
              "<https://w3id.org/llm-lineage/id/dataset/huggingface-tiny-lab-web-text>")
    for name, fmt in (("kg.nt", ox.RdfFormat.N_TRIPLES), ("kg.ttl", ox.RdfFormat.TURTLE)):
        assert triple in {(str(t.subject), str(t.predicate), str(t.object)) for t in ox.parse(path=str(built / name), format=fmt)}, name


def test_a_claims_source_is_one_simple_pattern(built):
    store = ox.Store()
    store.bulk_load(path=str(built / "kg.nq"), format=ox.RdfFormat.N_QUADS)
    rows = list(store.query("""
        PREFIX schema: <http://schema.org/> PREFIX dcterms: <http://purl.org/dc/terms/>
        SELECT ?licence ?url WHERE { GRAPH ?record { <https://w3id.org/llm-lineage/id/model/huggingface-someone-nc-tune> schema:license ?licence }
                                     ?record dcterms:source ?url }"""))
    assert [(str(r["licence"]), str(r["url"])) for r in rows] == [("<http://spdx.org/licenses/CC-BY-NC-4.0>", "<https://huggingface.co/someone/nc-tune>")]


def test_golden_nquads_of_two_records(tmp_path, catalog):
    path = write_jsonl(tmp_path / "two.jsonl", CURATED_RECORDS[1:3])
    graph = build_graph(catalog)
    triples = catalog_triples(graph, catalog.licenses, terms=())
    joined = join_catalog(read_hub_tables([path]), catalog)
    terms = compute_terms_table(joined, curated_lineage(joined, graph), catalog.licenses)
    out = tmp_path / "out"
    out.mkdir()
    write_build(out, triples, joined, terms, ("kg.nq",), catalog.licenses)
    catalog_only = {line for line in to_graph(triples).serialize(format="nt").splitlines() if line}
    imported = [line for line in (out / "kg.nq").read_text(encoding="utf-8").splitlines() if line and line not in catalog_only]
    expected = (FIXTURES / "two-records.nq").read_text(encoding="utf-8").replace("DUMP", str(path)).replace("TODAY", joined.tables.retrieved[0])
    got, want = Dataset(), Dataset()
    got.parse(data="\n".join(imported) + "\n", format="nquads")
    want.parse(data=expected, format="nquads")
    assert {tuple(map(str, q)) for q in got.quads()} == {tuple(map(str, q)) for q in want.quads()}


def test_kg_build_takes_the_tables_path_and_kg_terms_reads_its_tables(tmp_path, monkeypatch, capsys):
    from kg.cli import main

    path = write_jsonl(tmp_path / "hub.jsonl", hub_records())
    out = tmp_path / "build"
    monkeypatch.setattr("kg.tables.TABLES_FROM_BYTES", 0)  # a dump this small keeps the object path otherwise
    assert main(["build", "--out", str(out), "--source", f"huggingface={path}", "--formats", "nt,ttl"]) == 0
    assert "sources: read 14, matched 1, new 13, ambiguous 0" in capsys.readouterr().out
    assert not (out / "graph.json").exists() and pq.read_table(out / "entities.parquet").num_rows == 14
    kg = [sys.executable, "-m", "kg"]
    terms = subprocess.run([*kg, "terms", "someone/llama-2-7b-sql-GGUF", "--graph", str(out)], capture_output=True, text=True)
    assert terms.returncode == 0, terms.stderr
    assert "use-restrictions: LicenseRef-llama-2-community (Llama 2 Community License Agreement)" in terms.stdout
    assert "weights: model/huggingface-someone-llama-2-7b-sql-gguf -> quantized from model/huggingface-someone-llama-2-7b-sql" in terms.stdout
    lineage = subprocess.run([*kg, "lineage", "someone/nc-tune", "--graph", str(out)], capture_output=True, text=True)
    assert lineage.returncode == 0, lineage.stderr
    assert "llama-2-7b-sql" in lineage.stdout


def test_a_hub_build_loaded_into_a_store_lets_go_of_its_tables_once_written(tmp_path, monkeypatch):
    """The store's load comes after the files are written; the tables (3 GB at three million models) are not held through it."""
    from kg.build import build, publish
    from kg.errors import RequestError
    from kg.store import open_store

    path = write_jsonl(tmp_path / "hub.jsonl", hub_records())
    monkeypatch.setattr("kg.tables.TABLES_FROM_BYTES", 0)
    result = build(sources=[("huggingface", path)], columnar=True)
    counts, edges = result.tables.joined.counts(), result.tables.joined.edges.num_rows
    publish(result, tmp_path / "out", ("kg.nt",), store=tmp_path / "store")
    assert (result.tables.joined, result.tables.terms) == (None, None)
    assert (result.tables.counts, result.tables.edges) == (counts, edges) and counts["new"] == 13
    with open_store(tmp_path / "store") as store:
        assert store.query("""ASK { <https://w3id.org/llm-lineage/id/model/huggingface-someone-llama-2-7b-sql-gguf>
                                    <https://w3id.org/llm-lineage/ontology#descendsFrom> <https://w3id.org/llm-lineage/id/model/llama-2-7b> }""")
    with pytest.raises(RequestError) as error:
        publish(result, tmp_path / "again", ("kg.nt",))
    assert (error.value.message, error.value.hint) == ("this Hub build's tables were let go when a store was loaded from it", "build it again to publish it again")


def test_a_small_dump_keeps_the_object_path(tmp_path):
    from kg.tables import is_table_dump

    small = write_jsonl(tmp_path / "hub.jsonl", hub_records())
    assert not is_table_dump(small) and not is_table_dump(tmp_path)


def test_a_hub_build_conforms_to_the_shapes(tmp_path, monkeypatch, capsys):
    """Imported models name no developer (the Hub says who uploaded them), and the curated Llama 2, given a dataset
    by the dump, explains its terms by paths through that imported dataset: the export describes every step of them."""
    import pyshacl
    from rdflib import Graph

    from kg.cli import main
    from kg.vocab import ONTOLOGY_DIR

    path = write_jsonl(tmp_path / "hub.jsonl", hub_records())
    monkeypatch.setattr("kg.tables.TABLES_FROM_BYTES", 0)
    assert main(["build", "-q", "--out", str(tmp_path / "out"), "--source", f"huggingface={path}", "--formats", "ttl"]) == 0
    data = Graph().parse(tmp_path / "out" / "kg.ttl")
    assert data.query("""PREFIX lkg: <https://w3id.org/llm-lineage/ontology#>
        ASK { <https://w3id.org/llm-lineage/id/model/llama-2-7b#terms> lkg:termPath/lkg:pathNext+ ?step .
              ?step a lkg:TermPath ; lkg:pathStep <https://w3id.org/llm-lineage/id/dataset/huggingface-tiny-lab-web-text> }""").askAnswer
    conforms, _, text = pyshacl.validate(data, shacl_graph=Graph().parse(ONTOLOGY_DIR / "shapes.ttl"), inference="none")
    assert conforms, text


def test_a_hub_build_counts_its_triples_whichever_files_it_writes(tmp_path, monkeypatch, capsys):
    # Turtle alone was counted as the catalog's triples and the shared policies' only.
    from kg.cli import main

    path = write_jsonl(tmp_path / "hub.jsonl", hub_records())
    monkeypatch.setattr("kg.tables.TABLES_FROM_BYTES", 0)
    counts = {}
    for formats in ("nt", "ttl", "nt,ttl"):
        assert main(["build", "-q", "--out", str(tmp_path / formats), "--source", f"huggingface={path}", "--formats", formats]) == 0
        counts[formats] = re.search(r": ([0-9]+) triples", capsys.readouterr().out).group(1)
    lines = len((tmp_path / "nt" / "kg.nt").read_text(encoding="utf-8").splitlines())
    assert counts == {"nt": str(lines), "ttl": str(lines), "nt,ttl": str(lines)}


def test_a_hub_builds_page_shows_what_the_object_paths_page_shows(tmp_path, monkeypatch):
    """The catalog, the imported derivatives of curated entities and the biggest imported families, with the
    same edges and the same effective terms, whichever path read the dump."""
    from kg.build import build
    from kg.graph import overview_nodes

    path = write_jsonl(tmp_path / "hub.jsonl", hub_records())
    objects = build(sources=[("huggingface", path)])
    monkeypatch.setattr("kg.tables.TABLES_FROM_BYTES", 0)
    tables = build(sources=[("huggingface", path)], columnar=True)
    page = tables.tables.page
    shown = overview_nodes(objects.graph)
    assert set(page) == shown and any(objects.graph.nodes[n].get("imported") for n in shown)
    assert set(page.edges(keys=True)) == set(objects.graph.subgraph(shown).edges(keys=True))
    imported = {n for n in shown if objects.graph.nodes[n].get("imported") and objects.graph.nodes[n]["kind"] in ("model", "dataset")}
    assert set(tables.tables.page_terms) == imported
    for node, result in tables.tables.page_terms.items():
        expected = objects.terms[node]
        assert {(t.term, t.kind, t.licence) for t in result.terms} == {(t.term, t.kind, t.licence) for t in expected.terms}, node
        assert result.commercial_use == expected.commercial_use, node


@pytest.mark.parametrize("batch", [100_000, 2, 1])
def test_both_paths_write_the_same_rdf_for_the_same_records(tmp_path, monkeypatch, capsys, batch):
    """The shared provenance form of issue 24: a Hub dump built by the object path and by the columnar path gives
    the same default graph and the same named graphs (the hand-written fixtures, with a curated match and lineage, and
    a dataset the dump gives the curated Llama 2, which changes its terms and those of the catalog's models made from it),
    whether the columnar writers take the entities in one batch or in batches of two or one (each with its own edges)."""
    from kg.cli import main

    path = write_jsonl(tmp_path / "hub.jsonl", hub_records())
    assert main(["build", "-q", "--out", str(tmp_path / "objects"), "--source", f"huggingface={path}", "--formats", "nt,nq,ttl"]) == 0
    monkeypatch.setattr("kg.tables.TABLES_FROM_BYTES", 0)
    monkeypatch.setattr("kg.tables.WRITE_ROWS", batch)
    assert main(["build", "-q", "--out", str(tmp_path / "tables"), "--source", f"huggingface={path}", "--formats", "nt,nq,ttl"]) == 0
    for name, fmt in (("kg.nt", ox.RdfFormat.N_TRIPLES), ("kg.nq", ox.RdfFormat.N_QUADS), ("kg.ttl", ox.RdfFormat.TURTLE)):
        objects, tables = ({str(q) for q in ox.parse(path=str(tmp_path / side / name), format=fmt)} for side in ("objects", "tables"))
        assert objects == tables, (name, sorted(objects - tables)[:3], sorted(tables - objects)[:3])
