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
from kg.html import render_html, select_view

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

    def __init__(self, browser, path: Path):  # noqa: ANN001
        self.requests: list[str] = []
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        self.page = browser.new_page(viewport={"width": 1600, "height": 1000})
        url = path.as_uri()
        self.page.route("**/*", lambda route: route.continue_() if route.request.url == url else self._block(route))
        self.page.on("console", lambda message: message.type == "error" and self.errors.append(message.text))
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.on("dialog", lambda dialog: (self.dialogs.append(dialog.message), dialog.dismiss()))
        self.page.goto(url)
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

    def colour(self, node: str) -> str:
        """The fill vis-network draws the node with (its own colour, else its kind's group colour)."""
        return self.page.evaluate("id => window.lineage.network.body.nodes[id].options.color.background", node)

    def selected(self) -> str | None:
        return self.page.evaluate("document.body.dataset.selected || null")

    def search(self, text: str) -> None:
        self.page.fill("#search", text)
        self.page.press("#search", "Enter")


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
    visit_real.page.mouse.click(*visit_real.node_point("model/llama"))
    assert visit_real.selected() == "model/llama"
    assert visit_real.colour("model/vicuna-13b") != DIM
    assert visit_real.colour("model/llama-13b") != DIM
    assert visit_real.colour("model/dolly-v2") == DIM
    assert visit_real.colour("model/dolly-v2-12b") == DIM
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
    labelled = "id => window.lineage.nodes.get(id).label || null"
    assert page.evaluate("window.lineage.network.getScale()") == pytest.approx(0.8)
    assert page.evaluate(labelled, "model/m-0") == "Model 0"  # the hub, in view
    assert page.evaluate(labelled, "model/m-2499") is None  # far away: no label made yet
    visit.search("Model 2499")
    assert visit.selected() == "model/m-2499"
    assert page.evaluate(labelled, "model/m-2499") == "Model 2499"
    arrows = "Object.values(window.lineage.network.body.edges)[0].options.arrows.to.enabled"
    assert page.evaluate(arrows) is False  # arrow heads are drawn only from zoom 1
    page.evaluate("window.lineage.network.moveTo({scale: 1.5})")
    page.mouse.move(800, 500)
    page.mouse.wheel(0, -100)  # a real zoom event
    page.wait_for_timeout(100)
    assert page.evaluate(arrows) is True
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
    label = visit.page.evaluate("window.lineage.network.body.nodes['model/llama-7b'].options.label")
    assert label == huge[:47] + "…"
    visit.search("model/llama-7b")
    assert visit.page.locator("#panel h2").inner_text() == huge
    visit.page.close()
