"""The lineage page in a real headless Chromium (Debian's), driven by Playwright.

Every request but the page's own file:// URL is aborted and recorded. Without
/usr/bin/chromium these tests skip, except under CI (CI=true), where they fail.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

import kg
from kg.catalog import load_catalog
from kg.graph import build_graph
from kg.graph import RELATION_LABELS
from kg.html import LABEL_CHARS, render_html, select_view
from kg.terms import Conflict, EffectiveTerms, Term, compute_all

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
DIM = "#e3e6ea"  # the page's colour for entities outside the highlighted lineage
SCREENSHOTS = ROOT / "build" / "screenshots"


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{reason}; CI must run the browser tests (.ci/run installs Debian's chromium)")
    pytest.skip(f"{reason}; install Debian's chromium (apt-get install chromium) to run the browser tests")


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        _unavailable(f"{CHROMIUM} is missing")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("Playwright for Python is not installed (pip install -e '.[test]')")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def _write_page(folder: Path, catalog_dir: Path | None) -> tuple[Path, object]:
    catalog = load_catalog(catalog_dir)
    graph = build_graph(catalog)
    path = folder / "lineage.html"
    path.write_bytes(render_html(graph, licenses=catalog.licenses))
    return path, graph


@pytest.fixture(scope="module")
def real(tmp_path_factory: pytest.TempPathFactory):
    return _write_page(tmp_path_factory.mktemp("real"), None)


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory):
    return _write_page(tmp_path_factory.mktemp("hostile"), ROOT / "tests" / "fixtures" / "hostile")


class Visit:
    """One page opened offline, with what it tried to fetch and what it complained about."""

    def __init__(self, browser, path: Path, size: tuple[int, int] = (1600, 1000), fragment: str = ""):  # noqa: ANN001
        self.requests: list[str] = []
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        self.page = browser.new_page(viewport={"width": size[0], "height": size[1]})
        url = path.as_uri()
        self.page.route("**/*", lambda route: route.continue_() if route.request.url == url else self._block(route))
        self.page.on("console", lambda message: message.type == "error" and self.errors.append(message.text))
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.on("dialog", lambda dialog: (self.dialogs.append(dialog.message), dialog.dismiss()))
        self.page.goto(url + fragment)
        self.page.wait_for_function("window.lineageReady === true", timeout=30000)

    def _block(self, route) -> None:  # noqa: ANN001
        self.requests.append(route.request.url)
        route.abort()

    def node_point(self, node: str) -> tuple[float, float]:
        """Where `node` is on the screen, in page pixels."""
        point = self.page.evaluate(
            "id => { const n = window.lineage.network; return n.canvasToDOM(n.getPosition(id)); }", node
        )
        box = self.page.locator("#graph").bounding_box()
        return box["x"] + point["x"], box["y"] + point["y"]

    def bring_into_view(self, node: str) -> None:
        """Pan (at the same zoom) so that `node` is in the middle of the graph, as a user would drag it there."""
        self.page.evaluate("id => window.lineage.network.moveTo({position: window.lineage.network.getPosition(id), animation: false})", node)

    def colour(self, node: str) -> str:
        """The fill vis-network draws the node with (its own colour, else its kind's group colour)."""
        return self.page.evaluate("id => window.lineage.network.body.nodes[id].options.color.background", node)

    def selected(self) -> str | None:
        return self.page.evaluate("document.body.dataset.selected || null")

    def search(self, text: str) -> None:
        self.page.fill("#search", text)
        self.page.press("#search", "Enter")

    def layout(self) -> dict:
        """What the page drew, in screen pixels: nodes with shape and label boxes, edges with their polylines."""
        return self.page.evaluate("window.lineage.layout()")


@pytest.fixture
def visit_real(browser, real):  # noqa: ANN001
    visit = Visit(browser, real[0])
    yield visit
    visit.page.close()


def test_page_draws_offline_with_every_node_and_edge(visit_real: Visit, real) -> None:  # noqa: ANN001
    graph = real[1]
    counts = visit_real.page.evaluate("[window.lineage.nodes.length, window.lineage.edges.length]")
    assert counts == [graph.number_of_nodes(), graph.number_of_edges()]
    assert visit_real.page.locator("#graph canvas").count() == 1
    assert (visit_real.requests, visit_real.errors) == ([], [])


@pytest.mark.parametrize("text", ["羊驼", "alpaca", "Stanford Alpaca"])
def test_search_finds_alpaca_by_chinese_or_english_name(visit_real: Visit, text: str) -> None:
    visit_real.search(text)
    assert visit_real.selected() == "model/stanford-alpaca-7b"
    assert visit_real.page.locator("#panel h2").text_content() == "Alpaca 7B"


def test_search_lists_every_match(visit_real: Visit) -> None:
    visit_real.page.fill("#search", "羊驼")
    assert visit_real.page.locator("#results .id").all_text_contents() == [
        "model/stanford-alpaca-7b", "model/vicuna", "model/chinese-vicuna-7b",
    ]  # fmt: skip


def test_clicking_llama_highlights_its_lineage_and_shows_its_sources(visit_real: Visit, real) -> None:  # noqa: ANN001
    visit_real.bring_into_view("model/llama")  # the first view starts at the top of a catalog of 2023-2026
    visit_real.page.mouse.click(*visit_real.node_point("model/llama"))
    assert visit_real.selected() == "model/llama"
    assert visit_real.colour("model/vicuna") != DIM  # the Vicuna family, still folded, made from LLaMA-13B
    assert visit_real.colour("model/llama-13b") != DIM  # LLaMA's family opened with it
    assert visit_real.colour("model/dolly-v2") == DIM
    panel = visit_real.page.locator("#panel").inner_text()
    urls = [source["url"] for source in real[1].nodes["model/llama"]["sources"]]
    assert urls == [
        "https://ai.meta.com/blog/large-language-model-llama-meta-ai/",
        "https://arxiv.org/abs/2302.13971",
        "https://github.com/facebookresearch/llama",
    ]
    assert all(url in panel for url in urls)
    visit_real.page.keyboard.press("Escape")
    assert (visit_real.selected(), visit_real.colour("model/dolly-v2")) == (None, "#4a90d9")
    assert visit_real.page.locator("#panel").is_hidden()


def test_hostile_catalog_runs_no_script(browser, hostile) -> None:  # noqa: ANN001
    visit = Visit(browser, hostile[0])
    page = visit.page
    visit.search("羊驼")
    assert visit.selected() == "model/base"
    for node in sorted(hostile[1]):
        page.evaluate("window.lineage.reset()")
        visit.search(node)
        x, y = visit.node_point(node)
        page.mouse.move(x, y)
        page.mouse.click(x, y)
        assert visit.selected() == node
        page.locator("#panel a").first.hover()
    page.evaluate("window.lineage.select('model/base', true)")
    panel = page.locator("#panel").inner_text()
    assert '<img src=x onerror="window.__pwned=1;alert(1)">' in panel
    assert '<img src=x onerror="window.__pwned=9;alert(9)">' in panel
    assert "<b>Evil</b> licence" in panel
    hrefs = page.locator("#panel a").evaluate_all("links => links.map(a => a.getAttribute('href'))")
    assert all(href.startswith("https://example.org/") for href in hrefs) and len(hrefs) == 5
    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert (visit.dialogs, visit.requests, visit.errors) == ([], [], [])
    page.close()


def test_hover_shows_names_as_text(browser, hostile) -> None:  # noqa: ANN001
    visit = Visit(browser, hostile[0])
    visit.page.mouse.move(*visit.node_point("model/child"))
    visit.page.wait_for_selector("#tip:not([hidden])")
    assert visit.page.locator("#tip strong").text_content() == "</script><script>window.__pwned=2;alert(2)</script>"
    assert visit.page.evaluate("typeof window.__pwned") == "undefined"
    visit.page.close()


def test_screenshot_for_review(visit_real: Visit) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    visit_real.page.screenshot(path=SCREENSHOTS / "lineage.png", full_page=True)
    visit_real.search("LLaMA")
    visit_real.page.screenshot(path=SCREENSHOTS / "lineage-llama.png", full_page=True)
    assert (SCREENSHOTS / "lineage.png").stat().st_size > 20000


def _chain_graph(size: int):
    """`size` models, each fine-tuned from an earlier one, all made by one lab: a graph past the page's big-graph mark."""
    import networkx as nx

    graph = nx.MultiDiGraph()
    source = [{"url": "https://example.org/", "supports": "synthetic"}]
    graph.add_node("organization/lab", kind="organization", name="Lab", description="A lab.", sources=source)
    for i in range(size):
        graph.add_node(f"model/m-{i}", kind="model", name=f"Model {i}", description="A model.", sources=source, foundation=i == 0)
        graph.add_edge(f"model/m-{i}", "organization/lab", key="developers", field="developers", relation="developers", evidence="https://example.org/")
        if i:
            parent = f"model/m-{i // 2}"
            graph.add_edge(f"model/m-{i}", parent, key="finetune", field="derived_from", relation="finetune", evidence="https://example.org/")
    return graph


def test_a_big_graph_opens_on_its_hub_and_labels_what_comes_into_view(browser, tmp_path: Path) -> None:  # noqa: ANN001
    graph = _chain_graph(2500)
    path = tmp_path / "big.html"
    path.write_bytes(render_html(graph))
    visit = Visit(browser, path)
    page = visit.page
    assert page.evaluate("[window.lineage.nodes.length, window.lineage.edges.length]") == [2501, 2500 + 2499]
    labelled = lambda: {node["id"] for node in visit.layout()["nodes"] if node["label"]}  # noqa: E731
    assert page.evaluate("window.lineage.network.getScale()") == pytest.approx(0.8)
    assert "model/m-0" in labelled()  # the hub, in view
    assert "model/m-2499" not in labelled()  # far away: not drawn
    visit.search("Model 2499")
    assert visit.selected() == "model/m-2499"
    assert "model/m-2499" in labelled()
    assert visit.layout()["arrows"] is False  # arrow heads are drawn only from zoom 1
    page.evaluate("window.lineage.network.moveTo({scale: 1.5})")
    page.mouse.move(800, 500)
    page.mouse.wheel(0, -100)  # a real zoom event
    page.wait_for_timeout(100)
    assert visit.layout()["arrows"] is True
    while page.evaluate("window.lineage.network.getScale()") >= 1:
        page.click("#zoom-out")
    assert visit.layout()["arrows"] is False  # the buttons too
    assert (visit.requests, visit.errors, visit.dialogs) == ([], [], [])


def test_the_inline_notebook_view_draws_in_its_sandboxed_frame(browser, tmp_path: Path) -> None:  # noqa: ANN001
    """`KnowledgeGraph.show()` as Jupyter would put it in an output cell: the page runs inside the iframe, offline."""
    lkg = kg.load()
    view = lkg.show(focus="LLaMA", height=600)
    host = tmp_path / "notebook.html"
    host.write_text(f"<!DOCTYPE html><meta charset='utf-8'><title>notebook</title><div class='output'>{view._repr_html_()}</div>", encoding="utf-8")
    requests: list[str] = []
    errors: list[str] = []
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.route("**/*", lambda route: route.continue_() if route.request.url == host.as_uri() else (requests.append(route.request.url), route.abort()))
    page.on("console", lambda message: message.type == "error" and errors.append(message.text))
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(host.as_uri())
    frame = page.frame_locator("iframe").first
    frame.locator("#graph canvas").wait_for(timeout=30000)
    inner = next(f for f in page.frames if f != page.main_frame)
    inner.wait_for_function("window.lineageReady === true", timeout=30000)
    focus, _ = select_view(lkg.graph, "LLaMA")
    assert inner.evaluate("[window.lineage.nodes.length, window.lineage.edges.length]") == [focus.number_of_nodes(), focus.number_of_edges()]
    # The sandbox gives the page an opaque origin: it cannot read the notebook around it.
    assert inner.evaluate("(() => { try { return window.parent.document.title; } catch (error) { return error.name; } })()") == "SecurityError"
    assert page.locator("iframe").bounding_box()["height"] == pytest.approx(600, abs=4)
    frame.locator("#search").fill("Vicuna-13B")
    frame.locator("#search").press("Enter")
    assert inner.evaluate("document.body.dataset.selected") == "model/vicuna-13b"
    assert (requests, errors) == ([], [])
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "inline-view.png"))
    page.close()


