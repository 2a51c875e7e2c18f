"""Characters that break IRIs or N-Triples lines, fed through every reader of
sources into `kg build`: every file the build writes must parse again, in
pyoxigraph and in rdflib, with the texts as they were read.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pyoxigraph as ox
import pytest
import rdflib

from kg.cli import main
from kg.stream import iri, literal

from conftest import TINY

# `[`/`]` (only an IPv6 host may hold them), a bad percent escape, a non-character, DEL,
# the line and paragraph separators and NEL (rdflib splits N-Triples lines at them).
HOSTILE = ["br[ack]et", "pct%zz", "non\uffffchar", "del\x7fete", "line\u2028sep", "para\u2029sep", "nel\x85x", "fdd0\ufdd0x"]
FORMATS = {"kg.nt": ("nt", ox.RdfFormat.N_TRIPLES), "kg.ttl": ("turtle", ox.RdfFormat.TURTLE), "kg.jsonld": ("json-ld", ox.RdfFormat.JSON_LD)}


def write_sources(root: Path) -> list[str]:
    """One source file (or folder) per reader, every hostile text in names, ids and licences."""
    hub = root / "hub.jsonl"
    # The Hub reader refuses such characters in a Hub id (an error): here they go in licences, which it keeps or warns about.
    lines = [{"id": f"org/ok-{n}", "cardData": {"license": f"licence {text}", "base_model": f"org/ok-{n}-base"}} for n, text in enumerate(HOSTILE)]
    lines.append({"id": "org/long-licence", "cardData": {"license": "L" * 60_000 + "\u2028"}})
    hub.write_text("".join(json.dumps(line) + "\n" for line in lines))
    for n, text in enumerate(HOSTILE):
        folder = root / "cards" / f"owner{n}" / text.replace("/", "-")
        folder.mkdir(parents=True)
        (folder / "README.md").write_text(f"---\nlicense: mit\nbase_model: {json.dumps('up/' + text)}\n---\n")  # YAML takes JSON's escapes
    dpc = root / "dpc.json"
    dpc.write_text(json.dumps({text: {"Dataset Name": f"data {text}", "Licenses": [{"License": text}], "Creators": [text]} for text in HOSTILE}))
    assets = root / "lab.yaml"
    assets.write_text("".join(f"- type: model\n  name: {json.dumps('model ' + text)}\n  license: {json.dumps(text)}\n  dependencies: [{json.dumps(text)}]\n" for text in HOSTILE))
    table = root / "README.md"
    table.write_text("# Open LLMs\n\n| Language Model | Licence |\n| --- | --- |\n" + "".join(f"| llm {text} | {text} |\n" for text in HOSTILE))
    return [f"huggingface={hub}", f"huggingface={root / 'cards'}", f"dpc={dpc}", f"ecosystem-graphs={assets}", f"open-llms={table}"]


def parse_everywhere(path: Path) -> tuple[set, int]:
    """The literals pyoxigraph reads from `path`, and the number of triples rdflib reads; both must parse it."""
    rdflib_format, ox_format = FORMATS[path.name]
    quads = list(ox.parse(path=str(path), format=ox_format))
    graph = rdflib.Graph().parse(path, format=rdflib_format)
    assert len(graph) == len(quads)
    return {q.object.value for q in quads if isinstance(q.object, ox.Literal)}, len(graph)


def test_hostile_characters_through_every_reader_give_exports_that_parse(tmp_path: Path) -> None:
    shutil.copytree(TINY, tmp_path / "data")
    sources = write_sources(tmp_path)
    out = tmp_path / "build"
    args = ["build", "--data", str(tmp_path / "data"), "--out", str(out), "--store", str(tmp_path / "store")]
    assert main([*args, *(arg for s in sources for arg in ("--source", s))]) == 0
    literals, counts = {}, set()
    for name in FORMATS:
        literals[name], count = parse_everywhere(out / name)
        counts.add(count)
    assert len(counts) == 1 and literals["kg.nt"] == literals["kg.ttl"] == literals["kg.jsonld"]
    assert len(ox.Store.read_only(str(tmp_path / "store"))) >= counts.pop()  # the store loaded every triple (and the closure)
    for text in HOSTILE:  # each name arrived whole (readers may prefix a name with its source)
        for name in (f"data {text}", f"model {text}", f"llm {text}"):
            assert any(name in value for value in literals["kg.nt"]), name


@pytest.mark.parametrize("text", [*HOSTILE, "lone \udc80", "space and \"quote\"", "tab\tnewline\n"])
def test_each_term_alone_parses_in_both(text: str, tmp_path: Path) -> None:
    line = f"{iri('https://huggingface.co/' + text)} {iri('http://example.org/p?' + text)} {literal(text, lang='en')} .\n"
    path = tmp_path / "kg.nt"
    path.write_text(line, encoding="utf-8")
    literals, count = parse_everywhere(path)
    assert count == 1 and literals == {text.encode("utf-8", "replace").decode() if "\udc80" not in text else "lone \ufffd"}


def test_an_ipv6_host_keeps_its_brackets() -> None:
    assert iri("http://[::1]:8080/a[b]") == "<http://[::1]:8080/a%5Bb%5D>"
