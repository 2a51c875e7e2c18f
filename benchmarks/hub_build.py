"""`kg build --source huggingface=DUMP` on synthetic Hub dumps, against pyoxigraph and the plain N-Triples floor.

For each size N (models), with the dump of `hub_dump.py` (seed 1, written
once into a cache folder): the median of 3 whole `kg build` processes (wall
time and the process's own peak RSS, from wait4), alternating with 3 of
`kg build --formats nt,ttl` (the two files the issue's target names, and
those the yardsticks write), then, in the same run and on the same triples
(those of the build's kg.nt):

- pyoxigraph: its parser reading our kg.nt and its writer writing Turtle,
  then the same for N-Triples (streamed, in Rust: a list of 40 million
  Python triples would not fit in memory at a million models);
- floor: plain Python copying the same N-Triples lines to a file.

Both are medians of 3 too, and given as ratios to the time of our nt,ttl build. One
more in-process build gives the time of each stage, to say where it goes.

    .venv/bin/python benchmarks/hub_build.py                 # 100,000 and 1,000,000
    .venv/bin/python benchmarks/hub_build.py 10000 100000    # other sizes
    .venv/bin/python benchmarks/hub_build.py 1000000 --runs 1   # fewer runs (say so in RESULTS.md)
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from hub_dump import cached_dump

ROOT = Path(__file__).resolve().parents[1]
KG = Path(sys.executable).parent / "kg"
RUNS = 3
SEED = 1

OTHERS = """
import sys, time, pyoxigraph as ox
path, out = sys.argv[1], sys.argv[2]
marks = [time.perf_counter()]
ox.serialize(ox.parse(path=path, format=ox.RdfFormat.N_TRIPLES), output=out + ".ttl", format=ox.RdfFormat.TURTLE)
ox.serialize(ox.parse(path=path, format=ox.RdfFormat.N_TRIPLES), output=out + ".nt", format=ox.RdfFormat.N_TRIPLES)
marks.append(time.perf_counter())
with open(path, encoding="utf-8") as lines, open(out + ".floor.nt", "w", encoding="utf-8") as handle:
    handle.writelines(lines)
marks.append(time.perf_counter())
print(f"{marks[1] - marks[0]:.3f} {marks[2] - marks[1]:.3f}")
"""

STAGES = """
import gc, itertools, sys, tempfile, time
gc.set_threshold(100_000, 50, 1000)  # as kg.cli.main does
from pathlib import Path
from kg.catalog import load_catalog
from kg.explore import build_knowledge_graph
from kg.graph import derivation_cycles, downstream, format_lineage, overview_nodes
from kg.html import render_html
from kg.merge import add_to_graph, format_report, imported_blocks, merge, read_sources
from kg.publish import graph_to_json
from kg.stream import graph_blocks, write_exports
marks = [time.perf_counter()]
catalog = load_catalog(); lkg = build_knowledge_graph(catalog); marks.append(time.perf_counter())
records = read_sources([("huggingface", sys.argv[1])]); marks.append(time.perf_counter())
merged = merge(catalog, records); marks.append(time.perf_counter())
add_to_graph(lkg.graph, merged); derivation_cycles(lkg.graph); marks.append(time.perf_counter())
format_report(merged, limit=None); marks.append(time.perf_counter())
render_html(lkg.graph.subgraph(overview_nodes(lkg.graph)).copy(), licenses=catalog.licenses); marks.append(time.perf_counter())
graph_to_json(lkg.graph); marks.append(time.perf_counter())
with tempfile.TemporaryDirectory() as folder:
    write_exports(Path(folder), itertools.chain(graph_blocks(lkg.rdf), imported_blocks(merged, catalog.licenses)), ("kg.nt", "kg.ttl"))
