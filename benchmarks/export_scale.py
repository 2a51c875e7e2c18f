"""How long each stage of the RDF export takes as the catalog grows.

Uses the synthetic catalogs of `validate_scale.py` and times, in a fresh
process per run: loading and graph building, `to_rdf`, the SPARQL checks
(`run_checks`, in Oxigraph), and `serialize` (Turtle, N-Triples, JSON-LD).
Reports the median of the runs for each stage and the peak RSS.

    .venv/bin/python benchmarks/export_scale.py            # 1,000 / 10,000
    .venv/bin/python benchmarks/export_scale.py 500 2000   # other sizes
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from validate_scale import ROOT, write_catalog

RUNS = 3
STAGES = ("load + graph", "to_rdf", "checks", "serialize")
MEASURE = """
import resource, sys, time
from kg.catalog import load_catalog
from kg.graph import build_graph
from kg.query import run_checks
from kg.rdf import serialize, to_rdf
marks = [time.perf_counter()]
catalog = load_catalog(sys.argv[1]); graph = build_graph(catalog); marks.append(time.perf_counter())
rdf = to_rdf(graph, catalog.licenses); marks.append(time.perf_counter())
assert not run_checks(rdf); marks.append(time.perf_counter())
files = serialize(rdf); marks.append(time.perf_counter())
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(*(f"{b - a:.3f}" for a, b in zip(marks, marks[1:])), f"{peak:.0f}", len(rdf), len(files["kg.ttl"]))
"""


def measure(root: Path) -> tuple[list[float], float, int, int]:
    runs, peaks = [], []
    for _ in range(RUNS):
        done = subprocess.run([sys.executable, "-c", MEASURE, str(root)], capture_output=True, text=True, check=True, cwd=ROOT)
        *seconds, peak, triples, size = done.stdout.split()
        runs.append([float(s) for s in seconds])
        peaks.append(float(peak))
    medians = [statistics.median(run[i] for run in runs) for i in range(len(STAGES))]
    return medians, max(peaks), int(triples), int(size)


def main() -> None:
    sizes = [int(a) for a in sys.argv[1:]] or [1_000, 10_000]
    print(f"| models | triples | Turtle MB | {' | '.join(f'{s} s' for s in STAGES)} | peak RSS MiB |")
    print("| ---: | ---: | ---: |" + " ---: |" * len(STAGES) + " ---: |")

    def row(label: str, root: Path) -> None:
        medians, peak, triples, size = measure(root)
        print(f"| {label} | {triples:,} | {size / 1e6:.1f} | {' | '.join(f'{m:.2f}' for m in medians)} | {peak:.0f} |")

    row("bundled catalog", ROOT / "data")
    for size in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            write_catalog(Path(tmp), size)
            row(f"{size:,}", Path(tmp))


if __name__ == "__main__":
    main()
