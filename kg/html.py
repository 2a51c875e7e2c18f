"""The lineage page: one offline HTML file that draws the graph and lets people explore it.

`render_html` returns the page as UTF-8 bytes; the caller writes them with
`kg.publish.write_atomically` (pyvis's own `write_html` truncates the target
first and encodes with the locale). The page is our template (`kg/page/`)
with vis-network, the drawing library bundled in the pyvis package, inlined,
and the graph as one JSON blob that the page's script turns into DOM text.

Positions are computed here, not by physics in the browser, so even a graph
of 20,000 nodes is drawn at once. Lineage reads left to right: what something
was made from sits to its left. Organizations, people, software and methods
sit in bands below, so they do not clutter the family tree.
"""

from __future__ import annotations

import html
import importlib.util
import json
import math
import random
import re
from collections import defaultdict
from importlib import resources
from pathlib import Path
from typing import Callable, Iterable, Mapping

import networkx as nx
import numpy as np

from kg.entities import DATASET_RELATIONS, FOLDERS, MODEL_RELATIONS, License
from kg.errors import RequestError, suggest
from kg.graph import FAMILY_TREE_FIELDS, RELATION_LABELS, find_node
from kg.terms import EffectiveTerms, compute_all

PAGE_LINEAGE_RELATIONS = {*MODEL_RELATIONS, *DATASET_RELATIONS, "based-on", "derived", "trained_on", "generated_by", "family"}
LINEAGE_KINDS = ("model", "dataset")
BAND_KINDS = ("organization", "person", "software", "method")

FONT_SIZE = 14  # label text, in pixels at zoom 1; the page draws labels at this size
LABEL_HEIGHT = 18  # a label's line box at FONT_SIZE
LABEL_GAP = 4  # between a node's shape and its label, which sits to its right
COLUMN_GAP = 70  # pixels between the end of a generation's widest label and the next generation
ROW_MARGIN = 9  # pixels between the boxes of neighbouring rows of one generation
ROW_GAP = 2 * LABEL_HEIGHT  # pixels between rows of a band
BEND_HALF = 3  # half the height a long edge takes where it passes a generation
BEND_INSET = 10  # a long edge enters a generation's column this far left of its nodes
LOOP_OFFSET = 24  # an edge inside one generation loops this far left of it
SHORTEN_PASSES = 8  # passes that move nodes to shorten long edges
SWEEPS = 12  # ordering sweeps, alternating right and left
# Sweeps from the rows of a coarser layout: one to the right and one back. On the bundled catalog 1, 2, 4 and 12
# give the same page byte for byte (the final sifting reaches the same order); 12 took 1.4 s of a 4 s build, 4 took 0.12 s more than 2.
STARTED_SWEEPS = 2
RESTARTS = 3  # orders the sweeps start from on a small graph
COMPACTNESS = 0.7  # how much each row is pulled toward a tight column rather than toward its neighbours
ROW_SWEEPS = 12  # sweeps that pull each row toward its neighbours
LABEL_CHARS = 26  # longer names are cut on the graph
TRANSPOSE_LIMIT = 1500  # above this many nodes and bends, sweeps only, no transpositions (too slow in Python)
BAND_GAP = 160  # pixels between the family tree and each band below it
BAND_SPACING = 190  # pixels between entities of a band

# Legend entries: a base model is a model marked `foundation`.
KIND_STYLES = {
    "base model": {"color": "#1f4e9c", "shape": "diamond", "label": "base model", "lineage": True},
    "model": {"color": "#4a90d9", "shape": "dot", "label": "model", "lineage": True},
    "dataset": {"color": "#2e9e5b", "shape": "square", "label": "dataset", "lineage": True},
    "organization": {"color": "#e08a1e", "shape": "triangle", "label": "organization", "lineage": False},
    "person": {"color": "#c9a227", "shape": "triangleDown", "label": "person", "lineage": False},
    "software": {"color": "#8e5cc2", "shape": "hexagon", "label": "software", "lineage": False},
    "method": {"color": "#8a8a8a", "shape": "star", "label": "method", "lineage": False},
}

