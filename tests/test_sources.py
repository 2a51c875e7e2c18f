"""Readers of other trackers' data (kg.sources) and their merge with the catalog (kg.merge).

Fixtures under fixtures/sources/ are hand-written, one quirk each; the tests
at the end read the real copies in ../shared/data and skip when absent.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from rdflib.namespace import RDF

from kg.catalog import load_catalog
from kg.cli import main
from kg.errors import CatalogError
from kg.merge import format_report, merge, read_sources
from kg.sources import read_source
from kg.vocab import LKG, SCHEMA

from conftest import FIXTURES, TINY

SOURCES = FIXTURES / "sources"
# ../shared/data beside the checkout, or beside the folder of worktrees a checkout may sit in.
SHARED = next((p for p in (Path(__file__).resolve().parents[n] / "shared" / "data" for n in (2, 3)) if p.is_dir()), Path("/nonexistent"))


@pytest.fixture
def catalog_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The tiny catalog with a same_as link on Dolly 2.0 12B and two models aliased 'Alpaca'."""
    shutil.copytree(TINY, tmp_path / "data")
    shutil.copytree(SOURCES / "catalog", tmp_path / "data", dirs_exist_ok=True)
    shutil.copytree(SOURCES, tmp_path / "sources", ignore=shutil.ignore_patterns("catalog"))
    monkeypatch.chdir(tmp_path)
    return tmp_path / "data"


def _read(name: str, path: str) -> list:
    problems: list = []
    records = read_source(name, SOURCES / path, problems)
    assert problems == []
    return records


def _claims(record) -> list[tuple]:  # noqa: ANN001
    return [(c.field, c.value) for c in record.claims]


def test_a_card_with_a_misspelled_relation_key_and_a_list_base_model_is_an_adapter_with_no_licence_claim_for_other() -> None:
    records = {r.source_id: r for r in _read("huggingface", "huggingface/cards")}
    lora = records["tloen/alpaca-lora-7b"]
    assert [(m.field, m.text, m.relation) for m in lora.mentions] == [
        ("derived_from", "huggingface:huggyllama/LLaMA-7B", "adapter"),
        ("trained_on", "huggingface:yahma/alpaca-cleaned", None),
    ]
    assert _claims(lora) == []
    dolly = records["databricks/dolly-v2-12b"]
    assert _claims(dolly) == [("license", "MIT"), ("languages", "en")]
    assert dolly.mentions[0].relation == "finetune"
    assert dolly.claims[0].origin.where.endswith("cards/databricks/dolly-v2-12b/README.md:2")
    assert dolly.claims[0].origin.url == "https://huggingface.co/databricks/dolly-v2-12b"


def test_hub_records_take_relations_licences_and_datasets_from_tags_and_the_created_at_floor_is_no_date() -> None:
    dolly, old = _read("huggingface", "huggingface/hub.jsonl")
    assert _claims(dolly) == [("license", "MIT"), ("uploaded", "2023-04-11")]
    assert dolly.claims[0].origin.commit == "19308160448536e378e3db21a73a751579ee7fdd"
    assert [(m.field, m.text) for m in dolly.mentions] == [
        ("derived_from", "huggingface:EleutherAI/pythia-12b"),
        ("trained_on", "huggingface:databricks/databricks-dolly-15k"),
    ]
    assert _claims(old) == [("license", "Apache-2.0")]
    assert [(m.text, m.relation) for m in old.mentions] == [("huggingface:someone/older-model", "quantized")]


def test_bad_lines_of_a_hub_dump_are_all_reported_with_their_line_and_the_good_ones_kept() -> None:
    problems: list = []
    records = read_source("huggingface", SOURCES / "bad" / "hub.jsonl", problems)
    assert [r.source_id for r in records] == ["ok/model"]
    shown = str(SOURCES / "bad" / "hub.jsonl")
    assert [str(p) for p in problems] == [
        f"{shown}:2: id: a Hub model record needs an 'id'",
        f"{shown}:3: not valid JSON: Expecting value",
    ]


def test_dpc_licence_names_become_licence_ids_and_creators_models_and_parents_stay_mentions() -> None:
    alpaca, cleaned = _read("dpc", "dpc")
    assert _claims(alpaca) == [("license", "OpenAI"), ("license", "CC-BY-NC-4.0"), ("languages", "en"), ("records", 52002)]
    assert alpaca.claims[1].origin.where.endswith("Alpaca.json#/alpaca-52k/Licenses/1/License")
    assert [(m.field, m.text) for m in alpaca.mentions] == [("developers", "Stanford CRFM"), ("generated_by", "OpenAI GPT-3")]
    assert _claims(cleaned) == []  # 'Unspecified' is no licence
    assert [m.text for m in cleaned.mentions] == ["Alpaca 52K", "Some Forum Dump"]