def test_the_panel_shows_licence_statements_with_the_governing_one(visit_real: Visit, real) -> None:  # noqa: ANN001
    visit_real.search("BELLE train_0.5M_CN")
    assert visit_real.selected() == "dataset/belle-train-0.5m-cn"
    statements = visit_real.page.locator("#panel ul.statements > li").all_inner_texts()
    assert [text.splitlines()[0] for text in statements] == [
        "GNU General Public License v3.0 only — hub-tag, 2023-03-31",
        "BELLE research-use-only restriction — readme (governs)",
    ]
    assert real[1].nodes["dataset/belle-train-0.5m-cn"]["license_basis"] in visit_real.page.locator("#panel").inner_text()


def test_the_panel_shows_other_trackers_claims_beside_the_catalogs(browser, tmp_path: Path) -> None:  # noqa: ANN001
    import kg

    catalog_dir = tmp_path / "data"
    shutil.copytree(ROOT / "tests" / "fixtures" / "tiny", catalog_dir)
    shutil.copytree(ROOT / "tests" / "fixtures" / "sources" / "catalog", catalog_dir, dirs_exist_ok=True)
    lkg = kg.load(catalog_dir, sources={"open-llms": ROOT / "tests" / "fixtures" / "sources" / "open-llms" / "README.md"})
    page = tmp_path / "lineage.html"
    page.write_bytes(lkg.render_html())
    visit = Visit(browser, page)
    visit.search("model/dolly-v2-12b")
    expected = [f"{c['value']} — {c['source']}{' (accepted)' if c['accepted'] else ''} {c['where']}" for c in lkg.graph.nodes["model/dolly-v2-12b"]["claims"] if c["field"] == "parameters"]
    shown = [t for t in visit.page.locator("#panel ul.claims li li").all_inner_texts() if t.startswith(tuple(e.split(" — ")[0] for e in expected))]
    assert expected and sorted(expected) == sorted(s for s in shown if s in expected)
    assert visit.page.locator("#panel h3", has_text="What the catalog and other trackers say").count() == 1
    assert (visit.requests, visit.errors) == ([], [])
    visit.page.close()