# Edge style per relation: colour, dash pattern (None: solid). Colours from Okabe and Ito's
# palette for colour-blind readers; no two relations share both colour and dashes, and
# relations with the same dashes have colours that stay apart under deuteranopia.
_BLUE, _PURPLE, _GREEN, _ORANGE, _VERMILLION, _SKY, _GREY, _BLACK = (
    "#0072b2", "#cc79a7", "#009e73", "#e69f00", "#d55e00", "#56b4e9", "#8a8a8a", "#000000",
)  # fmt: skip
_DASHED, _DOTTED, _DASH_DOT, _LONG = [8, 5], [2, 4], [10, 4, 2, 4], [16, 5]
RELATION_STYLES = {
    "finetune": (_BLUE, None),
    "adapter": (_BLUE, _DASHED),
    "continued-pretraining": (_BLUE, _DASH_DOT),
    "merge": (_BLUE, _LONG),
    "quantized": (_BLUE, _DOTTED),
    "reproduction": (_PURPLE, None),
    "component": (_PURPLE, _DASHED),
    "architecture": (_PURPLE, _DOTTED),
    "distillation": (_VERMILLION, None),
    "trained_on": (_GREEN, None),
    "generated_by": (_VERMILLION, _DASHED),
    "translation": (_ORANGE, None),
    "subset": (_ORANGE, _DOTTED),
    "regeneration": (_VERMILLION, _DASH_DOT),
    "conversion": (_ORANGE, _LONG),
    "filtering": (_GREEN, _DASH_DOT),
    "family": (_GREY, _DOTTED),
    "developers": (_SKY, None),
    "affiliations": (_SKY, _DASHED),
    "part_of": (_SKY, _DOTTED),
    "methods": (_GREY, _LONG),
    "broader": (_GREY, _DASHED),
    "built_with": (_BLACK, _DASHED),
    "supports": (_BLACK, _DOTTED),
    # Imported edges of a kind the source does not state (kg.merge).
    "based-on": (_PURPLE, _LONG),
    "derived": (_ORANGE, _DASHED),
    "dependencies": (_BLACK, _LONG),
}

_PAGE = resources.files("kg") / "page"
_VIS = ("lib", "vis-9.1.2", "vis-network.min.js")
_MARKER = re.compile(r"/\*kg:(\w+)\*/|<!--kg:(\w+)-->")
# Characters that must not appear raw inside <script>: `<` could close it
# (`</script>`) or open a comment, and U+2028/9 end a line in old JavaScript.
_SCRIPT_ESCAPES = (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("\u2028", "\\u2028"), ("\u2029", "\\u2029"))


def render_html(
    graph: nx.MultiDiGraph, *, title: str = "LLM lineage", licenses: Mapping[str, License] | None = None, focus: str | None = None,
    terms: Mapping[str, EffectiveTerms] | None = None,
) -> bytes:
    """The lineage page of `graph` as UTF-8 bytes: deterministic, offline, one file.

    `focus` (an id, name or alias in `graph`) is selected when the page opens, unless its URL names another view.
    `terms` are the effective terms the panel shows and the commercial-use filter reads: pass those
    computed on the whole graph when `graph` is a view of it (`select_view`, `compute_all(whole, licenses,
    nodes=view)`); by default they are computed on `graph` itself."""
    sizes = _sizes(graph)
    licenses = licenses or {}
    terms = compute_all(graph, licenses) if terms is None else terms
    # The folded view first: the full layout starts from its rows, and needs no restarts then.
    members = family_members(graph)
    folded = fold_families(graph, members) if members else None
    folded_layout = _layered(folded, sizes) if folded is not None else None
    positions, routes = _layered(graph, sizes, _rows_from(folded_layout[0], members) if folded_layout else None)
    data = {
        "title": title,
        "font": FONT_SIZE,
        "labelGap": LABEL_GAP,
        "kinds": [{"key": key, **style} for key, style in KIND_STYLES.items()],
        "relations": [_relation_entry(relation) for relation in _relations_in(graph)],
        "nodes": _page_nodes(graph, positions, sizes, licenses, terms),
        "edges": _page_edges(graph),
        "routes": _page_routes(graph, routes),
        "licenses": _licenses_used(graph, licenses, {t.licence for node in graph if node in terms for t in terms[node].terms}),
    }
    if focus is not None:
        data["focus"] = find_node(graph, focus)
    if folded is not None:
        data["fold"] = _page_fold(graph, members, folded, folded_layout)
    parts = {
        "title": html.escape(title),
        "css": (_PAGE / "lineage.css").read_text(encoding="utf-8"),
        "data": json_for_script(data),
        "vis": _vis_network_source(),
        "js": (_PAGE / "lineage.js").read_text(encoding="utf-8"),
    }
    template = (_PAGE / "lineage.html").read_text(encoding="utf-8")
    # One pass, so that nothing inserted is ever scanned for markers again.
    page = _MARKER.sub(lambda m: parts[m.group(1) or m.group(2)], template)
    return page.encode("utf-8")


def json_for_script(value: object) -> str:
    """`value` as JSON that is safe inside a <script> element: no `<`, `>`, `&` or U+2028/9."""
    text = json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    for character, escape in _SCRIPT_ESCAPES:  # str.replace each: a tenth of str.translate's time on the page's megabyte
        text = text.replace(character, escape)
    return text


def _vis_network_source() -> str:
    """vis-network as shipped inside pyvis, with its licence comment (Apache-2.0 or MIT)."""
    # Found without importing pyvis, which imports Jinja and IPython (0.2 s of every build).
    folder = Path(importlib.util.find_spec("pyvis").submodule_search_locations[0])
    source = folder.joinpath(*_VIS).read_text(encoding="utf-8")
    if re.search(r"</script|<!--", source, re.I):
        raise RuntimeError("the bundled vis-network contains text that would end its <script> element")
    return source


def _relations_in(graph: nx.MultiDiGraph) -> list[str]:
    present = {key for _, _, key in graph.edges(keys=True)}
    return [relation for relation in RELATION_STYLES if relation in present]