def test_ecosystem_graphs_value_explanation_fields_placeholders_and_lines() -> None:
    llama, chat, alpaca = _read("ecosystem-graphs", "ecosystem-graphs")
    assert _claims(llama) == [("license", "LicenseRef-llama-1-noncommercial"), ("released", "2023-02-24"), ("parameters", 7_000_000_000)]
    assert llama.claims[1].origin.where.endswith("stanford.yaml:6")
    assert chat.kind == "software" and _claims(chat) == []
    assert [m.text for m in chat.mentions] == ["Stanford CRFM", "Unknown Lab", "LLaMa 7B", "Unknown Corpus"]
    assert _claims(alpaca) == [("released", "2023")]


def test_open_llms_rows_lose_html_comments_ranges_give_no_count_and_dataset_sections_give_datasets() -> None:
    dolly, pythia, alpaca = _read("open-llms", "open-llms/README.md")
    assert _claims(dolly) == [("released", "2023-04"), ("parameters", 12_000_000_000), ("license", "Apache-2.0")]
    assert dolly.external_ids == ["huggingface:databricks/dolly-v2-12b"]
    assert ("parameters", 12_000_000_000) not in _claims(pythia)
    assert alpaca.kind == "dataset" and alpaca.origin.where.endswith("README.md:12")


def test_an_unknown_source_name_gets_a_did_you_mean() -> None:
    problems: list = []
    read_source("ecosystem-graph", SOURCES, problems)
    assert [p.message + " / " + p.hint for p in problems] == ["unknown source 'ecosystem-graph' / did you mean 'ecosystem-graphs'?"]


def test_merging_links_explicitly_then_by_name_reports_ambiguity_and_counts_the_unresolved(catalog_dir: Path) -> None:
    catalog = load_catalog(catalog_dir)
    records = read_sources([("huggingface", SOURCES / "huggingface" / "cards"), ("ecosystem-graphs", SOURCES / "ecosystem-graphs"), ("dpc", SOURCES / "dpc")])
    merged = merge(catalog, records)
    assert [(r.source, r.name, entity_id, how) for r, entity_id, how in merged.matched] == [
        ("huggingface", "dolly-v2-12b", "model/dolly-v2-12b", "explicit link huggingface:databricks/dolly-v2-12b"),
        ("huggingface", "alpaca-lora-7b", "model/alpaca-lora-7b", "name 'alpaca-lora-7b'"),
        ("ecosystem-graphs", "LLaMA-7B", "model/llama-7b", "name 'LLaMA-7B'"),
        ("dpc", "Alpaca 52K", "dataset/alpaca-52k", "name 'Alpaca 52K'"),
    ]
    assert [(r.name, candidates) for r, candidates in merged.ambiguous] == [("Alpaca", ("model/alpaca-13b", "model/stanford-alpaca-7b"))]
    assert sorted(merged.new) == ["dataset/dpc-alpaca-alpaca-cleaned", "software/ecosystem-graphs-stanford-example-chat"]
    resolved = {(r.entity, r.mention.text): r.target for r in merged.references}
    assert resolved[("model/dolly-v2-12b", "huggingface:EleutherAI/pythia-12b")] == "model/pythia-12b"
    assert resolved[("model/alpaca-lora-7b", "huggingface:huggyllama/LLaMA-7B")] == "model/llama-7b"
    assert resolved[("software/ecosystem-graphs-stanford-example-chat", "LLaMa 7B")] == "model/llama-7b"
    assert resolved[("dataset/dpc-alpaca-alpaca-cleaned", "Alpaca 52K")] == "dataset/alpaca-52k"
    assert sorted(r.mention.text for r in merged.unresolved) == [
        "OpenAI GPT-3", "Some Forum Dump", "Unknown Corpus", "Unknown Lab",
        "huggingface:databricks/databricks-dolly-15k",
    ]
    assert merged.counts()["unresolved"] == 5
    # A new entity of one source resolves another source's mention.
    assert resolved[("model/alpaca-lora-7b", "huggingface:yahma/alpaca-cleaned")] == "dataset/dpc-alpaca-alpaca-cleaned"