def test_a_huge_name_gets_a_short_label_and_stays_whole_in_the_panel(browser, tmp_path: Path) -> None:  # noqa: ANN001
    catalog_dir = tmp_path / "data"
    shutil.copytree(ROOT / "tests" / "fixtures" / "tiny", catalog_dir)
    entry = catalog_dir / "models" / "llama-7b.yaml"
    huge = "LLaMA " + "x" * 100_000
    entry.write_text(entry.read_text(encoding="utf-8").replace("name: LLaMA 7B", f"name: {huge}"), encoding="utf-8")
    path, _ = _write_page(tmp_path, catalog_dir)
    visit = Visit(browser, path)
    drawn = next(node for node in visit.page.evaluate("window.lineage.layout()")["nodes"] if node["id"] == "model/llama-7b")
    assert drawn["label"]["text"] == huge[: LABEL_CHARS - 1] + "…"
    assert drawn["label"]["right"] - drawn["label"]["left"] < 400  # a label, not a 100,000-character line
    visit.search("model/llama-7b")
    assert visit.page.locator("#panel h2").inner_text() == huge
    visit.page.close()


# ---- legibility of the first view, measured on what the page says it drew ----


def _overlap(a: dict, b: dict) -> bool:
    """Whether two screen boxes share more than a hair (half a pixel) of area."""
    return min(a["right"], b["right"]) - max(a["left"], b["left"]) > 0.5 and min(a["bottom"], b["bottom"]) - max(a["top"], b["top"]) > 0.5


def _gap(a: dict, b: dict) -> float:
    """Distance between two boxes (0 when they touch or overlap)."""
    dx = max(0.0, max(a["left"], b["left"]) - min(a["right"], b["right"]))
    dy = max(0.0, max(a["top"], b["top"]) - min(a["bottom"], b["bottom"]))
    return (dx * dx + dy * dy) ** 0.5


def _on_screen(box: dict, view: dict) -> bool:
    return box["right"] > view["left"] and box["left"] < view["right"] and box["bottom"] > view["top"] and box["top"] < view["bottom"]


@pytest.fixture(scope="module")
def first_view(browser, real):  # noqa: ANN001
    visit = Visit(browser, real[0])
    layout = visit.layout()
    visit.page.close()
    return layout