def _relation_entry(relation: str) -> dict:
    color, dashes = RELATION_STYLES[relation]
    lineage = relation in PAGE_LINEAGE_RELATIONS
    return {"key": relation, "label": RELATION_LABELS[relation], "color": color, "dashes": dashes or False, "lineage": lineage}


def _legend_kind(attributes: Mapping) -> str:
    return "base model" if attributes.get("foundation") else attributes["kind"]


def _page_nodes(graph: nx.MultiDiGraph, positions: Mapping[str, tuple[int, int]], sizes: Mapping[str, int], licenses: Mapping[str, License],
                terms: Mapping[str, EffectiveTerms]) -> list[dict]:
    nodes = []
    for node in sorted(graph):
        attributes = dict(graph.nodes[node])
        x, y = positions[node]
        entry = {**attributes, "id": node, "legend": _legend_kind(attributes), "x": x, "y": y, "size": sizes[node]}
        # What the commercial-use filter reads: true, false, or absent (not known): the
        # effective terms along the lineage for models and datasets, else the declared licence.
        declared = licenses.get(attributes.get("license", ""))
        if node in terms:
            entry.update(_page_terms(terms[node]))
        elif declared is not None and declared.commercial_use is not None:
            entry["commercial_use"] = declared.commercial_use
        if short_label(attributes["name"]) != attributes["name"]:
            entry["label"] = short_label(attributes["name"])
        nodes.append(entry)
    return nodes


def _page_terms(result: EffectiveTerms) -> dict:
    """What the panel's "Effective terms" shows: each term with its path and evidence, the conflicts with their paths."""
    entry: dict = {"terms": [{"term": t.term, "kind": t.kind, "licence": t.licence, "path": list(t.path), "sources": list(t.sources)} for t in result.terms]}
    if result.commercial_use is not None:
        entry["commercial_use"] = result.commercial_use
    if result.conflicts:
        entry["conflicts"] = [{"message": f"{c.kind}: {c.message}", "paths": [list(p.path) for p in c.paths]} for c in result.conflicts]
    return entry


def _page_edges(graph: nx.MultiDiGraph) -> list[list]:
    """Edges as [from index, to index, relation] (+ evidence and note when the edge has its own)."""
    index = {node: i for i, node in enumerate(sorted(graph))}
    return [[index[row[0]], index[row[1]], *row[2:]] for row in _page_edges_named(graph)]


def _page_edges_named(graph: nx.MultiDiGraph) -> list[list]:
    edges = []
    for u, v, key, data in sorted(graph.edges(keys=True, data=True), key=lambda e: (e[0], e[1], e[2])):
        row = [u, v, key]
        own_evidence = data["evidence"] != graph.nodes[u]["sources"][0]["url"]
        if own_evidence or "note" in data:
            row += [data["evidence"], data.get("note", "")]
        edges.append(row)
    return edges


def _page_routes(graph: nx.MultiDiGraph, routes: Mapping[tuple[str, str], list[list[int]]]) -> dict[str, list[list[int]]]:
    """The bends of each lineage edge that has any, by the edge's index in `_page_edges`, from source to derived."""
    found = {}
    for i, (u, v, key) in enumerate(sorted(graph.edges(keys=True))):
        bends = routes.get((v, u))
        if bends and key in PAGE_LINEAGE_RELATIONS:
            found[str(i)] = bends
    return found


def family_members(graph: nx.MultiDiGraph) -> dict[str, str]:
    """The series each family member belongs to (LLaMA-7B -> LLaMA), from the `family` edges."""
    found = {}
    for u, v, key in sorted(graph.edges(keys=True)):
        if key == "family" and u != v and u not in found:
            found[u] = v
    return {member: series for member, series in found.items() if series not in found}


def fold_families(graph: nx.MultiDiGraph, members: Mapping[str, str]) -> nx.MultiDiGraph:
    """`graph` with every family drawn as its series: members' edges go to the series, once each."""
    folded = nx.MultiDiGraph()
    folded.add_nodes_from((node, data) for node, data in graph.nodes(data=True) if node not in members)
    for u, v, key, data in sorted(graph.edges(keys=True, data=True), key=lambda e: e[:3]):
        u, v = members.get(u, u), members.get(v, v)
        if u != v and not folded.has_edge(u, v, key):
            folded.add_edge(u, v, key, **data)
    return folded


def _page_fold(graph: nx.MultiDiGraph, members: Mapping[str, str], folded: nx.MultiDiGraph, layout: tuple[dict, dict]) -> dict:
    """The first view's coarse drawing: positions, edges and routes of the graph with families folded.

    Indices are those of the full graph's nodes, so the page switches views without renumbering."""
    positions, routes = layout
    index = {node: i for i, node in enumerate(sorted(graph))}
    edges = [[index[row[0]], index[row[1]], *row[2:]] for row in _page_edges_named(folded)]
    return {
        "members": {str(index[member]): index[series] for member, series in members.items()},
        "xy": {str(index[node]): list(positions[node]) for node in folded},
        "edges": edges,
        "routes": _page_routes(folded, routes),
    }


