"""Effective terms (kg.terms) on the bundled catalog and on synthetic Hub dumps.

For each size N (models; `hub_dump.py`, seed 1, cached as hub_build.py does),
one fresh process loads the catalog with the dump merged in (`kg.load(sources=...)`,
not timed), then times, median of 3 each:

- one entity: `compute_terms` of the model with the longest lineage, from a
  cold cache (what `kg terms` does once the graph is in memory);
- the page: the terms of the overview page's nodes (`compute_all(nodes=...)`);
- everything: `compute_all` on every model and dataset.

The plain alternative a user would reach for is the declared licence alone,
which needs no walk: there is no other tool to compare with, so the ratio
reported is the walk against reading each entity's own licence.

    .venv/bin/python benchmarks/terms_scale.py              # bundled, 10,000 and 100,000
    .venv/bin/python benchmarks/terms_scale.py 0 1000000    # other sizes (0: the bundled catalog alone)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from hub_dump import write_dump

ROOT = Path(__file__).resolve().parents[1]
CACHE = Path(os.environ.get("KG_DUMP_CACHE", Path(tempfile.gettempdir()) / "kg-hub-dumps"))
RUNS = 3

MEASURE = """
import json, statistics, sys, time, warnings
import networkx as nx
import kg
from kg.graph import overview_nodes
from kg.terms import compute_all, compute_terms, load_rules

warnings.simplefilter("ignore")
dump, runs = sys.argv[1], int(sys.argv[2])
lkg = kg.load(sources=[("huggingface", dump)] if dump else None)
graph, licenses, rules = lkg.graph, lkg.catalog.licenses, load_rules()
lineage = nx.subgraph_view(graph, filter_edge=lambda u, v, k: graph.edges[u, v, k]["field"] in ("derived_from", "trained_on", "generated_by"))
# Imported records may form derivation cycles (reported by kg build): depth is taken on their condensation.
condensed = nx.condensation(nx.DiGraph(lineage))
levels = {}
for part in reversed(list(nx.topological_sort(condensed))):  # parents after children: depth is 1 + the deepest parent's
    levels[part] = 1 + max((levels[p] for p in condensed.successors(part)), default=0)
depth = {node: levels[part] for node, part in condensed.graph["mapping"].items()}
deepest = max((n for n in graph if graph.nodes[n]["kind"] in ("model", "dataset")), key=lambda n: (depth[n], n))
page = overview_nodes(graph) if dump else list(graph)

def timed(work):
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        result = work()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result

one, result = timed(lambda: compute_terms(graph, licenses, deepest, rules))
shown, _ = timed(lambda: compute_all(graph, licenses, rules, nodes=page))
every, results = timed(lambda: compute_all(graph, licenses, rules))
declared, _ = timed(lambda: [licenses.get(d.get("license", "")) for _, d in graph.nodes(data=True)])
print(json.dumps({"nodes": graph.number_of_nodes(), "deepest": deepest, "depth": depth[deepest], "paths": len(result.terms),
                  "one": one, "page": shown, "page_nodes": len(page), "all": every, "subjects": len(results),
                  "declared": declared, "omitted": max(r.paths_omitted for r in results.values())}))
"""


def measure(models: int) -> dict:
    dump = ""
    if models:
        CACHE.mkdir(parents=True, exist_ok=True)
        path = CACHE / f"hub-{models}-seed1.jsonl"
        if not path.exists():
            write_dump(models, 1, path)
        dump = str(path)
    done = subprocess.run([sys.executable, "-c", MEASURE, dump, str(RUNS)], capture_output=True, text=True, cwd=ROOT, check=True)
    return json.loads(done.stdout)


def main(sizes: list[int]) -> None:
    print("| models | nodes | one entity (lineage depth, paths) s | page (nodes) s | all models and datasets s | walk / declared licence only | paths past the bound |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for models in sizes:
        row = measure(models)
        label = f"{models:,}" if models else "bundled catalog"
        print(f"| {label} | {row['nodes']:,} | {row['one']:.4f} ({row['depth']}, {row['paths']}) | {row['page']:.3f} ({row['page_nodes']:,}) "
              f"| {row['all']:.2f} ({row['subjects']:,}) | {row['all'] / max(row['declared'], 1e-9):,.0f}x | {row['omitted']} |", flush=True)


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [0, 10_000, 100_000])
