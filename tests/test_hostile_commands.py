"""Bad files given to commands that used to end in a hang or an internal error
(exit 3): each is now exit 1 with a message naming the file."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from kg.cli import main

from conftest import TINY


def run(capsys: pytest.CaptureFixture, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("args, error", [
    (("lineage", "x", "--graph", "{}"), "Error: {}: not a regular file (a device, a pipe or a socket)\nHint: give the graph.json of a kg build output folder\n"),
    (("terms", "x", "--graph", "{}", "--data", str(TINY)), "Error: {}: not a regular file (a device, a pipe or a socket)\nHint: give the graph.json of a kg build output folder\n"),
    (("query", "01-llama-descendants", "--graph", "{}.ttl"), "Error: cannot read {}.ttl: not a regular file (a device, a pipe or a socket)\nHint: give the kg.ttl, kg.nt or kg.jsonld of a kg build\n"),
])
def test_a_fifo_given_as_a_file_is_refused_without_waiting(args: tuple, error: str, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    os.mkfifo(f"{fifo}.ttl")
    assert run(capsys, *(a.format(fifo) for a in args)) == (1, "", error.format(fifo))


def test_a_fifo_given_as_a_query_file_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    os.mkfifo(tmp_path / "q.rq")
    code, _, err = run(capsys, "query", str(tmp_path / "q.rq"), "--data", str(TINY))
    assert code == 1 and err.startswith(f"Error: cannot read {tmp_path / 'q.rq'}: not a regular file (a device, a pipe or a socket)\n")


def test_a_fifo_as_the_licence_table_is_a_problem_of_the_catalog(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    shutil.copytree(TINY, tmp_path / "data")
    (tmp_path / "data" / "licenses.yaml").unlink()
    os.mkfifo(tmp_path / "data" / "licenses.yaml")
    code, _, err = run(capsys, "validate", "--data", str(tmp_path / "data"))
    assert code == 1 and f"{tmp_path / 'data' / 'licenses.yaml'}:1: not a regular file (a device, a pipe or a socket)\n" in err


@pytest.mark.parametrize("text, reason", [
    ("[1]\n", "AttributeError: 'list' object has no attribute 'get'"),
    ("[" * 100_000, "RecursionError: maximum recursion depth exceeded while decoding a JSON array from a unicode string"),
])
def test_a_graph_json_of_the_wrong_shape_is_named(text: str, reason: str, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    graph = tmp_path / "graph.json"
    graph.write_text(text)
    assert run(capsys, "lineage", "x", "--graph", str(graph)) == (
        1, "", f"Error: {graph}: not a graph.json written by kg build ({reason})\nHint: give the graph.json of a kg build output folder\n")


@pytest.mark.parametrize("source, name, text, error", [
    ("huggingface", "hub.jsonl", '{"id": "a/b", "tags": 5, "cardData": {"license": "mit"}}\n', None),
    ("ecosystem-graphs", "lab.yaml", "- type: model\n  name: [a]\n- {type: model, name: c, organization: [x], license: {value: [1]}}\n",
     "{}:1: name: asset has no name\n"),
])
def test_a_value_of_the_wrong_shape_in_a_source_is_no_internal_error(source: str, name: str, text: str, error: str | None, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    path = tmp_path / name
    path.write_text(text)
    code, _, err = run(capsys, "import", source, str(path), "--data", str(TINY))
    assert (code, err) == ((0, "") if error is None else (1, error.format(path) + "Error: 1 error(s), 0 warning(s) in the catalog\n"))
