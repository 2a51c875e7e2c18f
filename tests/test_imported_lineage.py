"""One lineage for imported records: `kg lineage`, the shipped query 01 and the Python API
give the same descendants, the terms walk imported ancestry, and the merge report opens
with the catalog.

Built twice: from a hand-written Hub dump alone, and from the real copies in
../shared/data (Data Provenance Collection, Ecosystem Graphs, open-llms) with the same
dump; the second skips when ../shared/data is absent. Set LLM_LINEAGE_SHARED_DATA to
read the copies from another folder.
"""

from __future__ import annotations

import csv
import io
import os
import re
import warnings
from pathlib import Path

import pytest

import kg
from kg.cli import main
from kg.entities import DATASET_RELATIONS, MODEL_RELATIONS
from kg.graph import RELATION_LABELS, load_graph
from kg.query import read_query

ROOT = Path(__file__).resolve().parents[1]
HUB = ROOT / "tests" / "fixtures" / "sources" / "huggingface" / "lineage-dump.jsonl"
SHARED = Path(os.environ.get("LLM_LINEAGE_SHARED_DATA") or ROOT.parent / "shared" / "data")
REAL = {"dpc": SHARED / "data-provenance-collection" / "data_summaries", "ecosystem-graphs": SHARED / "ecosystem-graphs" / "assets",
        "open-llms": SHARED / "open-llms" / "README.md"}
# The labels `kg lineage` prints for derivations: what prov:wasDerivedFrom (query 01) walks between models.
DERIVATION_LABELS = {RELATION_LABELS[r] for r in (*MODEL_RELATIONS, *DATASET_RELATIONS, "based-on", "derived")}
LINE = re.compile(r"^(?P<prefix>(?:│   |    )*)[├└]── (?P<node>\S+) \(.*\((?P<label>[^()]+) it\)(?: \(see above\))?$")


def _sources(which: str) -> list[tuple[str, Path]]:
    if which == "shared":
        if not SHARED.is_dir():
            pytest.skip(f"{SHARED} is absent")
        return [*REAL.items(), ("huggingface", HUB)]
    return [("huggingface", HUB)]


@pytest.fixture(scope="module", params=["hub", "shared"])
def built(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, kg.KnowledgeGraph]:
    sources = _sources(request.param)
    out = tmp_path_factory.mktemp(request.param) / "out"
    assert main(["build", "--out", str(out), *(f"--source={name}={path}" for name, path in sources)]) == 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lkg = kg.load(sources=sources)
    return out, lkg


def _series_and_members(lkg: kg.KnowledgeGraph, series: str) -> list[str]:
    return [series, *sorted(u for u, _, key in lkg.graph.in_edges(series, keys=True) if key == "family")]


def _via_kg_lineage(out: Path, node: str, capsys: pytest.CaptureFixture) -> set[str]:
    """Models that the downstream tree of `kg lineage` reaches from `node` through derivations only.

    Each line is an edge from the entity above it; a node shown before is marked "(see above)"
    and its children are listed once, at its first place, so the lines hold every edge."""
    capsys.readouterr()
    assert main(["lineage", node, "--graph", str(out / "graph.json")]) == 0
    tree = capsys.readouterr().out.partition("\ndownstream:\n")[2]
    edges: dict[str, set[str]] = {}
    above = [node]
    for line in tree.splitlines():
        match = LINE.match(line)
        if match is None:
            assert line == "  (none)", line
            continue
        depth = len(match["prefix"]) // 4
        del above[depth + 1:]
        if match["label"] in DERIVATION_LABELS:
            edges.setdefault(above[depth], set()).add(match["node"])
        above.append(match["node"])
    reached, stack = set(), [node]
    while stack:
        for child in edges.get(stack.pop(), ()):
            if child not in reached:
                reached.add(child)
                stack.append(child)
    return {n for n in reached if n.startswith("model/")}