def _licenses_used(graph: nx.MultiDiGraph, licenses: Mapping[str, License], by_terms: set[str]) -> dict:
    used = {license for _, license in graph.nodes(data="license") if license in licenses}
    used |= {s["license"] for _, statements in graph.nodes(data="license_statements", default=()) for s in statements if s["license"] in licenses}
    used |= {licence for licence in by_terms if licence in licenses}
    found = {}
    for key in sorted(used):
        found[key] = {"name": licenses[key].name, "url": licenses[key].url}
    return found


def lay_out(graph: nx.MultiDiGraph) -> dict[str, tuple[int, int]]:
    """Positions (x, y) in pixels: the family tree by generation, then one band per other kind."""
    return _layered(graph)[0]


def _layered(
    graph: nx.MultiDiGraph, sizes: Mapping[str, int] | None = None, start: Callable[[str], float] | None = None
) -> tuple[dict[str, tuple[int, int]], dict[tuple[str, str], list[list[int]]]]:
    """Positions of every node, and for each lineage edge (source, derived) the bends of its drawn line.

    `start` gives each node and bend a key to order the layers by before the sweeps (see `_order_layers`)."""
    tree = _lineage_dag(graph)
    columns = _generations(tree)
    sizes = sizes or _sizes(graph, tree)
    layers, chains = _add_bends(tree, columns)
    neighbours = _neighbours(tree, chains)
    _order_layers(layers, neighbours, start)
    xs, zones = _column_xs(graph, layers, sizes)
    heights = _place_rows(layers, neighbours, sizes)
    positions = {node: (xs[i], round(heights[node])) for i, layer in enumerate(layers) for node in layer if not _is_bend(node)}
    routes = {}
    layer_of = {node: i for i, layer in enumerate(layers) for node in layer}
    for (source, derived), bends in chains.items():
        # Out along the source's row to the end of its generation's labels, so no edge crosses a label.
        i = layer_of[source]
        points = [[xs[i] + zones[i], positions[source][1]]]
        for bend in bends:
            i = layer_of[bend]
            points += [[xs[i] - BEND_INSET, round(heights[bend])], [xs[i] + zones[i], round(heights[bend])]]
        routes[(source, derived)] = points
    for source, derived in tree.edges:
        if positions[source][0] == positions[derived][0]:  # one strongly connected group: loop round the left
            x = positions[source][0] - sizes[source] - LOOP_OFFSET
            routes[(source, derived)] = [[x, positions[source][1]], [x, positions[derived][1]]]
    bottom = max((y for _, y in positions.values()), default=0)
    width = max(max(xs, default=0), BAND_SPACING * 8)
    for kind in BAND_KINDS:
        band = [node for node, k in graph.nodes(data="kind") if k == kind]
        if band:
            bottom += BAND_GAP
            bottom = _place_band(graph, band, positions, bottom, width)
    return positions, routes


def _rows_from(positions: Mapping[str, tuple[int, int]], members: Mapping[str, str]) -> Callable[[str], float]:
    """A start key for the full layout from the folded one: each node at its series' row (or its own),
    a bend of a long edge halfway between the rows of the edge's ends."""

    def row(node: str) -> float:
        if _is_bend(node):
            _, source, derived, _ = node.split("\0")
            return (row(source) + row(derived)) / 2
        return positions[members.get(node, node)][1]

    return row


def _lineage_dag(graph: nx.MultiDiGraph) -> nx.DiGraph:
    """Models and datasets, with an edge from each source to what was made from it."""
    tree = nx.DiGraph()
    tree.add_nodes_from(sorted(node for node, kind in graph.nodes(data="kind") if kind in LINEAGE_KINDS))
    for u, v, field in sorted(graph.edges(data="field")):
        if field in FAMILY_TREE_FIELDS and u in tree and v in tree and u != v:
            tree.add_edge(v, u)
    for node in tree:
        tree.nodes[node]["order"] = (graph.nodes[node].get("released", "9999"), node)
        tree.nodes[node]["foundation"] = graph.nodes[node].get("foundation", False)
    return tree


def _generations(tree: nx.DiGraph) -> list[list[str]]:
    """Nodes grouped by generation: the longest chain of sources above each.

    Only `derived_from` is guaranteed acyclic by the catalog checks, so strongly
    connected groups (data trained on by the model that generated it) share a
    generation. A source that is not a base model (a family, a root dataset)
    is pulled right to sit just before the first thing made from it.
    """
    condensed = nx.condensation(tree)
    members = condensed.graph["mapping"]
    level: dict[int, int] = {}
    for group in nx.topological_sort(condensed):
        level[group] = max((level[p] + 1 for p in condensed.predecessors(group)), default=0)
    generation = {node: level[members[node]] for node in tree}
    for node in tree:
        children = list(tree.successors(node))
        if not tree.pred[node] and children and not tree.nodes[node]["foundation"]:
            generation[node] = max(0, min(generation[c] for c in children) - 1)
    _shorten_edges(tree, generation)
    columns: list[list[str]] = [[] for _ in range(max(generation.values(), default=-1) + 1)]
    for node in sorted(tree):
        columns[generation[node]].append(node)
    return columns


