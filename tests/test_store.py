"""`kg build --store DIR`: the export in a persistent Oxigraph store, replaced whole or not at all."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pyoxigraph as ox
import pytest

from kg.cli import main
from kg.errors import OutputError
from kg.store import hold_store, write_store


DESCENDS_FROM = ox.NamedNode("https://w3id.org/llm-lineage/ontology#descendsFrom")


def triples_of_store(folder: Path) -> set[ox.Quad]:
    """The store's triples but for the lineage closure it adds (tests/test_closure.py checks that)."""
    return {quad for quad in ox.Store.read_only(str(folder)) if quad.predicate != DESCENDS_FROM}


def triples_of_file(path: Path) -> set[ox.Quad]:
    store = ox.Store()
    store.load(path=str(path), format=ox.RdfFormat.N_TRIPLES)
    return set(store)


def change_a_description(catalog: Path) -> None:
    path = catalog / "models" / "llama-7b.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("description: ", "description: Changed. "), encoding="utf-8")


def build(*extra: str) -> int:
    return main(["build", "--data", "data", "--out", "out", *extra])


def test_the_store_holds_exactly_the_triples_of_kg_nt_and_their_closure(tiny: Path, capsys: pytest.CaptureFixture) -> None:
    assert build("--store", "out/store") == 0
    assert capsys.readouterr().out.endswith("wrote out/store: an Oxigraph store for `kg serve --store out/store`\n")
    assert triples_of_store(Path("out/store")) == triples_of_file(Path("out/kg.nt"))
    assert len(ox.Store.read_only("out/store")) > len(triples_of_file(Path("out/kg.nt")))
    change_a_description(tiny)  # again, with the store inside the output folder the build replaces
    assert build("--store", "out/store") == 0
    assert triples_of_store(Path("out/store")) == triples_of_file(Path("out/kg.nt"))
    assert sorted(p.name for p in Path("out").iterdir()) == ["graph.json", "kg.jsonld", "kg.nt", "kg.ttl", "lineage.html", "store"]


def test_a_rebuild_replaces_the_store_and_leaves_no_temporaries(tiny: Path) -> None:
    assert build("--store", "store") == 0
    change_a_description(tiny)
    assert build("--store", "store") == 0
    assert triples_of_store(Path("store")) == triples_of_file(Path("out/kg.nt"))
    assert sorted(p.name for p in Path(".").iterdir()) == ["data", "out", "store"]


def test_a_folder_that_is_not_a_store_is_refused_before_anything_is_written(tiny: Path, capsys: pytest.CaptureFixture) -> None:
    Path("notes").mkdir()
    Path("notes/todo.txt").write_text("mine\n", encoding="utf-8")
    assert build("--store", "notes") == 2
    assert capsys.readouterr().err == (
        "Error: cannot write the store to notes: the folder is not empty and is not an Oxigraph store; give a new folder to --store\n"
        "Hint: the previous output was left as it was\n"
    )
    assert not Path("out").exists()
    assert [p.name for p in Path("notes").iterdir()] == ["todo.txt"]


def test_a_file_in_the_way_is_refused(tiny: Path, capsys: pytest.CaptureFixture) -> None:
    Path("store").write_text("", encoding="utf-8")
    assert build("--store", "store") == 2
    assert capsys.readouterr().err.startswith("Error: cannot write the store to store: it is a file, not a folder\n")


def test_a_store_being_served_is_not_replaced(tiny: Path, capsys: pytest.CaptureFixture) -> None:
    assert build("--store", "store") == 0
    before = triples_of_store(Path("store"))
    capsys.readouterr()
    change_a_description(tiny)
    with hold_store(Path("store")):  # what `kg serve` holds while it runs
        assert build("--store", "store") == 2
    assert capsys.readouterr().err == (
        "Error: cannot replace the store store: `kg serve` or another kg command is reading it; stop it first\nHint: the previous output was left as it was\n"
    )
    assert triples_of_store(Path("store")) == before


HOLD_OPEN = "import pyoxigraph, sys, time; store = pyoxigraph.Store(sys.argv[1]); print('open', flush=True); time.sleep(60)"


def test_a_store_another_process_has_open_for_writing_is_not_replaced(tiny: Path, capsys: pytest.CaptureFixture) -> None:
    assert build("--store", "store") == 0
    capsys.readouterr()
    writer = subprocess.Popen([sys.executable, "-c", HOLD_OPEN, "store"], stdout=subprocess.PIPE, text=True)
    try:
        assert writer.stdout.readline() == "open\n"
        assert build("--store", "store") == 2
    finally:
        writer.kill()
        writer.wait()
    assert capsys.readouterr().err.startswith("Error: cannot replace the store store: another process has it open for writing\n")


def test_a_failed_load_leaves_the_old_store_and_no_temporaries(tmp_path: Path) -> None:
    old = b"<https://example.org/a> <https://example.org/b> <https://example.org/c> .\n"
    write_store(tmp_path / "store", old)
    with pytest.raises(OutputError, match=r"^internal error: the N-Triples for the store .*/store do not parse"):
        write_store(tmp_path / "store", old + b"<https://example.org/a> <b> .\n")
    assert {str(q.object) for q in triples_of_store(tmp_path / "store")} == {"<https://example.org/c>"}
    assert [p.name for p in tmp_path.iterdir()] == ["store"]


def test_serving_a_folder_that_is_not_a_store_says_how_to_make_one(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["serve", "--store", str(tmp_path / "none")]) == 1
    assert capsys.readouterr().err == f"Error: {tmp_path}/none does not exist\nHint: build one with `kg build --store {tmp_path}/none`\n"
    assert main(["serve", "--store", str(tmp_path)]) == 1
    assert capsys.readouterr().err == f"Error: {tmp_path} is not an Oxigraph store\nHint: build one with `kg build --store {tmp_path}`\n"