marks.append(time.perf_counter())
graph = lkg.graph
biggest = max((n for n in graph if graph.nodes[n].get("imported")), key=graph.in_degree)
start = time.perf_counter(); everything = downstream(graph, biggest); query = time.perf_counter() - start
leaf = min(everything)
start = time.perf_counter(); format_lineage(graph, leaf); lineage = time.perf_counter() - start
print(*(f"{b - a:.2f}" for a, b in zip(marks, marks[1:])), f"{query:.3f}", len(everything), f"{lineage:.3f}")
"""
STAGE_NAMES = ("catalog + checks", "read dump", "merge", "lineage graph + cycle check", "report", "overview page", "graph.json", "RDF export (nt, ttl)")



def build_once(dump: Path, out: Path, *options: str) -> tuple[float, float, str]:
    """One whole `kg build` process: seconds, peak RSS in MiB, its output."""
    start = time.perf_counter()
    process = subprocess.Popen([str(KG), "build", "--out", str(out), "--source", f"huggingface={dump}", *options], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=ROOT)
    output = process.stdout.read().decode()
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        sys.exit(f"kg build failed:\n{output}")
    return seconds, usage.ru_maxrss / 1024, output


def main() -> None:
    arguments = sys.argv[1:]
    runs = RUNS
    if "--runs" in arguments:
        at = arguments.index("--runs")
        runs = int(arguments[at + 1])
        del arguments[at:at + 2]
    sizes = [int(a) for a in arguments] or [100_000, 1_000_000]
    rows, stage_rows = [], []
    for n in sizes:
        dump = cached_dump(n, SEED)
        with tempfile.TemporaryDirectory() as folder:
            out = Path(folder) / "build"
            # Alternating: all three files, then only the two that pyoxigraph writes below.
            measured, two = zip(*[(build_once(dump, out), build_once(dump, Path(folder) / "two", "--formats", "nt,ttl")) for _ in range(runs)])
            seconds, seconds_two = (statistics.median(r[0] for r in m) for m in (measured, two))
            peak, peak_two = (max(r[1] for r in m) for m in (measured, two))
            triples = int(measured[0][2].split("kg.jsonld: ")[1].split()[0])
            sizes_mb = {name: (out / name).stat().st_size / 1e6 for name in ("kg.nt", "kg.ttl", "kg.jsonld")}
            shutil.rmtree(Path(folder) / "two")
            others = [subprocess.run([sys.executable, "-c", OTHERS, str(out / "kg.nt"), str(Path(folder) / "other")], capture_output=True, text=True, check=True).stdout.split() for _ in range(runs)]
            oxigraph = statistics.median(float(o[0]) for o in others)
            floor = statistics.median(float(o[1]) for o in others)
        stages = subprocess.run([sys.executable, "-c", STAGES, str(dump)], capture_output=True, text=True, check=True, cwd=ROOT).stdout.split()
        rows.append(f"| {n:,} | {triples:,} | {sizes_mb['kg.nt']:,.0f} / {sizes_mb['kg.ttl']:,.0f} / {sizes_mb['kg.jsonld']:,.0f} | {seconds:.1f} | {peak:,.0f} "
                    f"| {seconds_two:.1f} | {peak_two:,.0f} | {oxigraph:.1f} ({seconds_two / oxigraph:.1f}x) | {floor:.2f} ({seconds_two / floor:.0f}x) |")
        stage_rows.append(f"| {n:,} | " + " | ".join(stages[:len(STAGE_NAMES)]) + f" | {float(stages[-3]) * 1000:.0f} ms ({int(stages[-2]):,}) | {float(stages[-1]) * 1000:.0f} ms |")
        print(rows[-1], flush=True)
    print(f"\n| models | triples | N-Triples / Turtle / JSON-LD MB | kg build s (median of {runs}) | peak RSS MiB | kg build --formats nt,ttl s | peak RSS MiB "
          "| pyoxigraph Turtle + N-Triples s (ours nt,ttl / theirs) | plain N-Triples floor s (ours nt,ttl / floor) |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    print("\n".join(rows))
    print(f"\n| models | {' | '.join(STAGE_NAMES)} | descendants of the biggest base | format_lineage of one member |")
    print("| ---: |" + " ---: |" * (len(STAGE_NAMES) + 2))
    print("\n".join(stage_rows))


if __name__ == "__main__":
    main()