def test_first_view_shows_the_family_tree_readably(first_view: dict, real) -> None:  # noqa: ANN001
    graph = real[1]
    lineage = {node for node, kind in graph.nodes(data="kind") if kind in ("model", "dataset")}
    shown = {node["id"] for node in first_view["nodes"]}
    # Half the lineage while one screen holds it (the catalog of 2023); past that, a screenful of labels.
    assert shown <= lineage and len(shown) >= min(len(lineage) // 2, 90)
    assert first_view["fontPx"] >= 11
    assert all(node["label"] for node in first_view["nodes"])


def test_no_label_lies_on_another_node_or_label(first_view: dict) -> None:
    nodes = first_view["nodes"]
    clashes = [
        (a["id"], b["id"])
        for a in nodes
        for b in nodes
        if a is not b and (_overlap(a["label"], b["shape"]) or _overlap(a["label"], b["label"]))
    ]
    assert clashes == []


def test_every_label_is_nearest_its_own_node(first_view: dict) -> None:
    nodes = first_view["nodes"]
    astray = [a["id"] for a in nodes if any(_gap(a["label"], b["shape"]) <= _gap(a["label"], a["shape"]) for b in nodes if b is not a)]
    assert astray == []


def test_no_edge_passes_through_another_node(first_view: dict) -> None:
    def crosses(p, q, box) -> bool:  # noqa: ANN001
        # Sample the segment: enough to catch a pass through a shape several pixels wide.
        steps = max(2, int(max(abs(q[0] - p[0]), abs(q[1] - p[1])) / 2))
        inner = {"left": box["left"] + 1, "right": box["right"] - 1, "top": box["top"] + 1, "bottom": box["bottom"] - 1}
        return any(
            inner["left"] < p[0] + (q[0] - p[0]) * k / steps < inner["right"] and inner["top"] < p[1] + (q[1] - p[1]) * k / steps < inner["bottom"]
            for k in range(steps + 1)
        )

    through = [
        (edge["from"], edge["to"], node["id"])
        for edge in first_view["edges"]
        for node in first_view["nodes"]
        if node["id"] not in (edge["from"], edge["to"])
        and any(crosses(p, q, node["shape"]) or crosses(p, q, node["label"]) for p, q in zip(edge["points"], edge["points"][1:]))
    ]
    assert through == []


def test_lineage_crosses_no_more_than_graphviz_dot(first_view: dict, real) -> None:  # noqa: ANN001
    import sys

    sys.path.insert(0, str(ROOT / "benchmarks"))
    from html_render import count_crossings, dot_edges

    graph = real[1]
    lineage = {node: graph.nodes[node]["name"] for node, kind in graph.nodes(data="kind") if kind in ("model", "dataset")}
    drawn = [(edge["from"], edge["to"], [tuple(p) for p in edge["points"]]) for edge in first_view["edges"]]
    assert {a for a, _, _ in drawn} | {b for _, b, _ in drawn} <= set(lineage)
    dot = dot_edges(lineage, [(b, a) for a, b, _ in drawn])  # dot draws from source to derived, as we do
    if dot is None:
        pytest.skip("Graphviz dot is not installed (apt-get install graphviz)")
    assert count_crossings(drawn) <= count_crossings(dot)


def test_text_is_readable_at_1280x720(browser, real) -> None:  # noqa: ANN001
    visit = Visit(browser, real[0], (1280, 720))
    assert visit.layout()["fontPx"] >= 9
    visit.page.close()


def test_selecting_frames_the_lineage_at_a_readable_zoom(browser, real) -> None:  # noqa: ANN001
    visit = Visit(browser, real[0], (1280, 720))
    visit.search("LLaMA-7B")
    layout = visit.layout()
    assert visit.selected() == "model/llama-7b"
    assert layout["fontPx"] >= 11
    (node,) = [node for node in layout["nodes"] if node["id"] == "model/llama-7b"]
    assert _on_screen(node["shape"], layout["view"]) and _on_screen(node["label"], layout["view"])
    visit.page.close()


def test_clicking_an_edge_shows_its_relation_and_evidence(visit_real: Visit, real) -> None:  # noqa: ANN001
    layout = visit_real.layout()
    view = layout["view"]
    graph = real[1]
    for edge in layout["edges"]:
        (x1, y1), (x2, y2) = edge["points"][-2:]
        x, y = (x1 + x2) / 2, (y1 + y2) / 2
        if view["left"] + 5 < x < view["right"] - 5 and view["top"] + 5 < y < view["bottom"] - 5:
            break
    visit_real.page.mouse.click(x, y)
    clicked = int(visit_real.page.evaluate("document.body.dataset.edge"))
    ours = next(e for e in layout["edges"] if e["id"] == clicked)
    panel = visit_real.page.locator("#panel").inner_text()
    evidence = graph.edges[ours["from"], ours["to"], ours["relation"]]["evidence"]
    assert evidence in panel
    assert RELATION_LABELS[ours["relation"]] in panel


def test_physics_off_puts_the_layout_back(visit_real: Visit) -> None:
    before = visit_real.layout()
    visit_real.page.check("#physics")
    visit_real.page.wait_for_timeout(400)
    moved = visit_real.layout()
    assert [n["shape"] for n in moved["nodes"]] != [n["shape"] for n in before["nodes"]]
    visit_real.page.uncheck("#physics")
    after = visit_real.layout()
    shapes = lambda layout: [{k: round(v, 2) for k, v in n["shape"].items()} for n in layout["nodes"]]  # noqa: E731
    points = lambda layout: [[[round(c, 2) for c in p] for p in e["points"]] for e in layout["edges"]]  # noqa: E731
    assert shapes(after) == shapes(before)
    assert points(after) == points(before)


def test_the_url_fragment_reopens_a_selection(browser, real) -> None:  # noqa: ANN001
    visit = Visit(browser, real[0])
    visit.search("Vicuna-13B")
    fragment = visit.page.evaluate("location.hash")
    assert fragment == "#select=model%2Fvicuna-13b"
    visit.page.close()
    again = Visit(browser, real[0], fragment=fragment)
    assert again.selected() == "model/vicuna-13b"
    assert again.page.locator("#panel h2").text_content() == real[1].nodes["model/vicuna-13b"]["name"]
    assert (again.requests, again.errors) == ([], [])
    again.page.close()


def test_arrow_keys_pick_a_result_and_brackets_walk_the_lineage(visit_real: Visit, real) -> None:  # noqa: ANN001
    page = visit_real.page
    page.fill("#search", "羊驼")
    results = page.locator("#results .id").all_text_contents()
    page.press("#search", "ArrowDown")
    page.press("#search", "ArrowDown")
    page.press("#search", "Enter")
    assert visit_real.selected() == results[1]
    assert page.evaluate("document.activeElement.id") == "search"
    graph = real[1]
    lineage_kinds = ("model", "dataset")
    sources = sorted(
        (graph.nodes[v]["name"], v)
        for _, v, data in graph.out_edges(results[1], data=True)
        if data["field"] in ("derived_from", "trained_on", "generated_by", "family") and graph.nodes[v]["kind"] in lineage_kinds
    )
    page.evaluate("document.activeElement.blur()")
    page.keyboard.press("[")
    assert visit_real.selected() == sources[0][1]


def test_a_phone_gets_the_whole_width_and_a_bottom_sheet(browser, real) -> None:  # noqa: ANN001
    visit = Visit(browser, real[0], (390, 844))
    page = visit.page
    assert page.locator("#legend").is_hidden()
    graph_box = page.locator("#graph").bounding_box()
    assert graph_box["width"] == 390 and graph_box["height"] > 0.85 * 844  # the filters fold away with the legend
    assert page.locator("#organization").is_hidden()
    assert visit.layout()["fontPx"] >= 11
    visit.search("Alpaca 7B")
    panel = page.locator("#panel").bounding_box()
    assert (panel["x"], panel["width"]) == (0, 390) and panel["y"] + panel["height"] == pytest.approx(844, abs=1)
    layout = visit.layout()
    (node,) = [node for node in layout["nodes"] if node["id"] == "model/stanford-alpaca-7b"]
    above_sheet = dict(layout["view"], bottom=panel["y"])
    for box in (node["shape"], node["label"]):  # wholly in view, above the sheet
        assert box["left"] >= 0 and box["right"] <= 390 and box["top"] >= above_sheet["top"] and box["bottom"] <= above_sheet["bottom"]
    page.click("#legend-toggle")
    assert page.locator("#legend").is_visible() and page.locator("#organization").is_visible()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / "lineage-phone.png")
    page.close()


def test_the_table_view_sorts_filters_and_exports_what_is_shown(visit_real: Visit, real) -> None:  # noqa: ANN001
    import csv
    import io

    page = visit_real.page
    graph = real[1]
    shown = sorted(graph.nodes[n]["name"] for n, kind in graph.nodes(data="kind") if kind in ("model", "dataset"))
    page.click("#view-table")
    assert page.locator("#graph").is_hidden()
    names = page.locator("#table tbody tr td:first-child").all_text_contents()
    assert sorted(names) == shown  # one row per entity shown in the graph
    page.click("#table th:nth-child(3) button")  # Released, ascending
    released = [d for d in page.locator("#table tbody tr td:nth-child(3)").all_text_contents()]
    assert released == sorted(released)
    page.fill("#table-filter", "alpaca")
    filtered = page.locator("#table tbody tr td:first-child").all_text_contents()
    assert filtered and all(
        "alpaca" in " ".join(str(v) for v in row).lower()
        for row in page.locator("#table tbody tr").evaluate_all("rows => rows.map(r => [...r.cells].map(c => c.textContent))")
    )
    with page.expect_download() as download:
        page.click("#table-csv")
    rows = list(csv.reader(io.StringIO(Path(download.value.path()).read_text(encoding="utf-8"))))
    assert rows[0] == ["Name", "Kind", "Released", "Developers", "Licence", "Comes from"]
    assert sorted(row[0] for row in rows[1:]) == sorted(filtered)
    page.locator("#table tbody button", has_text="Alpaca 7B").first.click()
    assert visit_real.selected() == "model/stanford-alpaca-7b" and page.locator("#graph").is_visible()
    assert (visit_real.requests, visit_real.errors) == ([], [])