def _shorten_edges(tree: nx.DiGraph, generation: dict[str, int]) -> None:
    """Move nodes between their sources and offspring to where their edges span fewest generations.

    A long edge needs a bend in every generation it crosses, and bends are
    what tangles a layered drawing; a node with more offspring than sources
    moves right toward them, one with more sources than offspring left.
    """
    for _ in range(SHORTEN_PASSES):
        moved = False
        for node in sorted(tree):
            parents = [generation[p] for p in tree.predecessors(node) if p != node]
            children = [generation[c] for c in tree.successors(node) if c != node]
            low = max(parents, default=-1) + 1 if parents else 0
            high = min(children, default=10**9) - 1
            if not children or low > high or (not parents and tree.nodes[node]["foundation"]):
                continue
            best = min(range(low, high + 1), key=lambda g: (sum(g - p for p in parents) + sum(c - g for c in children), abs(g - generation[node])))
            if best != generation[node]:
                generation[node] = best
                moved = True
        if not moved:
            return


def short_label(name: str) -> str:
    """The name as drawn beside its node: long names are cut (the full name is in the tip, panel and table)."""
    return name if len(name) <= LABEL_CHARS else name[: LABEL_CHARS - 1].rstrip() + "…"


def label_width(name: str, font_size: float = FONT_SIZE) -> float:
    """A generous estimate of the drawn label's width in pixels: wide (CJK) characters count double."""
    return sum(2 if ord(c) > 0x2E80 else 1 for c in short_label(name)) * font_size * 0.62


def _is_bend(node: str) -> bool:
    return node.startswith("\0")


def _add_bends(tree: nx.DiGraph, columns: list[list[str]]) -> tuple[list[list[str]], dict[tuple[str, str], list[str]]]:
    """Layers with a bend point in each column a long edge crosses, so it runs in its own row there."""
    layer_of = {node: i for i, column in enumerate(columns) for node in column}
    layers = [list(column) for column in columns]
    chains = {}
    for source, derived in sorted(tree.edges):
        if layer_of[derived] <= layer_of[source]:
            continue  # inside one strongly connected group: drawn as a loop, not ordered
        span = range(layer_of[source] + 1, layer_of[derived])
        chains[(source, derived)] = [f"\0{source}\0{derived}\0{i}" for i in span]
        for i, bend in zip(span, chains[(source, derived)]):
            layers[i].append(bend)
    return layers, chains


def _neighbours(tree: nx.DiGraph, chains: Mapping[tuple[str, str], list[str]]) -> tuple[dict, dict]:
    """For each node and bend, its neighbours in the layer before (`left`) and after (`right`)."""
    left, right = defaultdict(list), defaultdict(list)
    for (source, derived), bends in chains.items():
        path = [source, *bends, derived]
        for a, b in zip(path, path[1:]):
            right[a].append(b)
            left[b].append(a)
    return left, right


def _order_layers(layers: list[list[str]], neighbours: tuple[dict, dict], start: Callable[[str], float] | None = None) -> None:
    """Order each layer to cut crossings, in place: Sugiyama's median sweeps with transpositions and sifting.

    The result depends much on where the sweeps start, so a small graph is
    ordered from its sorted order and from a few seeded shuffles (the same
    every run), and the order with the fewest crossings is kept. Given a
    `start` key (the rows of a coarser layout of the same graph), the sweeps
    start once, from the layers sorted by it: on the bundled catalog that
    crosses less than three restarts do, in a third of the time, and with
    fewer sweeps (STARTED_SWEEPS).
    """
    left, right = neighbours
    small = sum(map(len, layers)) <= TRANSPOSE_LIMIT
    best, best_order = math.inf, layers
    for restart in range(RESTARTS if small and start is None else 1):
        trial = [sorted(layer, key=start) if start else list(layer) for layer in layers]
        if restart:
            shuffle = random.Random(restart).shuffle
            for layer in trial:
                shuffle(layer)
        count = _sweep(trial, left, right, small, STARTED_SWEEPS if start else SWEEPS)
        if count < best:
            best, best_order = count, trial
    if small:
        _polish(best_order, left, right, best)
    layers[:] = best_order


def _polish(layers: list[list[str]], left: Mapping, right: Mapping, count: int) -> None:
    """Sift every layer down and up, then transpose, while that removes crossings (sweeps undo part of what sifting finds)."""
    rank = {node: i for layer in layers for i, node in enumerate(layer)}
    while True:
        before = [list(layer) for layer in layers]
        for layer in [*layers, *reversed(layers)]:
            _sift(layer, left, right, rank)
        _transpose(layers, left, right, rank, ties=False)
        now = sum(_crossings(layers[i], layers[i + 1], right, rank) for i in range(len(layers) - 1))
        if now >= count:
            if now > count:
                layers[:] = before
            return
        count = now


