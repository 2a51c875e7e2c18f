"""Hostile input to every reader of other trackers' data: each is a clear problem
naming the file (and line), never a hang, a memory blow-up or an internal error.

The files are written by the tests: an alias bomb, a device, a FIFO, a sparse
file past the size limit, a record with a 64 KiB licence name.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from kg.sources import MAX_SOURCE_BYTES, MAX_TEXT, MAX_YAML_DEPTH, MAX_YAML_VALUES, read_source

READERS = ("huggingface", "dpc", "ecosystem-graphs", "open-llms")
# Nine levels of nine aliases: 9**9 (387 million) strings once expanded, a few hundred bytes written;
# a6 (at line 9 where the bomb starts at line 3) is the first to stand for more than the limit.
BOMB = "a0: &a0 [lol]\n" + "".join(f"a{n}: &a{n} [{', '.join([f'*a{n - 1}'] * 9)}]\n" for n in range(1, 10))


def problems_of(name: str, path: Path) -> list[str]:
    problems: list = []
    read_source(name, path, problems)
    return [str(p) for p in problems]


def test_an_alias_bomb_in_a_model_card_is_refused_before_it_expands(tmp_path: Path) -> None:
    card = tmp_path / "README.md"
    card.write_text("---\nlicense: mit\n" + BOMB.replace("a9:", "model_name:") + "---\n# card\n")
    # The Hub reader (kg.sources.huggingface) refuses every alias in a card, before it loads it.
    assert problems_of("huggingface", card) == [f"{card}:1: front matter uses YAML anchors or aliases, which are not read"]


def test_an_alias_bomb_in_ecosystem_graphs_is_refused_before_it_expands(tmp_path: Path) -> None:
    assets = tmp_path / "lab.yaml"
    assets.write_text("- type: model\n  name: bomb\n" + "".join("  " + line + "\n" for line in BOMB.splitlines()))
    assert problems_of("ecosystem-graphs", assets) == [
        f"{assets}:9: YAML stands for more than {MAX_YAML_VALUES:,} values (aliases expanded): refused unread"
        " (an alias bomb, or a file too large to be a source)"]


def test_aliases_that_stay_small_are_read(tmp_path: Path) -> None:
    assets = tmp_path / "lab.yaml"
    assets.write_text("- type: model\n  name: &n Small\n  license: MIT\n- type: dataset\n  name: *n\n")
    problems: list = []
    records = read_source("ecosystem-graphs", assets, problems)
    assert problems == [] and [r.name for r in records] == ["Small", "Small"]


def test_yaml_nested_too_deep_is_refused(tmp_path: Path) -> None:
    assets = tmp_path / "lab.yaml"
    assets.write_text("- type: model\n  name: " + "[" * 150 + "]" * 150 + "\n")
    assert problems_of("ecosystem-graphs", assets) == [f"{assets}:2: YAML nests deeper than {MAX_YAML_DEPTH} levels"]


@pytest.mark.parametrize("name", READERS)
def test_a_device_is_refused_unread(name: str) -> None:
    assert problems_of(name, Path("/dev/zero")) == ["/dev/zero:1: not a regular file (a device, a pipe or a socket): a source must be a file"]


@pytest.mark.parametrize("name", READERS)
def test_a_fifo_is_refused_without_waiting_for_a_writer(name: str, tmp_path: Path) -> None:
    fifo = tmp_path / ("README.md" if name == "huggingface" else "source.json")
    os.mkfifo(fifo)
    assert problems_of(name, fifo) == [f"{fifo}:1: not a regular file (a device, a pipe or a socket): a source must be a file"]


def test_a_fifo_in_a_folder_of_cards_is_refused_by_the_command(tmp_path: Path) -> None:
    (tmp_path / "cards" / "org" / "model").mkdir(parents=True)
    fifo = tmp_path / "cards" / "org" / "model" / "README.md"
    os.mkfifo(fifo)
    done = subprocess.run([sys.executable, "-m", "kg.cli", "import", "huggingface", str(tmp_path / "cards")],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert f"{fifo}:1: not a regular file (a device, a pipe or a socket): a source must be a file" in done.stderr


@pytest.mark.parametrize("name, file", [("dpc", "big.json"), ("ecosystem-graphs", "big.yaml"), ("open-llms", "README.md"), ("huggingface", "README.md")])
def test_a_file_past_the_size_limit_is_refused_before_it_is_read(name: str, file: str, tmp_path: Path) -> None:
    big = tmp_path / file
    with open(big, "wb") as out:
        out.truncate(MAX_SOURCE_BYTES + 1)  # sparse: no disk used
    assert problems_of(name, big) == [f"{big}:1: file is {MAX_SOURCE_BYTES + 1:,} bytes; a source file read whole may be at most {MAX_SOURCE_BYTES:,}"]


def test_a_folder_where_a_file_is_expected_is_named(tmp_path: Path) -> None:
    folder = tmp_path / "README.md"
    folder.mkdir()
    assert problems_of("open-llms", folder) == [f"{folder}:1: is a folder; a file was expected here"]


def test_a_hub_dump_line_past_the_limit_is_left_out_with_its_line(tmp_path: Path) -> None:
    dump = tmp_path / "hub.jsonl"
    dump.write_bytes(b'{"id": "a/first"}\n' + b"\x00" * 3_000_000 + b'\n{"id": "a/third"}\n')
    problems: list = []
    records = read_source("huggingface", dump, problems)
    assert [str(p) for p in problems] == [f"{dump}:2: warning: record of 3,000,001 characters is over the 2,000,000 a record may have; left out"]
    assert [r.source_id for r in records] == ["a/first", "a/third"]


def test_a_text_past_the_limit_is_dropped_and_named(tmp_path: Path) -> None:
    summary = tmp_path / "dpc.json"
    summary.write_text(json.dumps({"long": {"Dataset Name": "Long", "Licenses": [{"License": "x" * (MAX_TEXT + 1)}, {"License": "MIT"}]}}))
    problems: list = []
    records = read_source("dpc", summary, problems)
    assert [str(p) for p in problems] == [f"{summary}:1: license (#/long/Licenses/0/License): a text of {MAX_TEXT + 1:,} characters; a value may be at most {MAX_TEXT:,}"]
    assert [(r.name, [(c.field, c.value) for c in r.claims]) for r in records] == [("Long", [("license", "MIT")])]


@pytest.mark.parametrize("front, line, message", [
    ("date: 2024-02-30\n", 1, "front matter is not valid YAML"),
    ("license: mit\nname: \"a\x00b\"\n", 1, "front matter is not valid YAML"),
    ("- a\n- b\n", 2, "front matter is not a mapping"),
])
def test_a_bad_card_is_a_problem_at_its_line(tmp_path: Path, front: str, line: int, message: str) -> None:
    card = tmp_path / "README.md"
    card.write_text(f"---\n{front}---\n")
    assert problems_of("huggingface", card) == [f"{card}:{line}: {message}"]


def test_json_nested_too_deep_is_a_problem(tmp_path: Path) -> None:
    summary = tmp_path / "deep.json"
    summary.write_text("[" * 100_000 + "]" * 100_000)
    assert problems_of("dpc", summary) == [f"{summary}:1: not valid JSON: maximum recursion depth exceeded while decoding a JSON array from a unicode string"]


def test_a_lone_surrogate_from_a_json_escape_is_named(tmp_path: Path) -> None:
    summary = tmp_path / "dpc.json"
    summary.write_text('{"bad": {"Dataset Name": "a\\ud800b"}, "fine": {"Dataset Name": "Fine", "Creators": ["Lab\\udc00"]}}')
    problems: list = []
    records = read_source("dpc", summary, problems)
    assert [str(p) for p in problems] == [f"{summary}:1: name (#/bad): a lone surrogate U+D800 (a broken \\u escape): not text",
                                          f"{summary}:1: developers (#/fine/Creators/0): a lone surrogate U+DC00 (a broken \\u escape): not text"]
    assert [(r.source_id, r.mentions) for r in records] == [("dpc/fine", [])]