@pytest.mark.parametrize(
    ("control", "value", "matches"),
    [
        ("#commercial", "yes", lambda node, verdict: verdict is True),
        ("#commercial", "no", lambda node, verdict: verdict is False),
        ("#open-weights", "no", lambda node, verdict: node.get("open_weights") is False),
        ("#language", "zh", lambda node, verdict: "zh" in node.get("languages", ())),
    ],
)
def test_facet_filters_keep_exactly_the_matching_entities_and_are_shareable(browser, real, control, value, matches) -> None:  # noqa: ANN001
    graph = real[1]
    # Commercial use is the verdict along the lineage (kg.terms), not the declared licence's.
    verdicts = {node: result.commercial_use for node, result in compute_all(graph, load_catalog().licenses).items()}
    expected = sorted(n for n, data in graph.nodes(data=True) if data["kind"] in ("model", "dataset") and matches(data, verdicts[n]))
    visit = Visit(browser, real[0])
    visit.page.select_option(control, value)
    shown = visit.page.evaluate("window.lineage.nodes.get({filter: (n) => !n.hidden}).map((n) => n.id)")
    assert sorted(shown) == expected and expected
    fragment = visit.page.evaluate("location.hash")
    visit.page.close()
    again = Visit(browser, real[0], fragment=fragment)
    assert sorted(again.page.evaluate("window.lineage.nodes.get({filter: (n) => !n.hidden}).map((n) => n.id)")) == expected
    again.page.close()


def _month(released: str) -> float:
    """The page's month number for a release date: a year alone is mid-year, a month alone mid-month."""
    parts = [int(p) for p in released.split("-")]
    if len(parts) == 1:
        return parts[0] * 12 + 6
    return parts[0] * 12 + parts[1] - 1 + ((parts[2] - 1) / 31 if len(parts) == 3 else 0.5)


def test_the_time_axis_places_entities_by_date_and_gives_the_layout_back(visit_real: Visit, real) -> None:  # noqa: ANN001
    graph = real[1]
    before = visit_real.layout()
    visit_real.page.check("#time-axis")
    on_axis = visit_real.layout()
    dated = [(n["shape"]["left"] + n["shape"]["right"], _month(str(graph.nodes[n["id"]]["released"]))) for n in on_axis["nodes"] if "released" in graph.nodes[n["id"]]]
    assert len(dated) > 10
    for x1, m1 in dated:
        for x2, m2 in dated:
            if m1 + 1 <= m2:  # a month apart or more: clearly apart on screen
                assert x1 < x2, (m1, m2)
    assert all(len(edge["points"]) == 2 for edge in on_axis["edges"])  # lineage still drawn, straight
    assert len(on_axis["edges"]) >= len([e for e in before["edges"] if e["from"] in {n["id"] for n in on_axis["nodes"]}]) > 0
    visit_real.page.uncheck("#time-axis")
    after = visit_real.layout()
    rounded = lambda layout: [{k: round(v, 2) for k, v in n["shape"].items()} for n in layout["nodes"]]  # noqa: E731
    assert rounded(after) == rounded(before)


def test_the_date_range_keeps_what_was_released_in_it(browser, real) -> None:  # noqa: ANN001
    graph = real[1]
    expected = sorted(
        n for n, data in graph.nodes(data=True)
        if data["kind"] in ("model", "dataset") and "released" in data and 2023 * 12 + 2 <= _month(str(data["released"])) < 2023 * 12 + 4
    )  # fmt: skip
    visit = Visit(browser, real[0])
    visit.page.fill("#date-from", "2023-03")
    visit.page.fill("#date-to", "2023-04")
    shown = visit.page.evaluate("window.lineage.nodes.get({filter: (n) => !n.hidden}).map((n) => n.id)")
    assert sorted(shown) == expected and expected
    assert visit.page.evaluate("location.hash") == "#from=2023-03&to=2023-04"
    visit.page.close()


# ---- families folded into their series on the first view ----


def _drawn(visit: Visit) -> tuple[set, set]:
    """Ids of the entities the page holds unhidden, and the (from, to, relation) of the edges it draws."""
    shown = set(visit.page.evaluate("window.lineage.nodes.get({filter: (n) => !n.hidden}).map((n) => n.id)"))
    layout = visit.layout()
    return shown, {(e["from"], e["to"], e["relation"]) for e in layout["edges"]}


def test_the_first_view_folds_each_family_into_its_series(visit_real: Visit, real) -> None:  # noqa: ANN001
    from kg.html import family_members, fold_families

    graph = real[1]
    members = family_members(graph)
    assert {"model/llama-7b": "model/llama", "model/vicuna-13b": "model/vicuna"}.items() <= members.items()
    shown, edges = _drawn(visit_real)
    lineage = {n for n, kind in graph.nodes(data="kind") if kind in ("model", "dataset")}
    assert shown == lineage - set(members)
    assert ("model/stanford-alpaca-7b", "model/llama", "finetune") in edges  # Alpaca 7B's edge to LLaMA-7B, on its series
    folded = fold_families(graph, members)
    assert edges <= set(folded.edges(keys=True)) and not {a for a, _, _ in edges} & set(members)
    assert visit_real.page.is_checked("#fold")


def test_picking_a_member_opens_its_family_and_unticking_opens_them_all(visit_real: Visit, real) -> None:  # noqa: ANN001
    graph = real[1]
    visit_real.search("LLaMA-7B")
    assert visit_real.selected() == "model/llama-7b"
    shown, edges = _drawn(visit_real)
    assert "model/llama-7b" in shown and "model/vicuna-13b" not in shown and visit_real.page.is_checked("#fold")
    assert ("model/stanford-alpaca-7b", "model/llama-7b", "finetune") in edges
    assert visit_real.page.evaluate("location.hash") == "#select=model%2Fllama-7b"  # the selection opens its family again
    visit_real.page.keyboard.press("Escape")
    visit_real.page.uncheck("#fold")
    assert visit_real.page.evaluate("location.hash") == "#families=open"
    shown, _ = _drawn(visit_real)
    assert shown == {n for n, kind in graph.nodes(data="kind") if kind in ("model", "dataset")}
    visit_real.page.check("#fold")
    shown, _ = _drawn(visit_real)
    assert "model/llama-7b" not in shown and visit_real.page.evaluate("location.hash") == ""
    assert (visit_real.requests, visit_real.errors) == ([], [])


