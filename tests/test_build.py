"""The one pipeline (kg.build): `kg build` and `kg.load()` give the same graph, triples and terms."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from rdflib import Graph

import kg
from kg.cli import main
from kg.graph import load_graph

ROOT = Path(__file__).resolve().parent.parent
SOURCES = Path(__file__).parent / "fixtures" / "sources"


def _edges(graph) -> set[tuple[str, str, str]]:  # noqa: ANN001
    return set(graph.edges(keys=True))


def _same_build(out: Path, lkg: kg.KnowledgeGraph) -> None:
    """What `kg build` wrote into `out` holds what `lkg` holds: nodes, edges, triples."""
    saved = load_graph(out / "graph.json")
    assert set(saved.nodes) == set(lkg.graph.nodes)
    assert _edges(saved) == _edges(lkg.graph)
    assert {n: d["kind"] for n, d in saved.nodes(data=True)} == {n: d["kind"] for n, d in lkg.graph.nodes(data=True)}
    written = Graph().parse(out / "kg.nt", format="nt")
    assert len(written) == len(lkg.rdf)
    assert set(written) == set(lkg.rdf)  # no blank nodes in the export: equal sets are isomorphic graphs


def _terms_json(capsys: pytest.CaptureFixture, *args: str) -> dict:
    assert main(["terms", *args, "--format", "json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_the_command_line_and_the_api_build_the_same_catalog(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["build", "--out", str(tmp_path / "out"), "--formats", "nt"]) == 0
    capsys.readouterr()
    lkg = kg.load()
    _same_build(tmp_path / "out", lkg)
    for entity in ("model/vicuna-13b", "model/llama-7b", "dataset/sharegpt", "model/deepseek-r1-distill-llama-8b"):
        assert _terms_json(capsys, entity) == lkg.terms(entity).to_dict()
        assert _terms_json(capsys, entity, "--graph", str(tmp_path / "out")) == lkg.terms(entity).to_dict()


def test_the_command_line_and_the_api_merge_the_same_sources(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """The sources listed in the catalog's sources.yaml reach kg build, kg terms and kg.load() alike."""
    data = tmp_path / "data"
    shutil.copytree(ROOT / "data", data)
    (data / "sources.yaml").write_text(
        "sources:\n"
        f"  huggingface: {SOURCES / 'huggingface' / 'hub.jsonl'}\n"
        f"  dpc: {SOURCES / 'dpc'}\n"
        f"  ecosystem-graphs: {SOURCES / 'ecosystem-graphs'}\n",
        encoding="utf-8",
    )
    assert main(["build", "--data", str(data), "--out", str(tmp_path / "out"), "--formats", "nt"]) == 0
    capsys.readouterr()
    lkg = kg.load(data)
    assert lkg.merged is not None and lkg.merged.new  # the sources brought entities the catalog lacks
    _same_build(tmp_path / "out", lkg)
    imported = sorted(n for n, d in lkg.graph.nodes(data=True) if d.get("imported") and d["kind"] == "model")
    for entity in (*imported[:3], "model/stanford-alpaca-7b"):
        assert _terms_json(capsys, entity, "--data", str(data)) == lkg.terms(entity).to_dict()
        assert _terms_json(capsys, entity, "--data", str(data), "--graph", str(tmp_path / "out")) == lkg.terms(entity).to_dict()


def test_sources_given_to_the_api_are_those_of_kg_build_source(tmp_path: Path) -> None:
    hub = SOURCES / "huggingface" / "hub.jsonl"
    assert main(["build", "--out", str(tmp_path / "out"), "--formats", "nt", "--source", f"huggingface={hub}"]) == 0
    _same_build(tmp_path / "out", kg.load(sources={"huggingface": hub}))


def test_the_command_line_module_holds_no_build_logic() -> None:
    """kg/cli.py reaches the stages only through kg.build: it imports none of the modules that make a graph."""
    text = (ROOT / "kg" / "cli.py").read_text(encoding="utf-8")
    for stage in ("build_graph", "to_rdf", "serialize", "add_to_graph", "imported_blocks", "write_exports", "stage_folder", "stage_store", "swap_together"):
        assert stage not in text, stage


def test_running_aside_gives_the_forked_copys_answer() -> None:
    # In a process of its own: this one may hold threads other tests left, and then nothing is forked.
    code = "import os\nfrom kg.build import running_aside\nwith running_aside(os.getpid) as answer:\n    print(os.getpid(), answer(), answer())\n"
    here, first, second = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert first != here and second == first  # it ran in another process, and the copy's answer is kept


def test_running_aside_raises_the_functions_own_error_here() -> None:
    from kg.build import running_aside
    from kg.errors import CatalogError, Problem

    def refuse() -> None:
        raise CatalogError([Problem("data/models/x.yaml", 3, "id", "broken")])

    with running_aside(refuse) as answer, pytest.raises(CatalogError) as caught:
        answer()
    assert str(caught.value) == "1 error(s) in the catalog:\n  data/models/x.yaml:3: id: broken"


def test_running_aside_forks_no_process_that_has_other_threads() -> None:
    import os
    import threading

    from kg.build import running_aside

    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        with running_aside(os.getpid) as answer:
            assert answer() == os.getpid()
    finally:
        stop.set()
        other.join()