def _sweep(layers: list[list[str]], left: Mapping, right: Mapping, small: bool, sweeps: int = SWEEPS) -> int:
    """Median sweeps, alternating right and left, each followed on a small graph by
    transpositions and sifting; leaves the best order seen in `layers` and returns its crossings."""
    rank = {node: i for layer in layers for i, node in enumerate(layer)}
    total = lambda: sum(_crossings(layers[i], layers[i + 1], right, rank) for i in range(len(layers) - 1))  # noqa: E731
    best, best_order = (total() if small else 0), [list(layer) for layer in layers]
    for sweep in range(sweeps if small else 4):
        forward = sweep % 2 == 0
        indices = range(1, len(layers)) if forward else range(len(layers) - 2, -1, -1)
        for i in indices:
            fixed = left if forward else right
            layer = layers[i]
            keys = {node: _median([rank[n] for n in fixed[node]], rank[node]) for node in layer}
            layer.sort(key=lambda n: (keys[n], rank[n]))
            rank.update((node, j) for j, node in enumerate(layer))
        if small:
            _transpose(layers, left, right, rank, ties=sweep % 4 >= 2)
            for layer in layers:
                _sift(layer, left, right, rank)
        if not small:
            continue  # counting crossings costs as much as a sweep: a big graph keeps its last order
        count = total()
        if count < best:
            best, best_order = count, [list(layer) for layer in layers]
    if not small:
        return 0
    layers[:] = best_order
    return best


def _median(values: list[float], default: float) -> float:
    if not values:
        return default
    values = sorted(values)
    middle = len(values) // 2
    return values[middle] if len(values) % 2 else (values[middle - 1] + values[middle]) / 2


def _crossings(upper: list[str], lower: list[str], right: Mapping, rank: Mapping) -> int:
    """Crossings between two neighbouring layers: inversions among the edges sorted by their upper end."""
    ends = [rank[b] for a in upper for b in sorted(right.get(a, ()), key=rank.__getitem__)]
    return _inversions(ends)


def _inversions(values: list[int]) -> int:
    """Pairs out of order, by merge sort."""
    if len(values) < 2:
        return 0
    middle = len(values) // 2
    a, b = values[:middle], values[middle:]
    count = _inversions(a) + _inversions(b)
    a.sort()
    b.sort()
    j = 0
    for x in a:
        while j < len(b) and b[j] < x:
            j += 1
        count += j
    return count


def _crossing_matrix(layer: list[str], left: Mapping, right: Mapping, rank: Mapping) -> np.ndarray:
    """c[i, j]: crossings between the edges of layer[i] and those of layer[j] when layer[i] is above.

    For each side, `below[j, p]` counts the neighbours of layer[j] ranked under
    p; c[i, j] sums it over the neighbours of layer[i]: array sums instead of
    a count per pair, which was the layout's whole cost on a few hundred entities.
    """
    size = len(layer)
    total = np.zeros((size, size), dtype=np.int64)
    for side in (left, right):
        rows = np.array([i for i, node in enumerate(layer) for _ in side.get(node, ())], dtype=np.int64)
        if not len(rows):
            continue
        cols = np.array([rank[other] for node in layer for other in side.get(node, ())], dtype=np.int64)
        incidence = np.zeros((size, int(cols.max()) + 1), dtype=np.int64)
        np.add.at(incidence, (rows, cols), 1)
        below = np.cumsum(incidence, axis=1) - incidence
        starts = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]])  # rows are in layer order: one run per node
        total[rows[starts]] += np.add.reduceat(below[:, cols], starts, axis=1).T
    return total


def _sift(layer: list[str], left: Mapping, right: Mapping, rank: dict) -> None:
    """Move each node of `layer`, busiest first, to the place in it where its edges cross fewest others."""
    crossings = _crossing_matrix(layer, left, right, rank)
    order = np.arange(len(layer))  # the layer as indices into the matrix
    for k in sorted(range(len(layer)), key=lambda i: -(len(left.get(layer[i], ())) + len(right.get(layer[i], ())))):
        others = order[order != k]
        # Cost of putting the node after the first j others, relative to putting it first; the first least wins.
        costs = np.cumsum(crossings[others, k] - crossings[k, others])
        best = int(np.argmin(costs)) + 1 if len(costs) and costs.min() < 0 else 0
        order = np.concatenate((others[:best], [k], others[best:]))
    layer[:] = [layer[i] for i in order]
    rank.update((n, j) for j, n in enumerate(layer))


def _transpose(layers: list[list[str]], left: Mapping, right: Mapping, rank: dict, ties: bool) -> None:
    """Swap neighbours while that removes crossings; with `ties`, swap equal pairs once too, to leave a plateau."""
    improved, first = True, True
    counts: dict[int, tuple] = {}  # per layer: its crossing matrix, valid until a neighbouring layer changes order
    while improved:
        improved = False
        for i, layer in enumerate(layers):
            if len(layer) < 2:
                continue
            if i not in counts:
                counts[i] = (_crossing_matrix(layer, left, right, rank).tolist(), {n: k for k, n in enumerate(layer)})
            crossings, place = counts[i]
            swapped = False
            for j in range(len(layer) - 1):
                u, v = layer[j], layer[j + 1]
                before, after = crossings[place[u]][place[v]], crossings[place[v]][place[u]]
                if after < before or (ties and first and after == before and before):
                    layer[j], layer[j + 1] = v, u
                    rank[u], rank[v] = j + 1, j
                    improved = improved or after < before
                    swapped = True
            if swapped:
                counts.pop(i - 1, None)
                counts.pop(i + 1, None)
        first = False