def _unhidden(visit: Visit) -> list[str]:
    return sorted(visit.page.evaluate("window.lineage.nodes.get({filter: (n) => !n.hidden}).map((n) => n.id)"))


def _all_in_view(layout: dict) -> bool:
    view = layout["view"]
    return all(view["left"] - 1 <= n["shape"]["left"] and n["shape"]["right"] <= view["right"] + 1 and view["top"] - 1 <= n["shape"]["top"] and n["shape"]["bottom"] <= view["bottom"] + 1 for n in layout["nodes"])


def test_zoom_buttons_zoom_in_out_and_fit(visit_real: Visit) -> None:
    page = visit_real.page
    scale = lambda: page.evaluate("window.lineage.network.getScale()")  # noqa: E731
    first = scale()
    page.click("#zoom-in")
    assert scale() == pytest.approx(first * 1.25)
    page.click("#zoom-out")
    page.click("#zoom-out")
    assert scale() == pytest.approx(first / 1.25)
    visit_real.search("Alpaca 7B")  # a selection zoomed in on its lineage
    page.click("#zoom-fit")
    layout = visit_real.layout()
    assert {n["id"] for n in layout["nodes"]} == set(_unhidden(visit_real)) and _all_in_view(layout)
    assert visit_real.selected() == "model/stanford-alpaca-7b"  # fit keeps the selection


def test_show_whole_graph_shows_every_entity_shown(visit_real: Visit) -> None:
    visit_real.search("LLaMA-7B")
    assert len(visit_real.layout()["nodes"]) < len(_unhidden(visit_real))  # framed on the lineage at a readable zoom
    visit_real.page.click("#reset")
    layout = visit_real.layout()
    assert visit_real.selected() is None
    assert {n["id"] for n in layout["nodes"]} == set(_unhidden(visit_real)) and _all_in_view(layout)


def test_one_family_opens_alone_and_folds_again(visit_real: Visit, real) -> None:  # noqa: ANN001
    from kg.html import family_members

    members = family_members(real[1])
    llama = sorted(m for m, series in members.items() if series == "model/llama")
    first_shown, first_edges = _drawn(visit_real)
    positions = "window.lineage.network.getPositions(window.lineage.nodes.get({filter: (n) => !n.hidden}).map((n) => n.id))"
    first_positions = visit_real.page.evaluate(positions)
    visit_real.bring_into_view("model/llama")
    visit_real.page.mouse.click(*visit_real.node_point("model/llama"))
    assert visit_real.selected() == "model/llama" and visit_real.page.is_checked("#fold")
    shown, edges = _drawn(visit_real)
    lineage = {n for n, kind in real[1].nodes(data="kind") if kind in ("model", "dataset")}
    assert shown & lineage == first_shown | set(llama)  # LLaMA's four sizes, and no other family's members
    assert ("model/llama-7b", "model/llama", "family") in edges
    # Alpaca 7B now comes from LLaMA-7B itself; Vicuna-13B, still folded, is drawn as Vicuna.
    assert ("model/stanford-alpaca-7b", "model/llama-7b", "finetune") in edges
    assert ("model/vicuna", "model/llama-13b", "finetune") in edges
    assert visit_real.page.evaluate("location.hash") == "#select=model%2Fllama"
    assert visit_real.page.locator("#panel button.family").inner_text() == "Fold LLaMA again"
    visit_real.page.click("#panel button.family")
    assert visit_real.selected() == "model/llama" and visit_real.page.locator("#panel button.family").inner_text() == "Open LLaMA (4 members)"
    visit_real.page.keyboard.press("Escape")
    assert _drawn(visit_real) == (first_shown, first_edges)
    assert visit_real.page.evaluate(positions) == first_positions  # the folded layout's own places
    assert (visit_real.requests, visit_real.errors) == ([], [])


def test_an_opened_family_is_shared_by_the_url(browser, real) -> None:  # noqa: ANN001
    visit = Visit(browser, real[0])
    visit.search("Vicuna-13B")
    visit.page.keyboard.press("Escape")
    visit.search("LLaMA")
    fragment = visit.page.evaluate("location.hash")
    assert fragment == "#select=model%2Fllama&open=model%2Fvicuna"
    drawn = _drawn(visit)
    visit.page.close()
    again = Visit(browser, real[0], fragment=fragment)
    assert _drawn(again) == drawn and again.selected() == "model/llama"
    again.page.close()


def _lineage_counts(text: str) -> tuple[int, int]:
    """Distinct entities in the upstream and downstream parts of `kg lineage` output."""
    import re

    upstream, _, downstream = text.partition("\ndownstream:\n")
    ids = lambda part: {m.group(1) for m in re.finditer(r"[├└]── .*?\b((?:model|dataset)/[a-z0-9.-]+) \(", part)}  # noqa: E731
    return len(ids(upstream.partition("\nupstream:\n")[2])), len(ids(downstream))


@pytest.mark.parametrize("entity", ["LLaMA", "Alpaca 7B", "Vicuna-13B"])
def test_a_focus_page_opens_on_its_focus_with_the_counts_of_kg_lineage(browser, tmp_path: Path, entity: str, capsys: pytest.CaptureFixture) -> None:  # noqa: ANN001
    from kg.cli import main

    out = tmp_path / "focus.html"
    assert main(["html", "--focus", entity, "--out", str(out)]) == 0
    assert main(["lineage", entity]) == 0
    lines = capsys.readouterr().out.splitlines()
    focus = lines[1].split(" ")[0]
    upstream, downstream = _lineage_counts("\n".join(lines[1:]))
    visit = Visit(browser, out)
    assert visit.selected() == focus
    assert f"Lineage\n{upstream} upstream, {downstream} downstream" in visit.page.locator("#panel dl").inner_text()
    assert (visit.requests, visit.errors) == ([], [])
    visit.page.close()


def test_the_organization_filter_shows_what_it_built_and_built_on_refitted(browser, real) -> None:  # noqa: ANN001
    from kg.graph import upstream

    graph = real[1]
    org = "organization/stanford-crfm"
    made = {u for u, _ in graph.in_edges(org)} | {v for _, v in graph.out_edges(org)}
    lineage = lambda n: graph.nodes[n]["kind"] in ("model", "dataset")  # noqa: E731
    built_on = {other for node in made if lineage(node) for other in upstream(graph, node, ("derived_from", "trained_on", "generated_by", "family"))}
    expected = sorted({org} | {n for n in made | built_on if lineage(n)})
    visit = Visit(browser, real[0])
    visit.page.select_option("#organization", org)
    assert _unhidden(visit) == expected and "model/llama-7b" in expected
    layout = visit.layout()
    assert {n["id"] for n in layout["nodes"]} == set(expected) and _all_in_view(layout)
    visit.page.close()