def test_the_curated_value_wins_then_the_source_order(catalog_dir: Path) -> None:
    catalog = load_catalog(catalog_dir)
    records = read_sources([("dpc", SOURCES / "dpc"), ("open-llms", SOURCES / "open-llms" / "README.md"), ("huggingface", SOURCES / "huggingface" / "hub.jsonl")])
    merged = merge(catalog, records, order=["dpc", "open-llms"])
    license = [(c.origin.source, c.value, accepted) for c, accepted in merged.claims[("model/dolly-v2-12b", "license")]]
    assert license == [("catalog", "Apache-2.0", True), ("open-llms", "Apache-2.0", False), ("huggingface", "MIT", False)]
    assert ("model/dolly-v2-12b", "license") in merged.conflicts
    # 2023-04 from the table agrees with the catalog's 2023-04-12.
    assert ("model/dolly-v2-12b", "released") not in merged.conflicts
    # Alpaca 52K: the catalog says CC-BY-NC-4.0; the DPC also lists OpenAI's terms.
    assert [c.value for c, _ in merged.conflicts[("dataset/alpaca-52k", "license")]] == ["CC-BY-NC-4.0", "OpenAI", "CC-BY-NC-4.0", "CC-BY-NC-4.0"]
    old = [(c.origin.source, accepted) for c, accepted in merged.claims[("model/huggingface-someone-old-model", "license")]]
    assert old == [("huggingface", True)]


def test_bad_input_in_two_sources_is_reported_all_at_once() -> None:
    with pytest.raises(CatalogError) as caught:
        read_sources([("dpc", SOURCES / "bad" / "broken.json"), ("huggingface", SOURCES / "bad" / "hub.jsonl")])
    assert [p.line for p in caught.value.problems] == [2, 2, 3]


