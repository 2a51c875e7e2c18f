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
import json
import math
import re
from collections import defaultdict
from importlib import resources
from typing import Iterable, Mapping

import networkx as nx

from kg.entities import DATASET_RELATIONS, FOLDERS, MODEL_RELATIONS, License
from kg.errors import RequestError, suggest
from kg.graph import FAMILY_TREE_FIELDS, RELATION_LABELS, find_node

PAGE_LINEAGE_RELATIONS = {*MODEL_RELATIONS, *DATASET_RELATIONS, "trained_on", "generated_by", "family"}
LINEAGE_KINDS = ("model", "dataset")
BAND_KINDS = ("organization", "person", "software", "method")

COLUMN_GAP = 320  # pixels between generations
ROW_GAP = 40  # pixels between entities of one generation
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

# Edge style per relation: colour, dash pattern (None: solid).
_WEIGHTS = ("#1f4e9c", None)
RELATION_STYLES = {
    "finetune": _WEIGHTS,
    "adapter": ("#1f4e9c", [8, 5]),
    "continued-pretraining": _WEIGHTS,
    "merge": _WEIGHTS,
    "quantized": ("#1f4e9c", [2, 4]),
    "reproduction": ("#6f8fc4", [8, 5]),
    "component": ("#6f8fc4", [2, 4]),
    "architecture": ("#6f8fc4", [2, 4]),
    "trained_on": ("#2e9e5b", None),
    "generated_by": ("#d9482b", [6, 4]),
    "translation": ("#2e9e5b", [10, 4, 2, 4]),
    "subset": ("#2e9e5b", [2, 4]),
    "regeneration": ("#d9482b", [10, 4, 2, 4]),
    "conversion": ("#2e9e5b", [2, 4]),
    "filtering": ("#2e9e5b", [2, 4]),
    "family": ("#9aa7b8", [2, 3]),
    "developers": ("#e08a1e", None),
    "affiliations": ("#c9a227", None),
    "part_of": ("#e08a1e", [2, 4]),
    "methods": ("#8a8a8a", [4, 4]),
    "broader": ("#8a8a8a", [2, 4]),
    "built_with": ("#8e5cc2", [4, 4]),
    "supports": ("#8e5cc2", [2, 4]),
}

_PAGE = resources.files("kg") / "page"
_VIS = ("lib", "vis-9.1.2", "vis-network.min.js")
_MARKER = re.compile(r"/\*kg:(\w+)\*/|<!--kg:(\w+)-->")
# Characters that must not appear raw inside <script>: `<` could close it
# (`</script>`) or open a comment, and U+2028/9 end a line in old JavaScript.
_SCRIPT_ESCAPES = {ord("<"): "\\u003c", ord(">"): "\\u003e", ord("&"): "\\u0026", 0x2028: "\\u2028", 0x2029: "\\u2029"}


def render_html(graph: nx.MultiDiGraph, *, title: str = "LLM lineage", licenses: Mapping[str, License] | None = None) -> bytes:
    """The lineage page of `graph` as UTF-8 bytes: deterministic, offline, one file."""
    data = {
        "title": title,
        "kinds": [{"key": key, **style} for key, style in KIND_STYLES.items()],
        "relations": [_relation_entry(relation) for relation in _relations_in(graph)],
        "nodes": _page_nodes(graph),
        "edges": _page_edges(graph),
        "licenses": _licenses_used(graph, licenses or {}),
    }
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
    return text.translate(_SCRIPT_ESCAPES)


def _vis_network_source() -> str:
    """vis-network as shipped inside pyvis, with its licence comment (Apache-2.0 or MIT)."""
    source = resources.files("pyvis").joinpath(*_VIS).read_text(encoding="utf-8")
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


def _page_nodes(graph: nx.MultiDiGraph) -> list[dict]:
    positions = lay_out(graph)
    sizes = _sizes(graph)
    nodes = []
    for node in sorted(graph):
        attributes = dict(graph.nodes[node])
        x, y = positions[node]
        nodes.append({**attributes, "id": node, "legend": _legend_kind(attributes), "x": x, "y": y, "size": sizes[node]})
    return nodes


def _page_edges(graph: nx.MultiDiGraph) -> list[list]:
    """Edges as [from index, to index, relation] (+ evidence and note when the edge has its own)."""
    index = {node: i for i, node in enumerate(sorted(graph))}
    edges = []
    for u, v, key, data in sorted(graph.edges(keys=True, data=True), key=lambda e: (e[0], e[1], e[2])):
        row = [index[u], index[v], key]
        own_evidence = data["evidence"] != graph.nodes[u]["sources"][0]["url"]
        if own_evidence or "note" in data:
            row += [data["evidence"], data.get("note", "")]
        edges.append(row)
    return edges