def test_a_reloaded_url_restores_the_view(browser, real) -> None:  # noqa: ANN001
    visit = Visit(browser, real[0])
    page = visit.page
    page.check("#kinds input[value=organization]")
    page.uncheck("#relations input[value=adapter]")
    page.check("#time-axis")
    visit.search("Alpaca 7B")
    page.click("#view-table")
    fragment = page.evaluate("location.hash")
    assert fragment == "#select=model%2Fstanford-alpaca-7b&kinds=base%20model,dataset,model,organization&relations=" + ",".join(
        sorted(r for r in RELATION_LABELS if r != "adapter" and page.locator(f"#relations input[value='{r}']").count() and page.is_checked(f"#relations input[value='{r}']"))
    ) + "&view=table&time=1"
    rows = page.locator("#table tbody tr").count()
    page.close()
    again = Visit(browser, real[0], fragment=fragment)
    assert again.page.evaluate("location.hash") == fragment
    assert again.selected() == "model/stanford-alpaca-7b" and again.page.locator("#table-view").is_visible()
    assert again.page.locator("#table tbody tr").count() == rows
    assert again.page.is_checked("#kinds input[value=organization]") and not again.page.is_checked("#relations input[value=adapter]")
    assert again.page.is_checked("#time-axis")
    again.page.click("#view-table")
    shown = {n["id"] for n in again.layout()["nodes"]}
    assert "organization/stanford-crfm" in _unhidden(again) and "model/stanford-alpaca-7b" in shown
    assert (again.requests, again.errors) == ([], [])
    again.page.close()


def test_commercial_use_and_effective_terms_come_from_the_terms(browser, tmp_path: Path) -> None:  # noqa: ANN001
    catalog = load_catalog(ROOT / "tests" / "fixtures" / "tiny")
    graph = build_graph(catalog)
    # Alpaca 7B's terms forbid commercial use though its own licence is absent; one conflict is hostile text.
    alpaca = EffectiveTerms(
        "model/stanford-alpaca-7b", (), False,
        (Term.along("no-commercial-use", "data", "CC-BY-NC-4.0", ("model/stanford-alpaca-7b", "dataset/alpaca-52k"), ("https://example.org/alpaca-terms", "https://example.org/nc")),),
        (Conflict("share-alike", "the data forbids what the weights allow", (), (Term.along("x", "own", "MIT", ("model/stanford-alpaca-7b", "model/llama-7b"), ("https://example.org/a", "https://example.org/b")),
                                                                                 Term.along("x", "own", "MIT", ("model/stanford-alpaca-7b", "dataset/alpaca-52k"), ("https://example.org/a", "https://example.org/c")))),
         Conflict("incompatible", "<img src=x onerror=alert(1)>", (), (Term.along("x", "own", "MIT", ("model/gone", "javascript:alert(2)"), ("https://example.org/d", "https://example.org/e")),))),
    )  # fmt: skip
    terms = {**compute_all(graph, catalog.licenses), "model/stanford-alpaca-7b": alpaca}
    path = tmp_path / "lineage.html"
    path.write_bytes(render_html(graph, licenses=catalog.licenses, terms=terms))
    visit = Visit(browser, path)
    page = visit.page
    page.select_option("#commercial", "no")
    assert _unhidden(visit) == ["dataset/alpaca-52k", "model/alpaca-lora-7b", "model/stanford-alpaca-7b"]
    page.select_option("#commercial", "yes")
    assert _unhidden(visit) == ["model/dolly-v2-12b", "model/pythia-12b"]
    page.select_option("#commercial", "")
    visit.search("Alpaca 7B")
    section = page.locator("#panel section.effective-terms")
    assert section.locator("h3").text_content() == "Effective terms"
    assert section.locator("ul.terms > li").inner_text().splitlines() == [
        "no-commercial-use (data) — Creative Commons Attribution Non Commercial 4.0 International",
        "via Alpaca 7B → Alpaca 52K",
        "https://example.org/alpaca-terms",
        "https://example.org/nc",
    ]
    conflicts = section.locator("ul.conflicts > li")
    assert conflicts.nth(0).inner_text().splitlines() == ["share-alike: the data forbids what the weights allow", "Alpaca 7B → LLaMA 7B", "Alpaca 7B → Alpaca 52K"]
    # Text stays text, and ids not on the page are not links.
    assert conflicts.nth(1).inner_text().splitlines() == ["incompatible: <img src=x onerror=alert(1)>", "model/gone → javascript:alert(2)"]
    assert conflicts.nth(1).locator("a, img, button").count() == 0
    section.locator("ul.conflicts button", has_text="LLaMA 7B").click()
    assert visit.selected() == "model/llama-7b"
    assert page.locator("#panel section.effective-terms").count() == 0  # nothing recorded binds LLaMA 7B in the tiny catalog: no section
    assert (visit.requests, visit.errors, visit.dialogs) == ([], [], [])
    page.close()


def test_a_choice_in_the_panel_keeps_the_keyboard_focus_in_the_panel(visit_real: Visit) -> None:
    page = visit_real.page
    visit_real.search("Alpaca 7B")
    page.locator("#panel button.entity", has_text="Alpaca 52K").first.focus()
    page.keyboard.press("Enter")
    assert visit_real.selected() == "dataset/alpaca-52k"
    assert page.evaluate("document.activeElement.closest('#panel') !== null && document.activeElement.tagName") == "H2"
    page.keyboard.press("Tab")  # on to the panel's next control
    assert page.evaluate("document.activeElement.closest('#panel') !== null")


def test_clicking_an_edge_with_a_note_shows_the_note_and_its_own_evidence(visit_real: Visit, real) -> None:  # noqa: ANN001
    graph = real[1]
    page = visit_real.page
    view = visit_real.layout()["view"]
    noted = [
        e for e in visit_real.layout()["edges"]
        if "note" in graph.edges.get((e["from"], e["to"], e["relation"]), {})
        and view["left"] + 5 < (e["points"][-2][0] + e["points"][-1][0]) / 2 < view["right"] - 5
        and view["top"] + 5 < (e["points"][-2][1] + e["points"][-1][1]) / 2 < view["bottom"] - 5
    ]  # fmt: skip
    assert noted
    for edge in noted:
        (x1, y1), (x2, y2) = edge["points"][-2:]
        page.mouse.click((x1 + x2) / 2, (y1 + y2) / 2)
        if page.evaluate("document.body.dataset.edge") == str(edge["id"]):
            break
    else:
        pytest.fail("no edge with a note could be clicked on its own")
    data = graph.edges[edge["from"], edge["to"], edge["relation"]]
    panel = page.locator("#panel").inner_text()
    assert data["note"] in panel and f"Evidence: {data['evidence']}" in panel and RELATION_LABELS[edge["relation"]] in panel
    assert page.locator("#panel a", has_text=data["evidence"]).get_attribute("href") == data["evidence"]


