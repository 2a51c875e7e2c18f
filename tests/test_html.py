"""The lineage page without a browser: escaping, no network, determinism, safe writes, focus, CLI errors."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from kg import publish
from kg.catalog import load_catalog
from kg.cli import main
from kg.graph import build_graph
from kg.html import LABEL_GAP, RELATION_STYLES, LABEL_HEIGHT, family_members, focus_graph, fold_families, json_for_script, label_width, lay_out, render_html
from kg.terms import EffectiveTerms, Term, compute_all

FIXTURES = Path(__file__).parent / "fixtures"
PAGE_FILES = sorted((Path(__file__).resolve().parent.parent / "kg" / "page").iterdir())
BLOB = re.compile(r'<script type="application/json" id="lineage-data">(.*?)</script>', re.S)


def _blob(page: bytes) -> dict:
    return json.loads(BLOB.search(page.decode("utf-8")).group(1))


def run(capsys: pytest.CaptureFixture, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def tiny_graph():
    return build_graph(load_catalog(FIXTURES / "tiny"))


@pytest.fixture(scope="module")
def hostile_page() -> str:
    catalog = load_catalog(FIXTURES / "hostile")
    return render_html(build_graph(catalog), licenses=catalog.licenses).decode("utf-8")


def test_json_for_script_escapes_what_could_end_the_script() -> None:
    text = json_for_script({"b": "</script><img src=x onerror=alert(1)>", "a": "x & y\u2028\u2029"})
    assert text == (
        '{"a":"x \\u0026 y\\u2028\\u2029",'
        '"b":"\\u003c/script\\u003e\\u003cimg src=x onerror=alert(1)\\u003e"}'
    )
    assert json.loads(text) == {"b": "</script><img src=x onerror=alert(1)>", "a": "x & y\u2028\u2029"}


def test_hostile_text_appears_only_inside_the_json_blob(hostile_page: str) -> None:
    (blob,) = BLOB.findall(hostile_page)
    outside = BLOB.sub("", hostile_page)
    assert "__pwned" not in outside and not re.search(r"alert\(\d", outside)
    assert "<" not in blob and ">" not in blob
    names = {node["id"]: node["name"] for node in json.loads(blob)["nodes"]}
    assert names["model/child"] == "</script><script>window.__pwned=2;alert(2)</script>"


def test_the_blob_holds_every_node_and_edge(tiny_graph) -> None:
    page = render_html(tiny_graph).decode("utf-8")
    data = json.loads(BLOB.search(page).group(1))
    assert [node["id"] for node in data["nodes"]] == sorted(tiny_graph)
    assert len(data["edges"]) == tiny_graph.number_of_edges() == 14
    assert data["licenses"] == {}


def test_licences_used_are_named_with_their_url() -> None:
    catalog = load_catalog(FIXTURES / "tiny")
    page = render_html(build_graph(catalog), licenses=catalog.licenses).decode("utf-8")
    assert json.loads(BLOB.search(page).group(1))["licenses"] == {
        "Apache-2.0": {"name": "Apache License 2.0", "url": "https://spdx.org/licenses/Apache-2.0.html"},
        "CC-BY-NC-4.0": {"name": "Creative Commons Attribution Non Commercial 4.0 International", "url": "https://spdx.org/licenses/CC-BY-NC-4.0.html"},
    }


def test_commercial_use_on_the_page_is_the_verdict_along_the_lineage() -> None:
    catalog = load_catalog(FIXTURES / "tiny")
    graph = build_graph(catalog)
    graph.add_node("software/tool", kind="software", name="Tool", description="x", license="Apache-2.0", sources=[{"url": "https://example.org/tool", "supports": "x"}])
    nodes = {node["id"]: node for node in _blob(render_html(graph, licenses=catalog.licenses))["nodes"]}
    found = {node: entry["commercial_use"] for node, entry in nodes.items() if "commercial_use" in entry}
    # Alpaca-LoRA and Alpaca 7B have no licence of their own, but are trained on CC BY-NC data;
    # software has no effective terms, so its declared licence answers.
    assert found == {"model/dolly-v2-12b": True, "model/pythia-12b": True, "dataset/alpaca-52k": False,
                     "model/alpaca-lora-7b": False, "model/stanford-alpaca-7b": False, "software/tool": True}  # fmt: skip
    assert nodes["model/alpaca-lora-7b"]["terms"] == [
        {"term": "no-commercial-use", "kind": "data", "licence": "CC-BY-NC-4.0", "path": ["model/alpaca-lora-7b", "dataset/alpaca-52k"],
         "sources": ["https://github.com/tloen/alpaca-lora", "https://github.com/tatsu-lab/stanford_alpaca"]},
    ]  # fmt: skip


def test_a_view_shows_the_terms_of_the_whole_lineage_not_of_the_view() -> None:
    catalog = load_catalog(FIXTURES / "tiny")
    whole = build_graph(catalog)
    view = whole.subgraph(["model/stanford-alpaca-7b"]).copy()  # its CC BY-NC data is outside the view
    alone = {n["id"]: n for n in _blob(render_html(view, licenses=catalog.licenses))["nodes"]}
    assert "commercial_use" not in alone["model/stanford-alpaca-7b"]
    given = {n["id"]: n for n in _blob(render_html(view, licenses=catalog.licenses, terms=compute_all(whole, catalog.licenses)))["nodes"]}
    assert given["model/stanford-alpaca-7b"]["commercial_use"] is False


def test_licences_named_only_by_effective_terms_are_on_the_page_too() -> None:
    catalog = load_catalog(FIXTURES / "tiny")
    graph = build_graph(catalog)
    del graph.nodes["dataset/alpaca-52k"]["license"]
    terms = {"model/stanford-alpaca-7b": EffectiveTerms("model/stanford-alpaca-7b", (), False, (Term.along("no-commercial-use", "data", "CC-BY-NC-4.0", ("model/stanford-alpaca-7b", "dataset/alpaca-52k"), ("https://example.org/a", "https://example.org/b")),), ())}
    assert sorted(_blob(render_html(graph, licenses=catalog.licenses, terms=terms))["licenses"]) == ["Apache-2.0", "CC-BY-NC-4.0"]


def test_a_focus_page_names_its_focus(tiny_graph) -> None:
    assert _blob(render_html(tiny_graph, focus="Alpaca 7B"))["focus"] == "model/stanford-alpaca-7b"
    assert "focus" not in _blob(render_html(tiny_graph))


def test_title_is_escaped(tiny_graph) -> None:
    page = render_html(tiny_graph, title="<script>alert(1)</script> & co").decode("utf-8")
    assert "<title>&lt;script&gt;alert(1)&lt;/script&gt; &amp; co</title>" in page
    assert "<h1>&lt;script&gt;alert(1)&lt;/script&gt; &amp; co</h1>" in page


@pytest.mark.parametrize("path", PAGE_FILES, ids=[p.name for p in PAGE_FILES])
def test_our_page_never_parses_text_as_html(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    for word in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"):
        assert word not in text, word


def test_the_page_loads_nothing_from_the_network(tiny_graph) -> None:
    page = render_html(tiny_graph).decode("utf-8")
    assert not re.search(r"<(script|img|iframe)[^>]*\ssrc=|<link\b|@import|url\(\s*['\"]?(https?:)?//", page, re.I)
    assert "cdn" not in page.lower()
    assert (
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; script-src \'unsafe-inline\'; '
        "style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'\">" in page
    )


def test_vis_network_is_inlined_with_its_licence(tiny_graph) -> None:
    page = render_html(tiny_graph).decode("utf-8")
    assert " * vis.js is dual licensed under both\n *\n *   1. The Apache 2.0 License" in page
    assert page.count("<script") == page.count("</script") + 1  # vis-network's one "<script" is inside a string


def test_layout_puts_sources_left_of_what_was_made_from_them(tiny_graph) -> None:
    positions = lay_out(tiny_graph)
    x = lambda node: positions[node][0]  # noqa: E731
    assert x("model/llama-7b") == x("model/text-davinci-003") == 0
    assert 0 < x("dataset/alpaca-52k") < x("model/stanford-alpaca-7b") == x("model/alpaca-lora-7b")  # data generated by text-davinci-003
    assert x("model/pythia-12b") == 0 < x("model/dolly-v2-12b")
    lineage_bottom = max(y for node, (_, y) in positions.items() if node.startswith(("model/", "dataset/")))
    assert min(y for node, (_, y) in positions.items() if node.startswith("organization/")) > lineage_bottom


def test_a_generation_starts_right_of_the_widest_label_before_it(tiny_graph) -> None:
    positions = lay_out(tiny_graph)
    sizes = {node["id"]: node["size"] for node in _blob(render_html(tiny_graph))["nodes"]}
    lineage = [node for node in positions if node.startswith(("model/", "dataset/"))]
    for node in lineage:
        label_end = positions[node][0] + sizes[node] + LABEL_GAP + label_width(tiny_graph.nodes[node]["name"])
        assert all(positions[other][0] - sizes[other] > label_end for other in lineage if positions[other][0] > positions[node][0])


def test_rows_of_a_generation_leave_room_for_labels_and_shapes(tiny_graph) -> None:
    positions = lay_out(tiny_graph)
    sizes = {node["id"]: node["size"] for node in _blob(render_html(tiny_graph))["nodes"]}
    columns = {}
    for node, (x, y) in positions.items():
        if node.startswith(("model/", "dataset/")):
            columns.setdefault(x, []).append((y, node))
    for column in columns.values():
        column.sort()
        for (y1, a), (y2, b) in zip(column, column[1:]):
            assert y2 - y1 >= max(sizes[a], LABEL_HEIGHT / 2) + max(sizes[b], LABEL_HEIGHT / 2), (a, b)


def test_ordering_untangles_crossed_families() -> None:
    """Two bases listed so that their offspring cross; the sweeps put each family level with its base."""
    import networkx as nx

    graph = nx.MultiDiGraph()
    source = [{"url": "https://example.org/", "supports": "test"}]
    add = lambda node, **extra: graph.add_node(node, kind="model", name=node, description="x", sources=source, **extra)  # noqa: E731
    for base in ("model/a", "model/b"):
        add(base, foundation=True)
    for i, child in enumerate(["model/a-1", "model/b-1", "model/a-2", "model/b-2", "model/a-3"]):
        add(child)
        graph.add_edge(child, "model/" + child[6], key="finetune", field="derived_from", relation="finetune", evidence="https://example.org/")
    positions = lay_out(graph)
    y = lambda node: positions[node][1]  # noqa: E731
    a_children = [y(n) for n in positions if n.startswith("model/a-")]
    b_children = [y(n) for n in positions if n.startswith("model/b-")]
    assert (max(a_children) < min(b_children)) == (y("model/a") < y("model/b"))
    assert (min(a_children) > max(b_children)) == (y("model/a") > y("model/b"))


def _family_graph():
    """A series `model/s` with two sizes, each fine-tuned into one model from one dataset."""
    import networkx as nx

    graph = nx.MultiDiGraph()
    source = [{"url": "https://example.org/", "supports": "test"}]
    for node in ("model/s", "model/s-7b", "model/s-13b", "model/ft-7b", "model/ft-13b", "dataset/d"):
        graph.add_node(node, kind=node.split("/")[0], name=node, description="x", sources=source)
    edge = lambda u, v, key, field: graph.add_edge(u, v, key=key, field=field, relation=key, evidence=f"https://example.org/{u}")  # noqa: E731
    for size in ("7b", "13b"):
        edge(f"model/s-{size}", "model/s", "family", "family")
        edge(f"model/ft-{size}", f"model/s-{size}", "finetune", "derived_from")
        edge(f"model/ft-{size}", "dataset/d", "trained_on", "trained_on")
        edge(f"model/s-{size}", "dataset/d", "trained_on", "trained_on")
    return graph


def test_folding_moves_members_edges_onto_their_series_once() -> None:
    graph = _family_graph()
    members = family_members(graph)
    assert members == {"model/s-13b": "model/s", "model/s-7b": "model/s"}
    folded = fold_families(graph, members)
    assert sorted(folded) == ["dataset/d", "model/ft-13b", "model/ft-7b", "model/s"]
    assert sorted(folded.edges(keys=True)) == [
        ("model/ft-13b", "dataset/d", "trained_on"),
        ("model/ft-13b", "model/s", "finetune"),
        ("model/ft-7b", "dataset/d", "trained_on"),
        ("model/ft-7b", "model/s", "finetune"),
        ("model/s", "dataset/d", "trained_on"),  # from both sizes, drawn once
    ]
    assert folded.edges["model/s", "dataset/d", "trained_on"]["evidence"] == "https://example.org/model/s-13b"


def test_the_page_carries_the_folded_view_by_the_full_graph_s_indices() -> None:
    graph = _family_graph()
    blob = _blob(render_html(graph))
    ids = [node["id"] for node in blob["nodes"]]
    fold = blob["fold"]
    assert {ids[int(m)]: ids[s] for m, s in fold["members"].items()} == family_members(graph)
    assert sorted(ids[int(i)] for i in fold["xy"]) == ["dataset/d", "model/ft-13b", "model/ft-7b", "model/s"]
    drawn = sorted((ids[row[0]], ids[row[1]], row[2]) for row in fold["edges"])
    assert drawn == sorted(fold_families(graph, family_members(graph)).edges(keys=True))
    assert len(blob["edges"]) == graph.number_of_edges()


def test_a_graph_without_families_has_nothing_to_fold(tiny_graph) -> None:
    assert family_members(tiny_graph) == {}
    assert "fold" not in _blob(render_html(tiny_graph))


def test_same_bytes_whatever_the_hash_seed_and_locale(tmp_path: Path) -> None:
    pages = []
    for i, env in enumerate([{"PYTHONHASHSEED": "1"}, {"PYTHONHASHSEED": "2", "LC_ALL": "C", "PYTHONUTF8": "0"}]):
        out = tmp_path / f"page{i}.html"
        done = subprocess.run(
            [sys.executable, "-m", "kg.cli", "html", "--data", str(FIXTURES / "hostile"), "--out", str(out)],
            capture_output=True,
            env={"PATH": "/usr/bin:/bin", **env},
            cwd=Path(__file__).resolve().parent.parent,
        )
        assert done.returncode == 0, done.stderr
        pages.append(out.read_bytes())
    assert pages[0] == pages[1]
    assert "羊驼".encode("utf-8") in pages[0]


def test_html_command_writes_the_page(tiny: Path, capsys: pytest.CaptureFixture) -> None:
    assert run(capsys, "html", "--data", "data") == (0, "wrote build/lineage.html: 14 nodes, 14 edges\n", "")
    assert Path("build/lineage.html").read_bytes().startswith(b"<!DOCTYPE html>\n<html lang=\"en\">")


def test_focus_with_depth(tiny: Path, capsys: pytest.CaptureFixture) -> None:
    assert run(capsys, "html", "--data", "data", "--focus", "羊驼", "--depth", "1", "--out", "alpaca.html") == (
        0,
        "wrote alpaca.html: 5 nodes, 5 edges\n",
        "",
    )
    assert "<title>LLM lineage around Alpaca 7B</title>" in Path("alpaca.html").read_text(encoding="utf-8")


def test_failed_write_leaves_the_previous_page(tiny: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    run(capsys, "html", "--data", "data", "--out", "out/page.html")
    before = Path("out/page.html").read_bytes()

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(publish.os, "fsync", disk_full)
    assert run(capsys, "html", "--data", "data", "--focus", "model/llama-7b", "--out", "out/page.html") == (
        2,
        "",
        "Error: disk full while writing out/page.html\nHint: the previous output was left as it was\n",
    )
    assert Path("out/page.html").read_bytes() == before
    assert [p.name for p in Path("out").iterdir()] == ["page.html"]


def test_failed_rendering_writes_no_build_output(tiny: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args, **kwargs):
        raise publish.OutputError("cannot render the page")

    monkeypatch.setattr("kg.build.render_html", broken)
    assert run(capsys, "build", "--data", "data", "--out", "out")[0] == 2
    assert not Path("out").exists()


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["--kind", "modle"], "Error: unknown kind 'modle'\nHint: did you mean 'model'?\n"),
        (["--focus", "model/llama-7b", "--relation", "fine-tune"], "Error: unknown relation 'fine-tune'\nHint: did you mean 'finetune'?\n"),
        (["--relation", "zzz"], "Error: unknown relation 'zzz'\nHint: choose from adapter, affiliations, architecture, based-on, broader, "
         "built_with, component, continued-pretraining, conversion, dependencies, derived, developers, distillation, family, filtering, finetune, generated_by, merge, "
         "methods, part_of, quantized, regeneration, reproduction, subset, supports, trained_on, translation\n"),
        (["--focus", "model/llama"], "Error: no entity is named 'model/llama'\nHint: did you mean 'model/llama-7b'?\n"),
        (["--depth", "2"], "Error: --depth needs --focus\nHint: add --focus ENTITY, e.g. --focus model/llama\n"),
    ],
)
def test_html_errors(args: list[str], error: str, tiny: Path, capsys: pytest.CaptureFixture) -> None:
    assert run(capsys, "html", "--data", "data", *args) == (1, "", error)
    assert not Path("build").exists()


def test_focus_follows_lineage_both_ways_then_adds_makers_and_methods(tiny_graph) -> None:
    focused = focus_graph(tiny_graph, "model/llama-7b", depth=1)
    assert sorted(focused) == [
        "method/lora",
        "model/alpaca-lora-7b",
        "model/llama-7b",
        "model/stanford-alpaca-7b",
        "organization/meta-ai",
        "organization/stanford-crfm",
        "person/eric-j-wang",
    ]
    assert sorted(focused.edges(keys=True)) == [
        ("model/alpaca-lora-7b", "method/lora", "methods"),
        ("model/alpaca-lora-7b", "model/llama-7b", "adapter"),
        ("model/alpaca-lora-7b", "person/eric-j-wang", "developers"),
        ("model/llama-7b", "organization/meta-ai", "developers"),
        ("model/stanford-alpaca-7b", "model/llama-7b", "finetune"),
        ("model/stanford-alpaca-7b", "organization/stanford-crfm", "developers"),
    ]


def test_focus_depth_counts_steps_upstream(tiny_graph) -> None:
    lineage = lambda depth: sorted(n for n in focus_graph(tiny_graph, "model/stanford-alpaca-7b", depth) if n.startswith(("model/", "dataset/")))  # noqa: E731
    assert lineage(1) == ["dataset/alpaca-52k", "model/llama-7b", "model/stanford-alpaca-7b"]
    assert lineage(2) == ["dataset/alpaca-52k", "model/llama-7b", "model/stanford-alpaca-7b", "model/text-davinci-003"]


def test_focus_keeps_only_given_kinds_and_relations(tiny_graph) -> None:
    focused = focus_graph(tiny_graph, "model/llama-7b", kinds=["model"], relations=["finetune"])
    assert sorted(focused.edges(keys=True)) == [("model/stanford-alpaca-7b", "model/llama-7b", "finetune")]
    assert sorted(focused) == ["model/llama-7b", "model/stanford-alpaca-7b"]


def _deuteranope(colour: str) -> tuple[float, float, float]:
    """`colour` as a deuteranope sees it (Machado, Oliveira and Fernandes 2009, full severity), linear RGB."""
    rgb = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
    matrix = [(0.367322, 0.860646, -0.227968), (0.280085, 0.672501, 0.047413), (-0.011820, 0.042940, 0.968881)]
    return tuple(sum(m * c for m, c in zip(row, linear)) for row in matrix)


def test_no_two_relations_look_alike_even_to_deuteranopes() -> None:
    looks = [(colour, tuple(dashes or ())) for colour, dashes in RELATION_STYLES.values()]
    assert len(set(looks)) == len(looks)
    for a, (colour_a, dashes_a) in enumerate(looks):
        for colour_b, dashes_b in looks[a + 1 :]:
            if dashes_a == dashes_b:
                seen_a, seen_b = _deuteranope(colour_a), _deuteranope(colour_b)
                assert sum((x - y) ** 2 for x, y in zip(seen_a, seen_b)) ** 0.5 > 0.08, (colour_a, colour_b, dashes_a)