def _licenses_used(graph: nx.MultiDiGraph, licenses: Mapping[str, License]) -> dict:
    used = {license for _, license in graph.nodes(data="license") if license in licenses}
    used |= {s["license"] for _, statements in graph.nodes(data="license_statements", default=()) for s in statements if s["license"] in licenses}
    return {key: {"name": licenses[key].name, "url": licenses[key].url} for key in sorted(used)}


def lay_out(graph: nx.MultiDiGraph) -> dict[str, tuple[int, int]]:
    """Positions (x, y) in pixels: the family tree by generation, then one band per other kind."""
    tree = _lineage_dag(graph)
    columns = _generations(tree)
    positions = _place_columns(tree, columns)
    bottom = max((y for _, y in positions.values()), default=0)
    width = max(COLUMN_GAP * (len(columns) - 1), BAND_SPACING * 8)
    for kind in BAND_KINDS:
        band = [node for node, k in graph.nodes(data="kind") if k == kind]
        if band:
            bottom += BAND_GAP
            bottom = _place_band(graph, band, positions, bottom, width)
    return positions


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
    columns: list[list[str]] = [[] for _ in range(max(generation.values(), default=-1) + 1)]
    for node in sorted(tree):
        columns[generation[node]].append(node)
    return columns


def _place_columns(tree: nx.DiGraph, columns: list[list[str]]) -> dict[str, tuple[int, int]]:
    """Order each column to keep children beside their parents, then space the rows.

    One sweep right (order by the mean row of sources), one sweep left (order
    by the mean row of offspring, which groups the roots by family), and a
    last pass that puts each node level with its sources where there is room.
    """
    rank: dict[str, float] = {}
    order = lambda node: tree.nodes[node]["order"]  # noqa: E731
    for column in columns:
        column.sort(key=lambda n: (_mean(rank, tree.predecessors(n), math.inf), order(n)))
        rank.update((node, i) for i, node in enumerate(column))
    for column in reversed(columns[:-1]):
        column.sort(key=lambda n: (_mean(rank, tree.successors(n), rank[n]), order(n)))
        rank.update((node, i) for i, node in enumerate(column))
    positions: dict[str, tuple[int, int]] = {}
    heights: dict[str, float] = {}
    for x, column in enumerate(columns):
        wanted = {n: _mean(heights, tree.predecessors(n), None) for n in column}
        if x == 0 or all(w is None for w in wanted.values()):
            wanted = {n: i * ROW_GAP for i, n in enumerate(column)}
        else:
            fallback = max((w for w in wanted.values() if w is not None), default=0)
            wanted = {n: fallback if w is None else w for n, w in wanted.items()}
            column.sort(key=lambda n: (wanted[n], rank[n]))
        previous = -math.inf
        for node in column:
            heights[node] = previous = max(wanted[node], previous + ROW_GAP)
            positions[node] = (x * COLUMN_GAP, round(previous))
    return positions


def _mean(values: Mapping[str, float], nodes: Iterable[str], default):  # noqa: ANN001, ANN202
    known = [values[n] for n in nodes if n in values]
    return sum(known) / len(known) if known else default


def _place_band(graph: nx.MultiDiGraph, band: list[str], positions: dict, top: int, width: int) -> int:
    """Lay `band` out in rows under the tree, each near the entities it is linked to; return its bottom."""
    def near(node: str) -> tuple:
        xs = [positions[m][0] for m in nx.all_neighbors(graph, node) if m in positions]
        return (sum(xs) / len(xs) if xs else math.inf, graph.nodes[node]["name"], node)

    per_row = max(1, width // BAND_SPACING + 1)
    y = top
    for i, node in enumerate(sorted(band, key=near)):
        y = top + (i // per_row) * ROW_GAP * 2
        positions[node] = ((i % per_row) * BAND_SPACING, y)
    return y


def _sizes(graph: nx.MultiDiGraph) -> dict[str, int]:
    """Node size: grows with the log of the number of descendants (for other kinds, of the entities linked to it)."""
    counts = _descendant_counts(_lineage_dag(graph))
    sizes = {}
    for node in graph:
        count = counts[node] if node in counts else graph.in_degree(node)
        sizes[node] = min(30, 7 + round(3 * math.log2(1 + count)))
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