def test_kg_import_prints_the_counts_and_what_was_matched(catalog_dir: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["import", "ecosystem-graphs", "sources/ecosystem-graphs", "--data", str(catalog_dir)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("read: 3\nmatched: 1\nnew: 1\nambiguous: 1\nreferences: 5\nresolved: 3\nunresolved: 2\nconflicting: 0\n")
    assert "  ecosystem-graphs 'Alpaca' (sources/ecosystem-graphs/stanford.yaml:21): model/alpaca-13b, model/stanford-alpaca-7b" in out


def test_kg_import_write_puts_drafts_where_the_catalog_does_not_load_them(catalog_dir: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["import", "dpc", "sources/dpc", "--data", str(catalog_dir), "--write"]) == 0
    draft = catalog_dir / "_drafts" / "datasets" / "dpc-alpaca-alpaca-cleaned.yaml"
    assert f"wrote {draft}" in capsys.readouterr().out
    assert "name: Alpaca Cleaned" in draft.read_text(encoding="utf-8")
    load_catalog(catalog_dir)  # the drafts do not break the catalog


def test_kg_build_with_sources_writes_each_records_claims_in_its_named_graph_and_the_accepted_value_plainly(catalog_dir: Path, capsys: pytest.CaptureFixture) -> None:
    import pyoxigraph as ox

    assert main(["build", "--data", str(catalog_dir), "--out", "out", "--formats", "nt,nq", "--source", "open-llms=sources/open-llms/README.md"]) == 0
    assert "sources: read 3, matched 3" in capsys.readouterr().out
    assert Path("out/sources-report.txt").read_text(encoding="utf-8").startswith("read: 3\nmatched: 3\n")
    store = ox.Store()
    store.load(path="out/kg.nq", format=ox.RdfFormat.N_QUADS)
    dolly = "<https://w3id.org/llm-lineage/id/model/dolly-v2-12b>"
    claimed = {(row["value"].value, row["tracker"].value, row["url"].value) for row in store.query(f"""
        PREFIX schema: <http://schema.org/> PREFIX dcterms: <http://purl.org/dc/terms/> PREFIX lkg: <{LKG}>
        SELECT ?value ?tracker ?url WHERE {{ GRAPH ?record {{ {dolly} schema:datePublished ?value }} ?record lkg:claimSource ?tracker ; dcterms:source ?url }}""")}
    assert claimed == {("2023-04", "open-llms", "https://github.com/eugeneyan/open-llms/blob/main/README.md")}
    accepted = {row["value"].value for row in store.query(f"SELECT ?value WHERE {{ {dolly} <{SCHEMA.datePublished}> ?value }}")}
    assert accepted == {"2023-04-12"}  # the catalog's: the default graph holds the accepted values only


def test_kg_build_with_a_bad_source_argument_says_how_to_write_it(catalog_dir: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["build", "--data", str(catalog_dir), "--out", "out", "--source", "dpc"]) == 1
    assert capsys.readouterr().err == (
        "Error: --source 'dpc' is not NAME=PATH\nHint: e.g. --source dpc=../shared/data/data-provenance-collection/data_summaries\n"
    )
    assert not Path("out").exists()


def test_kg_conflicts_lists_the_curated_value_first_and_marks_it(catalog_dir: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["conflicts", "--data", str(catalog_dir), "--source", "huggingface=sources/huggingface/hub.jsonl"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[:3] == ["conflicts: 1 with the catalog, 0 among imported records only", "", "disagreements with the catalog (1):"]
    assert lines[3] == "  model/dolly-v2-12b license:"
    assert lines[4].split() == ["*", "Apache-2.0", "catalog", "data/models/dolly-v2-12b.yaml:5"]
    assert lines[5].split() == ["MIT", "huggingface", "sources/huggingface/hub.jsonl:1#/tags/1", "(the", "weights)"]


def test_the_page_data_carries_the_claims_of_a_curated_entity(catalog_dir: Path) -> None:
    import kg

    lkg = kg.load(catalog_dir, sources={"open-llms": SOURCES / "open-llms" / "README.md"})
    claims = lkg.graph.nodes["model/dolly-v2-12b"]["claims"]
    assert {(c["field"], c["source"], c["accepted"]) for c in claims if c["field"] == "parameters"} == {("parameters", "open-llms", True)}
    assert lkg.merged.counts()["matched"] == 3


# ---------------------------------------------------------------- the real copies in ../shared/data

needs_shared = pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/data is absent")


@needs_shared
def test_the_real_dpc_and_ecosystem_graphs_read_without_errors_and_match_the_curated_datasets() -> None:
    catalog = load_catalog()
    records = read_sources([("dpc", SHARED / "data-provenance-collection" / "data_summaries"), ("ecosystem-graphs", SHARED / "ecosystem-graphs" / "assets")])
    # The 2,312 entries less _template.json's, and the Hub datasets the others are parts of.
    assert sum(r.source == "dpc" and not r.source_id.startswith("huggingface:") for r in records) == 2311
    assert sum(r.source == "ecosystem-graphs" for r in records) == 639
    merged = merge(catalog, records)
    matched = {entity_id for _, entity_id, _ in merged.matched}
    for expected in ("dataset/alpaca-52k", "dataset/sharegpt", "dataset/oig", "dataset/anthropic-hh-rlhf", "model/vicuna", "model/koala-13b"):
        assert expected in matched
    # Dolly 15k's seven categories are its subsets, each an entity with an edge to it; the whole is the curated entry.
    subsets = {r.entity for r in merged.references if r.target == "dataset/databricks-dolly-15k" and r.mention.relation == "subset"}
    dolly = [r.source_id for r, entity_id, _ in merged.matched if entity_id == "dataset/databricks-dolly-15k"]
    assert len(subsets) == 7 and dolly == ["huggingface:databricks/databricks-dolly-15k"]
    assert merged.ambiguous == []
    assert "unresolved:" in format_report(merged)


@needs_shared
def test_the_real_open_llms_table_reads_every_table() -> None:
    records = read_sources([("open-llms", SHARED / "open-llms" / "README.md")])
    assert {r.kind for r in records} == {"model", "dataset"}
    assert all(r.origin.where.startswith(str(SHARED / "open-llms" / "README.md") + ":") for r in records)


def test_an_export_with_every_source_uses_only_declared_terms_and_conforms_to_the_shapes(catalog_dir: Path) -> None:
    import pyshacl
    from rdflib import Graph
    from rdflib.namespace import OWL

    import kg
    from kg.vocab import ONTOLOGY_FILE

    sources = [("huggingface", SOURCES / "huggingface" / "cards"), ("dpc", SOURCES / "dpc"), ("ecosystem-graphs", SOURCES / "ecosystem-graphs"), ("open-llms", SOURCES / "open-llms" / "README.md")]
    rdf = kg.load(catalog_dir, sources=sources).rdf
    ontology = Graph().parse(ONTOLOGY_FILE)
    declared = {t for kind in (OWL.Class, OWL.ObjectProperty, OWL.DatatypeProperty, OWL.AnnotationProperty, RDF.Property) for t in ontology.subjects(RDF.type, kind)}
    assert (set(rdf.predicates()) - {RDF.type} | set(rdf.objects(None, RDF.type))) - declared == set()
    conforms, _, text = pyshacl.validate(rdf, shacl_graph=Graph().parse(ONTOLOGY_FILE.parent / "shapes.ttl"), inference="none")
    assert conforms, text


def test_a_sources_file_in_the_data_folder_is_used_when_no_source_is_given(catalog_dir: Path, capsys: pytest.CaptureFixture) -> None:
    (catalog_dir / "sources.yaml").write_text("sources:\n  open-llms: ../sources/open-llms/README.md\norder: [open-llms]\n", encoding="utf-8")
    assert main(["build", "--data", str(catalog_dir), "--out", "out"]) == 0
    assert "sources: read 3, matched 3" in capsys.readouterr().out


def test_a_bad_sources_file_names_the_line_and_suggests_the_source(catalog_dir: Path, capsys: pytest.CaptureFixture) -> None:
    (catalog_dir / "sources.yaml").write_text("sources:\n  open-llm: ../sources/open-llms/README.md\n", encoding="utf-8")
    assert main(["build", "--data", str(catalog_dir), "--out", "out"]) == 1
    assert "data/sources.yaml:2: sources.open-llm: unknown source 'open-llm' (did you mean 'open-llms'?)" in capsys.readouterr().err
    assert not Path("out").exists()
