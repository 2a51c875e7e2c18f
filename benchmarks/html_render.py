"""How fast the lineage page is drawn in headless Chromium, beside a plain pyvis page.

For the bundled catalog and for synthetic graphs of 1,000, 5,000 and 20,000
nodes, renders our page (`kg.html.render_html`), opens it from file:// in
Debian's Chromium with every other request blocked, and measures the time
from navigation start to the first drawing of the network (`lineageReadyAt`,
set on vis-network's first `afterDrawing`, when the page also answers
clicks). Median of RUNS fresh page loads, after one load not counted. The synthetic graphs are built
directly as networkx graphs with the attributes `build_graph` gives (the YAML
stage is measured by validate_scale.py).

The baseline is a plain pyvis page of the same graph (pyvis `Network`,
physics on, `cdn_resources="in_line"`, `generate_html()`), timed from
navigation start to vis-network's `stabilizationIterationsDone`, capped at
CAP seconds; it runs once per graph because it is slow.

    .venv/bin/python benchmarks/html_render.py                 # real, 1,000, 5,000, 20,000
    .venv/bin/python benchmarks/html_render.py 2000            # other sizes
    .venv/bin/python benchmarks/html_render.py real 5000       # the bundled catalog and 5,000
    .venv/bin/python benchmarks/html_render.py --no-baseline
"""

from __future__ import annotations

import json
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import networkx as nx
from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kg.catalog import load_catalog  # noqa: E402
from kg.graph import build_graph  # noqa: E402
from kg.html import render_html  # noqa: E402

RUNS = 5
CAP = 120  # seconds the pyvis baseline may take to stabilize
BASELINE_SIZES = ("real", 1000)
ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