def _via_query_01(out: Path, series: str, capsys: pytest.CaptureFixture) -> set[str]:
    """Query 01 as shipped, asked of the build's kg.nt (for Llama 2: the same text with its series' IRI)."""
    text, _ = read_query("llama-descendants")
    text = text.replace("model:llama }", f"model:{series.partition('/')[2]} }}")
    capsys.readouterr()
    assert main(["query", text, "--graph", str(out / "kg.nt"), "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    return {row["model"].rpartition("/id/")[2] for row in rows}


def _via_api(lkg: kg.KnowledgeGraph, series: str) -> set[str]:
    return {n for m in _series_and_members(lkg, series) for n in lkg.downstream(m, fields=["derived_from"]) if n.startswith("model/")}


@pytest.mark.parametrize("series", ["model/llama", "model/llama-2"])
def test_kg_lineage_query_01_and_the_api_give_the_same_descendants(built, series: str, capsys: pytest.CaptureFixture) -> None:  # noqa: ANN001
    out, lkg = built
    by_api = _via_api(lkg, series)
    by_lineage = set().union(*(_via_kg_lineage(out, m, capsys) for m in _series_and_members(lkg, series)))
    by_query = _via_query_01(out, series, capsys)
    assert by_lineage == by_api
    assert by_query == by_api
    imported = {n for n in by_api if lkg.graph.nodes[n].get("imported")}
    expected = {"model/llama": {"model/huggingface-acme-llama-7b-instruct", "model/huggingface-acme-llama-7b-instruct-gguf", "model/huggingface-acme-two-family-merge"},
                "model/llama-2": {"model/huggingface-acme-llama-2-7b-chat-ft", "model/huggingface-acme-vicuna-lora", "model/huggingface-acme-two-family-merge"}}
    assert expected[series] <= imported
    assert "model/huggingface-acme-pythia-ft" not in by_api


def test_graph_json_and_the_rdf_hold_the_same_imported_edges(built) -> None:  # noqa: ANN001
    out, lkg = built
    graph = load_graph(out / "graph.json")
    saved = {(u, v) for u, v, imported in graph.edges(data="imported") if imported}
    assert saved == {(e.entity, e.target) for e in lkg.merged.edges}
    assert {(u, v) for u, v, imported in lkg.graph.edges(data="imported") if imported} == saved
    # Every accepted imported edge is a direct triple of the export (what SPARQL and the store walk).
    nt = (out / "kg.nt").read_text(encoding="utf-8")
    base = "https://w3id.org/llm-lineage/id/"
    triples = set(re.findall(rf"^<{re.escape(base)}(\S+)> <[^>]+> <{re.escape(base)}(\S+)> \.$", nt, re.M))
    assert saved <= {(s.rstrip(">"), o.rstrip(">")) for s, o in triples}


def test_an_imported_llama_child_with_an_apache_card_is_not_allowed_commercial_use(built) -> None:  # noqa: ANN001
    _, lkg = built
    result = lkg.terms("model/huggingface-acme-llama-7b-instruct")
    assert result.commercial_use is False
    conflict = next(c for c in result.conflicts if c.kind == "commercial-use")
    assert conflict.message.startswith("Apache-2.0 governs (huggingface, the weights) and allows commercial use, but ")
    assert "LicenseRef-llama-1-noncommercial" in conflict.licences
    # Its quantization inherits the same, through two imported steps.
    assert lkg.terms("model/huggingface-acme-llama-7b-instruct-gguf").commercial_use is False


def test_no_imported_llama_1_derivative_of_the_real_data_is_allowed_commercial_use(built) -> None:  # noqa: ANN001
    out, lkg = built
    # Down the lineage of the series and its sizes (not into the other members of a series made from them:
    # Vicuna v1.5 is a Vicuna made from Llama 2).
    lineage = set().union(*(lkg.downstream(m, fields=kg.LINEAGE_FIELDS) for m in _series_and_members(lkg, "model/llama")))
    derivatives = {n for n in lineage if n.startswith("model/") and lkg.graph.nodes[n].get("imported")}
    verdicts = {n: lkg.terms(n).commercial_use for n in derivatives}
    assert derivatives and not [n for n, allowed in verdicts.items() if allowed]
    if lkg.merged.counts()["read"] > 100:  # the shared data: the models the issue names
        names = {lkg.graph.nodes[n]["name"].casefold(): n for n in lkg.graph if lkg.graph.nodes[n].get("imported") and n.startswith("model/ecosystem-graphs-")}
        for name in ("wizardlm", "guanaco", "judgelm", "salmonn", "bigtrans", "goat", "openflamingo"):
            assert lkg.terms(names[name]).commercial_use is not True, name


def test_the_merge_report_opens_with_the_catalog(built) -> None:  # noqa: ANN001
    out, lkg = built
    report = (out / "sources-report.txt").read_text(encoding="utf-8")
    counts = lkg.merged.counts()
    head = report.splitlines()
    assert head[:len(counts)] == [f"{key}: {value}" for key, value in counts.items()]
    catalog = sum(1 for entity_id, _ in lkg.merged.conflicts if entity_id not in lkg.merged.new)
    assert head[len(counts):len(counts) + 3] == ["", f"conflicts: {catalog} with the catalog, {counts['conflicting'] - catalog} among imported records only", ""]
    assert head[len(counts) + 3].startswith("disagreements with the catalog")
    # Imported records' own disagreements come after the catalog's part (the matches and ambiguities).
    assert report.index("\nmatched:\n") < report.index("\ndisagreements among imported records")


# ---------------------------------------------------------------- what a licence claim is about

def test_a_code_licence_is_kept_but_neither_accepted_nor_a_conflict() -> None:
    from kg.catalog import load_catalog
    from kg.merge import merge
    from kg.sources import Claim, Origin, Record

    origin = Origin("ecosystem-graphs", "assets/acme.yaml:3", "https://example.org/acme.yaml")
    record = Record("ecosystem-graphs", "acme/tool-model", "model", "Tool Model", origin)
    record.claims += [Claim("license", "Apache-2.0", origin, "code"), Claim("license", "CC-BY-NC-4.0", origin, "weights")]
    merged = merge(load_catalog(ROOT / "tests" / "fixtures" / "tiny"), [record])
    (claims,) = [c for (_, name), c in merged.claims.items() if name == "license"]
    assert [(c.value, c.scope, accepted) for c, accepted in claims] == [("Apache-2.0", "code", False), ("CC-BY-NC-4.0", "weights", True)]
    assert merged.conflicts == {}


@pytest.mark.parametrize(("value", "explanation", "kind", "parts"), [
    ("none (model weights), BSD-3-Clause (code)", None, "model", [("BSD-3-Clause", "code")]),
    ("custom", "Model license can be found at https://example.org/LICENSE. Code license is under Apache 2.0", "model",
     [("custom", "weights"), ("Apache 2.0", "code")]),
    ("ODC-By", "Data license is under ODC-By. Code license is under MIT", "dataset", [("ODC-By", "data"), ("MIT", "code")]),
    ("Apache 2.0", "The license is provided in the [[Github repository]](https://github.com/example/x)", "model", [("Apache 2.0", None)]),
    ("MIT", None, "model", [("MIT", None)]),
])
def test_ecosystem_graphs_licences_say_what_they_cover_only_where_the_source_does(value: str, explanation: str | None, kind: str, parts: list) -> None:
    from kg.sources.ecosystem_graphs import _licence_parts

    assert _licence_parts(value, explanation, kind) == parts


@pytest.mark.parametrize(("url", "scope"), [
    ("https://github.com/tatsu-lab/stanford_alpaca/blob/main/DATA_LICENSE", "data"),
    ("https://github.com/AI4Bharat/IndicTrans2/blob/main/LICENSE", None),
    ("https://github.com/example/datasets/blob/master/data/AnEM/LICENSE", "data"),
    ("https://creativecommons.org/licenses/by/4.0/", "data"),
])
def test_a_dpc_licence_read_from_a_repository_licence_file_has_no_scope(url: str, scope: str | None) -> None:
    from kg.sources.dpc import _scope

    assert _scope(url) == scope


def test_an_imported_licence_of_unstated_scope_leaves_the_verdict_unknown_and_says_why() -> None:
    import networkx as nx

    from kg.catalog import load_catalog
    from kg.terms import compute_terms, format_terms

    graph = nx.MultiDiGraph()
    graph.add_node("model/x", kind="model", name="X", imported=True, license="MIT", sources=[{"url": "https://example.org/x", "supports": "x"}])
    licenses = load_catalog().licenses
    result = compute_terms(graph, licenses, "model/x")
    assert result.commercial_use is None
    assert format_terms(result, graph, licenses).splitlines()[1:3] == [
        "commercial use: not known", "  MIT is from a source that does not say it covers the weights (it may be the code's)"]
    graph.nodes["model/x"]["license_scope"] = "weights"
    assert compute_terms(graph, licenses, "model/x").commercial_use is True