def _column_xs(graph: nx.MultiDiGraph, layers: list[list[str]], sizes: Mapping[str, int]) -> tuple[list[int], list[int]]:
    """The x of each column, and how far right of it its widest label reaches (the labels' zone)."""
    xs, zones, x = [], [], 0
    for layer in layers:
        zone = max((sizes[n] + LABEL_GAP + label_width(graph.nodes[n]["name"]) for n in layer if not _is_bend(n)), default=0)
        xs.append(x)
        zones.append(round(zone))
        x += round(zone) + COLUMN_GAP
    return xs, zones


def _place_rows(layers: list[list[str]], neighbours: tuple[dict, dict], sizes: Mapping[str, int]) -> dict[str, float]:
    """The y of every node and bend: near the mean of its neighbours, in its layer's order, rows never closer than their half-heights."""
    left, right = neighbours
    half = {n: BEND_HALF if _is_bend(n) else max(sizes[n], LABEL_HEIGHT / 2) for layer in layers for n in layer}
    stacks = [_stack(layer, half) for layer in layers]
    both = {n: [*left[n], *right[n]] for layer in layers for n in layer}
    y: dict[str, float] = {}
    for layer, stacked in zip(layers, stacks):
        wanted = [_mean(y, left[n], None) for n in layer]
        known = [w for w in wanted if w is not None]
        fill = sum(known) / len(known) if known else 0
        _project(layer, [fill if w is None else w for w in wanted], stacked, y)
    middle = _mean(y, y, 0)
    small = len(half) <= TRANSPOSE_LIMIT
    for sweep in range(ROW_SWEEPS if small else 2):
        order = list(zip(layers, stacks))
        for layer, stacked in order if sweep % 2 else order[::-1]:
            # Half toward the neighbours, half toward the layer stacked tight round the middle: straight edges, short columns.
            shift = middle - (stacked[0] + stacked[-1]) / 2 if stacked else 0
            wanted = [(1 - COMPACTNESS) * _mean(y, both[n], y[n]) + COMPACTNESS * (s + shift) for n, s in zip(layer, stacked)]
            _project(layer, wanted, stacked, y)
    top = min(y.values(), default=0)
    return {node: value - top for node, value in y.items()}


def _stack(layer: list[str], half: Mapping[str, float]) -> list[float]:
    """The heights of the layer's rows packed as tight as they may be, from 0."""
    offsets, total = [], 0.0
    for j, node in enumerate(layer):
        if j:
            total += half[layer[j - 1]] + half[node] + ROW_MARGIN
        offsets.append(total)
    return offsets


def _project(layer: list[str], wanted: list[float], offsets: list[float], y: dict) -> None:
    """The heights nearest `wanted` (least squares) that keep the layer's order and its spacing `offsets`: pool adjacent violators."""
    blocks: list[list[float]] = []  # [sum, count]
    for w, offset in zip(wanted, offsets):
        blocks.append([w - offset, 1])
        while len(blocks) > 1 and blocks[-2][0] / blocks[-2][1] > blocks[-1][0] / blocks[-1][1]:
            s, c = blocks.pop()
            blocks[-1][0] += s
            blocks[-1][1] += c
    j = 0
    for s, c in blocks:
        for _ in range(int(c)):
            y[layer[j]] = s / c + offsets[j]
            j += 1


def _mean(values: Mapping[str, float], nodes: Iterable[str], default):  # noqa: ANN001, ANN202
    known = [values[n] for n in nodes if n in values]
    return sum(known) / len(known) if known else default