def synthetic_graph(size: int) -> nx.MultiDiGraph:
    """`size` entities: 75% models (a forest of fine-tunes), 18% datasets, organizations, methods, people."""
    rng = random.Random(size)
    counts = {"model": size * 75 // 100, "dataset": size * 18 // 100, "organization": size * 4 // 100, "method": size * 2 // 100}
    counts["person"] = size - sum(counts.values())
    graph = nx.MultiDiGraph()
    ids = {kind: [f"{kind}/{kind[:3]}-{i:05d}" for i in range(n)] for kind, n in counts.items()}
    for kind, names in ids.items():
        for i, node in enumerate(names):
            attributes = {"kind": kind, "id": node, "name": f"{kind.title()} {i}", "description": f"Synthetic {kind} number {i}.",
                          "sources": [{"url": f"https://example.org/{node}", "supports": "everything"}]}  # fmt: skip
            if kind in ("model", "dataset"):
                attributes["released"] = f"{2019 + i * 5 // max(1, len(names))}-{1 + i % 12:02d}"
            graph.add_node(node, **attributes)
    edge = lambda u, v, key, field: graph.add_edge(u, v, key=key, field=field, relation=key, evidence=f"https://example.org/{u}")  # noqa: E731
    models, datasets = ids["model"], ids["dataset"]
    for i, model in enumerate(models):
        if i < max(1, len(models) // 20):
            graph.nodes[model]["foundation"] = True
        else:
            edge(model, models[rng.randrange(max(1, i // 2), i)], rng.choice(["finetune", "finetune", "adapter"]), "derived_from")
            edge(model, rng.choice(datasets), "trained_on", "trained_on")
        edge(model, rng.choice(ids["organization"]), "developers", "developers")
        edge(model, rng.choice(ids["method"]), "methods", "methods")
    for dataset in datasets:
        if rng.random() < 0.5:
            edge(dataset, rng.choice(models[: len(models) // 20]), "generated_by", "generated_by")
        edge(dataset, rng.choice(ids["organization"]), "developers", "developers")
    for person in ids["person"]:
        edge(person, rng.choice(ids["organization"]), "affiliations", "affiliations")
    return graph


def count_crossings(edges: list[tuple[str, str, list[tuple[float, float]]]]) -> int:
    """Points where two drawn edges cross, for edges (from, to, polyline) that share no end."""
    segments = []
    for k, (a, b, points) in enumerate(edges):
        for p, q in zip(points, points[1:]):
            box = (min(p[0], q[0]), max(p[0], q[0]), min(p[1], q[1]), max(p[1], q[1]))
            segments.append((k, {a, b}, p, q, box))
    segments.sort(key=lambda s: s[4][0])
    count = 0
    for i, (k, ends, p, q, box) in enumerate(segments):
        for k2, ends2, p2, q2, box2 in segments[i + 1 :]:
            if box2[0] > box[1]:
                break
            if k2 != k and not ends & ends2 and box2[2] <= box[3] and box[2] <= box2[3] and _cross(p, q, p2, q2):
                count += 1
    return count


def _cross(p, q, r, s) -> bool:  # noqa: ANN001
    """Whether segments pq and rs cross at a point inside both."""
    side = lambda a, b, c: (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])  # noqa: E731
    d1, d2, d3, d4 = side(p, q, r), side(p, q, s), side(r, s, p), side(r, s, q)
    return d1 * d2 < 0 and d3 * d4 < 0


def dot_edges(nodes: dict[str, str], edges: list[tuple[str, str]]) -> list[tuple[str, str, list[tuple[float, float]]]] | None:
    """Graphviz dot's drawing (left to right, labelled boxes) of `edges` (source, derived) between `nodes` {id: name}:
    each edge's spline as a polyline; None without Graphviz."""
    if not shutil.which("dot"):
        return None
    number = {node: f"n{i}" for i, node in enumerate(sorted(nodes))}
    lines = ["digraph g { rankdir=LR; node [shape=box, fontsize=14];"]
    lines += [f"{number[n]} [label={json.dumps(nodes[n])}];" for n in sorted(nodes)]
    lines += [f"{number[a]} -> {number[b]};" for a, b in edges]
    drawn = json.loads(subprocess.run(["dot", "-Tjson"], input="\n".join(lines) + "}", capture_output=True, text=True, check=True).stdout)
    name = {obj["_gvid"]: obj["name"] for obj in drawn.get("objects", [])}
    back = {v: k for k, v in number.items()}
    found = []
    for edge in drawn.get("edges", []):
        controls = next(op["points"] for op in edge["_draw_"] if op["op"] in "bB")
        found.append((back[name[edge["tail"]]], back[name[edge["head"]]], _sample_bezier(controls)))
    return found


def _sample_bezier(controls: list[list[float]], steps: int = 8) -> list[tuple[float, float]]:
    points = [tuple(controls[0])]
    for i in range(0, len(controls) - 3, 3):
        p0, p1, p2, p3 = controls[i : i + 4]
        for step in range(1, steps + 1):
            t = step / steps
            u = 1 - t
            points.append(tuple(u**3 * a + 3 * u * u * t * b + 3 * u * t * t * c + t**3 * d for a, b, c, d in zip(p0, p1, p2, p3)))
    return points


def pyvis_page(graph: nx.MultiDiGraph) -> bytes:
    """A plain pyvis page: its defaults, physics on, vis-network inlined."""
    from pyvis.network import Network

    net = Network(height="900px", width="100%", directed=True, cdn_resources="in_line")
    for node, data in graph.nodes(data=True):
        net.add_node(node, label=data["name"], title=data["name"])
    for u, v, key in graph.edges(keys=True):
        net.add_edge(u, v, title=key)
    return net.generate_html().encode("utf-8")


def time_page(browser, path: Path, script: str, timeout: float) -> float | None:  # noqa: ANN001
    """Seconds from navigation start until `script` (a JS expression giving a time or null) has a value."""
    page = browser.new_page(viewport={"width": 1600, "height": 1000})
    # Block everything but the page's own file; the file itself is not intercepted,
    # which would add a round trip through Playwright to every load.
    page.route(lambda url: not url.startswith("file:"), lambda route: route.abort())
    try:
        page.goto(path.as_uri(), timeout=timeout * 1000)
        page.wait_for_function(script, timeout=timeout * 1000, polling=50)
        return page.evaluate(script) / 1000
    except Exception:  # noqa: BLE001  (a timeout: reported as "> cap")
        return None
    finally:
        page.close()


OURS = "window.lineageReadyAt || null"
# pyvis keeps its network in a global `network`; wait for physics to settle.
PYVIS = """(() => {
  if (window.__stable) return window.__stable;
  if (window.network && !window.__hooked) {
    window.__hooked = true;
    window.network.once("stabilizationIterationsDone", () => { window.__stable = performance.now(); });
  }
  return null;
})()"""


def measure_first_view(browser, path: Path, graph: nx.MultiDiGraph) -> dict:  # noqa: ANN001
    """Legibility of the first view at 1600 x 1000: text size, label clashes, lineage crossings, ours and dot's."""
    page = browser.new_page(viewport={"width": 1600, "height": 1000})
    page.goto(path.as_uri())
    page.wait_for_function("window.lineageReady === true", timeout=60000)
    layout = page.evaluate("window.lineage.layout()")
    page.close()
    drawn = [(e["from"], e["to"], [tuple(p) for p in e["points"]]) for e in layout["edges"]]
    lineage = {n: graph.nodes[n]["name"] for n, kind in graph.nodes(data="kind") if kind in ("model", "dataset")}
    dot = dot_edges(lineage, [(b, a) for a, b, _ in drawn])
    nodes = layout["nodes"]
    view = layout["view"]
    inside = lambda box: box["left"] >= view["left"] and box["right"] <= view["right"] and box["top"] >= view["top"] and box["bottom"] <= view["bottom"]  # noqa: E731
    overlap = lambda a, b: min(a["right"], b["right"]) - max(a["left"], b["left"]) > 0.5 and min(a["bottom"], b["bottom"]) - max(a["top"], b["top"]) > 0.5  # noqa: E731
    return {
        "font px": round(layout["fontPx"], 1),
        "labels on another node or label": sum(1 for a in nodes for b in nodes if a is not b and (overlap(a["label"], b["shape"]) or overlap(a["label"], b["label"]))),
        "entities labelled in view": sum(1 for n in nodes if n["label"] and inside(n["label"]) and inside(n["shape"])),
        "lineage edges": len(drawn),
        "crossings (ours)": count_crossings(drawn),
        "crossings (dot)": None if dot is None else count_crossings(dot),
    }


def main(argv: list[str]) -> None:
    baseline = "--no-baseline" not in argv
    sizes: list = [a if a == "real" else int(a) for a in argv if a.isdigit() or a == "real"] or ["real", 1000, 5000, 20000]
    rows = []
    with sync_playwright() as playwright, tempfile.TemporaryDirectory() as tmp:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        for size in sizes:
            catalog = load_catalog() if size == "real" else None
            graph = build_graph(catalog) if catalog else synthetic_graph(size)
            start = time.perf_counter()
            page = render_html(graph, licenses=catalog.licenses if catalog else None)
            render = time.perf_counter() - start
            path = Path(tmp) / f"ours-{size}.html"
            path.write_bytes(page)
            time_page(browser, path, OURS, 120)  # warm-up, not counted: the file and fonts come from cache after it
            times = [time_page(browser, path, OURS, 120) for _ in range(RUNS)]
            ready = statistics.median(t for t in times if t is not None)
            row = [size, graph.number_of_nodes(), graph.number_of_edges(), render, ready, len(page), None, None]
            if size == "real":
                print(measure_first_view(browser, path, graph), flush=True)
            if baseline and size in BASELINE_SIZES:
                plain = pyvis_page(graph)
                (Path(tmp) / f"pyvis-{size}.html").write_bytes(plain)
                row[6:] = [time_page(browser, Path(tmp) / f"pyvis-{size}.html", PYVIS, CAP), len(plain)]
            rows.append(row)
            print(_format(row), flush=True)
        browser.close()


def _format(row: list) -> str:
    size, nodes, edges, render, ready, bytes_, plain, plain_bytes = row
    label = "bundled catalog" if size == "real" else f"{size:,}"
    base = "-" if plain_bytes is None else (f"> {CAP}" if plain is None else f"{plain:.2f}")
    base_size = "-" if plain_bytes is None else f"{plain_bytes / 1e6:.2f}"
    return f"| {label} | {nodes:,} | {edges:,} | {render:.2f} | {ready:.2f} | {bytes_ / 1e6:.2f} | {base} | {base_size} |"


if __name__ == "__main__":
    print("| graph | nodes | edges | render s (Python) | drawn s (median) | MB | pyvis settled s | pyvis MB |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    main(sys.argv[1:])