def test_clicking_a_node_at_1280x720_frames_it_legibly_beside_the_panel(browser, real) -> None:  # noqa: ANN001
    visit = Visit(browser, real[0], (1280, 720))
    first = visit.layout()
    view = first["view"]
    middle = ((view["left"] + view["right"]) / 2, (view["top"] + view["bottom"]) / 2)
    centre = lambda box: ((box["left"] + box["right"]) / 2, (box["top"] + box["bottom"]) / 2)  # noqa: E731
    # The entity nearest the middle of the first view, clicked with the mouse.
    target = min(first["nodes"], key=lambda n: (centre(n["shape"])[0] - middle[0]) ** 2 + (centre(n["shape"])[1] - middle[1]) ** 2)
    visit.page.mouse.click(*centre(target["shape"]))
    layout = visit.layout()
    assert visit.selected() == target["id"] and visit.page.locator("#panel").is_visible()
    assert layout["fontPx"] >= 9
    panel = visit.page.locator("#panel").bounding_box()
    (node,) = [n for n in layout["nodes"] if n["id"] == target["id"]]
    assert node["label"]["right"] <= panel["x"] and _on_screen(node["shape"], layout["view"])
    visit.page.close()


def test_filters_changed_under_the_table_frame_the_graph_when_it_comes_back(visit_real: Visit) -> None:
    page = visit_real.page
    page.click("#view-table")
    page.select_option("#organization", "organization/stanford-crfm")
    page.click("#view-table")
    layout = visit_real.layout()
    assert page.locator("#graph").is_visible() and layout["scale"] > 0
    assert {n["id"] for n in layout["nodes"]} == set(_unhidden(visit_real)) and _all_in_view(layout)
    assert (visit_real.requests, visit_real.errors) == ([], [])


def _made_from_in_view(layout: dict, entity: str, bottom: float | None = None) -> int:
    """How many of the entities made directly from `entity` are in the view (above `bottom` if given)."""
    view = dict(layout["view"], bottom=bottom if bottom is not None else layout["view"]["bottom"])
    made = {e["from"] for e in layout["edges"] if e["to"] == entity}
    return sum(1 for n in layout["nodes"] if n["id"] in made and _on_screen(n["shape"], view))


@pytest.mark.parametrize("entity", ["LLaMA-7B", "Vicuna-13B", "ShareGPT conversations"])
def test_relation_labels_of_a_selection_never_stack_on_each_other_or_on_names(visit_real: Visit, entity: str) -> None:
    visit_real.search(entity)
    layout = visit_real.layout()
    labels = layout["edgeLabels"]
    names = [n["label"] for n in layout["nodes"] if n["label"]] + [n["shape"] for n in layout["nodes"]]
    assert labels, "a selection labels its relations"
    for k, label in enumerate(labels):
        assert not any(_overlap(label, other) for other in labels[k + 1:]), label["text"]
        assert not any(_overlap(label, name) for name in names), label["text"]


def test_a_selection_at_1280x720_shows_what_was_made_from_it_beside_the_panel(browser, real) -> None:  # noqa: ANN001
    visit = Visit(browser, real[0], (1280, 720))
    visit.search("Alpaca 7B")
    layout = visit.layout()
    panel = visit.page.locator("#panel").bounding_box()
    assert layout["view"]["right"] <= panel["x"] + 1  # the graph ends where the panel starts
    (node,) = [n for n in layout["nodes"] if n["id"] == "model/stanford-alpaca-7b"]
    assert _on_screen(node["shape"], layout["view"]) and layout["fontPx"] >= 11
    # Before, Alpaca 7B stood at the graph's right edge, and the three models made from it off it, toward the panel.
    assert node["shape"]["left"] < layout["view"]["left"] + 0.6 * (layout["view"]["right"] - layout["view"]["left"])
    assert _made_from_in_view(layout, "model/stanford-alpaca-7b") >= 2
    visit.page.close()


def test_a_selection_on_a_phone_shows_it_and_what_was_made_from_it_above_the_sheet(browser, real) -> None:  # noqa: ANN001
    visit = Visit(browser, real[0], (390, 844))
    visit.search("Alpaca 7B")
    layout = visit.layout()
    sheet = visit.page.locator("#panel").bounding_box()
    (node,) = [n for n in layout["nodes"] if n["id"] == "model/stanford-alpaca-7b"]
    above = dict(layout["view"], bottom=sheet["y"])
    assert _on_screen(node["shape"], above) and _on_screen(node["label"], above)
    assert node["shape"]["left"] <= 390 * 0.6  # not pushed to the right edge, with what was made from it off screen
    assert _made_from_in_view(layout, "model/stanford-alpaca-7b", sheet["y"]) >= 1
    visit.page.close()


@pytest.mark.parametrize("size", [(1280, 720), (390, 844)])
def test_a_filter_lays_the_matches_out_again_readable_and_says_it_filters(browser, real, size) -> None:  # noqa: ANN001
    visit = Visit(browser, real[0], size)
    page = visit.page
    assert "effective terms" in page.locator("#commercial").locator("xpath=..").get_attribute("title")
    if size[0] < 700:
        page.click("#legend-toggle")
    page.select_option("#commercial", "yes")
    if size[0] < 700:
        page.click("#legend-toggle")  # the filters fold away again: the note still says the graph is filtered
    layout = visit.layout()
    shown = _unhidden(visit)
    in_view = [n for n in layout["nodes"] if n["id"] in shown and _on_screen(n["shape"], layout["view"])]
    assert layout["fontPx"] >= 11
    # Before, 13 of the 52 matches of the 2023 catalog were in view at 1280x720 (or all of them at 6 px);
    # packed, a screenful: all of those 52, and about a hundred of today's 256.
    assert len(in_view) >= min(len(shown), 100 if size[0] > 700 else 15), (len(in_view), len(shown))
    note = page.locator("#filter-note")
    assert note.is_visible() and note.inner_text() == f"Filtered: {len(shown)} of {len(real[1])} entities match · clear filters"
    page.select_option("#language", "zh") if size[0] > 700 else None
    if size[0] > 700:
        page.select_option("#open-weights", "no")
        assert page.locator("#filter-note").inner_text() == "No entity matches these filters · clear filters"
    page.click("#filter-note button")
    assert note.is_hidden() and page.locator("#commercial").input_value() == ""
    assert (visit.requests, visit.errors) == ([], [])
    page.close()