def _place_band(graph: nx.MultiDiGraph, band: list[str], positions: dict, top: int, width: int) -> int:
    """Lay `band` out in rows under the tree, each near the entities it is linked to; return its bottom."""
    def near(node: str) -> tuple:
        xs = [positions[m][0] for m in nx.all_neighbors(graph, node) if m in positions]
        return (sum(xs) / len(xs) if xs else math.inf, graph.nodes[node]["name"], node)

    spacing = max(BAND_SPACING, max(label_width(graph.nodes[n]["name"]) for n in band) + 60)
    per_row = max(1, int(width // spacing) + 1)
    y = top
    for i, node in enumerate(sorted(band, key=near)):
        y = top + (i // per_row) * ROW_GAP * 2
        positions[node] = (round((i % per_row) * spacing), y)
    return y


def _sizes(graph: nx.MultiDiGraph, tree: nx.DiGraph | None = None) -> dict[str, int]:
    """Node size: grows with the log of the number of descendants (for other kinds, of the entities linked to it)."""
    counts = _descendant_counts(tree if tree is not None else _lineage_dag(graph))
    sizes = {}
    for node in graph:
        count = counts[node] if node in counts else graph.in_degree(node)
        sizes[node] = min(16, 5 + round(2 * math.log2(1 + count)))
    return sizes


def _descendant_counts(tree: nx.DiGraph) -> dict[str, int]:
    """How many nodes descend from each, with one bit per node (linear in practice, exact with shared offspring)."""
    condensed = nx.condensation(tree)
    bit = {node: 1 << i for i, node in enumerate(tree)}
    own = defaultdict(int)
    for node, group in condensed.graph["mapping"].items():
        own[group] |= bit[node]
    below: dict[int, int] = {}
    for group in reversed(list(nx.topological_sort(condensed))):
        mask = 0
        for child in condensed.successors(group):
            mask |= below[child] | own[child]
        below[group] = mask
    mapping = condensed.graph["mapping"]
    return {node: below[mapping[node]].bit_count() + own[mapping[node]].bit_count() - 1 for node in tree}


def select_view(
    graph: nx.MultiDiGraph,
    focus: str | None = None,
    depth: int | None = None,
    kinds: Iterable[str] | None = None,
    relations: Iterable[str] | None = None,
) -> tuple[nx.MultiDiGraph, str]:
    """The part of `graph` a page shows, and the page's title.

    With `focus` (an id, name or alias), the neighbourhood of that entity
    (`focus_graph`); without, the whole graph with only `kinds` and
    `relations` kept. Raises RequestError for an unknown kind or relation
    (with a did-you-mean hint), an unknown entity, or a depth without focus.
    """
    _check_choices("kind", kinds, FOLDERS)
    _check_choices("relation", relations, RELATION_LABELS)
    if focus is not None:
        node = find_node(graph, focus)
        return focus_graph(graph, node, depth, kinds, relations), f"LLM lineage around {graph.nodes[node]['name']}"
    if depth is not None:
        raise RequestError("a depth needs a focus", "name the entity to centre on, e.g. focus='LLaMA'")
    return keep_only(graph, kinds, relations), "LLM lineage"


def _check_choices(option: str, values: Iterable[str] | None, allowed: Iterable[str]) -> None:
    for value in values or ():
        if value not in allowed:
            hint = suggest(value, allowed) or f"choose from {', '.join(sorted(allowed))}"
            raise RequestError(f"unknown {option} '{value}'", hint)


def focus_graph(
    graph: nx.MultiDiGraph,
    node: str,
    depth: int | None = None,
    kinds: Iterable[str] | None = None,
    relations: Iterable[str] | None = None,
) -> nx.MultiDiGraph:
    """The neighbourhood of `node`: what it comes from and what comes from it, `depth` steps each way.

    Lineage edges (and family membership) are followed as `kg lineage` does;
    then the other edges of what was kept (developers, methods, software...)
    add the entities they point at, without going further, so that a method
    used by fifty models does not pull the whole catalog in. `kinds` keeps
    only entities of those kinds (the focus is always kept); `relations` keeps
    only those edges, and only those are followed.
    """
    kinds = set(kinds) if kinds else set(FOLDERS)
    relations = set(relations) if relations else {key for _, _, key in graph.edges(keys=True)}
    wanted = lambda other, key: key in relations and graph.nodes[other]["kind"] in kinds  # noqa: E731
    kept = {node}
    for forward in (True, False):
        frontier = [node]
        for _ in range(len(graph) if depth is None else depth):
            frontier = [other for current in frontier for other in _lineage_steps(graph, current, forward, wanted) if other not in kept]
            kept.update(frontier)
    for current in sorted(kept):
        kept.update(other for other, key, field in _steps(graph, current) if field not in FAMILY_TREE_FIELDS and wanted(other, key))
    return keep_only(graph.subgraph(kept), None, relations)


def _lineage_steps(graph: nx.MultiDiGraph, node: str, forward: bool, wanted) -> list[str]:  # noqa: ANN001
    """The sources of `node` (forward) or what was made from it, along wanted lineage edges."""
    edges = graph.out_edges(node, keys=True, data="field") if forward else graph.in_edges(node, keys=True, data="field")
    return sorted({(v if forward else u) for u, v, key, field in edges if field in FAMILY_TREE_FIELDS and wanted(v if forward else u, key)})


def keep_only(graph: nx.MultiDiGraph, kinds: Iterable[str] | None, relations: Iterable[str] | None) -> nx.MultiDiGraph:
    """A copy of `graph` with only entities of `kinds` and edges of `relations` (None: all)."""
    nodes = [node for node, kind in graph.nodes(data="kind") if kinds is None or kind in kinds]
    sub = graph.subgraph(nodes).copy()
    if relations is not None:
        sub.remove_edges_from([(u, v, key) for u, v, key in list(sub.edges(keys=True)) if key not in relations])
    return sub


def _steps(graph: nx.MultiDiGraph, node: str) -> list[tuple[str, str, str]]:
    """Every neighbour of `node` with the relation and field of the edge between them, either direction."""
    out = [(v, key, data["field"]) for _, v, key, data in graph.out_edges(node, keys=True, data=True)]
    out += [(u, key, data["field"]) for u, _, key, data in graph.in_edges(node, keys=True, data=True)]
    return sorted(out)
