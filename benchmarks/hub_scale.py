"""The whole Hub on one machine: `kg build` of a Hub-shaped dump of N models through the columnar path
(kg.tables), against pyoxigraph bulk-loading the same N-Triples and a plain floor, in the same run.

For each size N (models), with the dump of `hub_dump.py` (seed 1, ~35% of the models with a base,
chains several deep, licences spread, some datasets; written once into a cache folder):

- ours: the whole `kg build --source huggingface=DUMP --formats nt,ttl` process (terms for every
  entity, lineage tables), wall time and the process's own peak RSS (wait4); median of `--runs`;
- with `--store`: ours with `--store` (the store bulk-loaded by kg.store from the kg.nt the build wrote);
- pyoxigraph (unless `--no-yardsticks`): a process bulk-loading our kg.nt into a new store (`Store.bulk_load`), nothing else;
- floor: a process reading the dump into Arrow columns (pyarrow.json) and writing the bytes of our
  kg.nt to another file, no checks: the least any build of these triples costs on this disk;
- writers: pyoxigraph's Turtle serializer (parse our kg.nt, write Turtle) beside our Turtle time;
- with `--query`: `kg serve --store` and one SPARQL query counting all descendants of the biggest base.

The bundled catalog's own `kg build` (median of 3) is printed first.

    .venv/bin/python benchmarks/hub_scale.py 1000000                    # ours, pyoxigraph, floor, median of 3
    .venv/bin/python benchmarks/hub_scale.py 1000000 --runs 1 --query --no-yardsticks --no-catalog   # with --store, and the query
    .venv/bin/python benchmarks/hub_scale.py 3000000 --runs 1 --no-yardsticks                        # ours and the floor only
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

from hub_dump import cached_dump

ROOT = Path(__file__).resolve().parents[1]
KG = Path(sys.executable).parent / "kg"
SEED = 1

OXIGRAPH_LOAD = """
import sys, pyoxigraph as ox
ox.Store(sys.argv[2]).bulk_load(path=sys.argv[1], format=ox.RdfFormat.N_TRIPLES)
"""
FLOOR = """
import sys, shutil, pyarrow as pa, pyarrow.json as pj
schema = pa.schema([("id", pa.string()), ("tags", pa.list_(pa.string()))])
table = pj.read_json(sys.argv[1], parse_options=pj.ParseOptions(explicit_schema=schema, unexpected_field_behavior="ignore"))
with open(sys.argv[2], "rb") as source, open(sys.argv[3], "wb") as out:
    shutil.copyfileobj(source, out, 1 << 24)
"""
OXIGRAPH_TURTLE = """
import sys, time, pyoxigraph as ox
start = time.perf_counter()
ox.serialize(ox.parse(path=sys.argv[1], format=ox.RdfFormat.N_TRIPLES), output=sys.argv[2], format=ox.RdfFormat.TURTLE)
print(f"{time.perf_counter() - start:.2f}")
"""



def timed(command: list[str]) -> tuple[float, float, str]:
    """One whole process: seconds, peak RSS in MiB, its output (stdout and stderr)."""
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=ROOT)
    output = process.stdout.read().decode()
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"{' '.join(command)} failed:\n{output}")
    return seconds, usage.ru_maxrss / 1024, output


def median(results: list[tuple[float, float, str]]) -> tuple[float, float]:
    return statistics.median(r[0] for r in results), max(r[1] for r in results)


def stage_lines(output: str) -> str:
    return "; ".join(line.split(": done in ")[0].split(" ", 1)[0] + " " + line.split(": done in ")[1] for line in output.splitlines() if ": done in " in line)


def query_descendants(store: Path, folder: Path) -> tuple[float, int, str]:
    """`kg serve --store` and one SPARQL query: how many entities descend from the base with most descendants."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    edges = pq.read_table(folder / "edges.parquet", columns=["target", "field"])
    counts = pc.value_counts(pc.filter(edges["target"], pc.equal(edges["field"], "derived_from"))).to_pylist()
    biggest = max(counts, key=lambda kv: kv["counts"])["values"]
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen([str(KG), "serve", "--store", str(store), "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        query = ("PREFIX lkg: <https://w3id.org/llm-lineage/ontology#> SELECT (COUNT(DISTINCT ?d) AS ?n) "
                 f"WHERE {{ ?d lkg:descendsFrom <https://w3id.org/llm-lineage/id/{biggest}> }}")
        url = f"http://127.0.0.1:{port}/query?" + urllib.parse.urlencode({"query": query})
        for _ in range(600):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/sparql", timeout=2).read()
                break
            except OSError:
                time.sleep(0.5)
        times = []
        for _ in range(3):
            start = time.perf_counter()
            answer = json.loads(urllib.request.urlopen(urllib.request.Request(url, headers={"Accept": "application/sparql-results+json"}), timeout=600).read())
            times.append(time.perf_counter() - start)
        n = int(answer["results"]["bindings"][0]["n"]["value"])
        return statistics.median(times), n, biggest
    finally:
        server.terminate()
        server.wait()


def main() -> None:
    arguments = sys.argv[1:]
    runs = 3
    if "--runs" in arguments:
        at = arguments.index("--runs")
        runs = int(arguments[at + 1])
        del arguments[at:at + 2]
    flags = {a for a in arguments if a.startswith("--")}
    query, store_too, yardsticks, catalog_too = "--query" in flags, "--store" in flags or "--query" in flags, "--no-yardsticks" not in flags, "--no-catalog" not in flags
    sizes = [int(a) for a in arguments if not a.startswith("--")] or [1_000_000]
    if catalog_too:
        catalog = [timed([str(KG), "build", "--out", tempfile.mkdtemp(prefix="kg-catalog-")]) for _ in range(3)]
        print(f"bundled catalog kg build: {median(catalog)[0]:.2f} s (median of 3), peak {median(catalog)[1]:,.0f} MiB", flush=True)
    for n in sizes:
        dump = cached_dump(n, SEED)
        with tempfile.TemporaryDirectory(dir=os.environ.get("KG_BENCH_DIR")) as folder:
            folder = Path(folder)
            out, stored, store = folder / "build", folder / "stored", folder / "stored" / "store"
            ours = [timed([str(KG), "build", "-v", "--out", str(out), "--source", f"huggingface={dump}", "--formats", "nt,ttl"]) for _ in range(runs)]
            seconds, peak = median(ours)
            triples = int(ours[0][2].split("kg.nt: ")[1].split()[0])
            sizes_mb = {name: (out / name).stat().st_size / 1e6 for name in ("kg.nt", "kg.ttl")}
            print(f"{n:,} models: ours {seconds:.1f} s, {peak:,.0f} MiB, {triples:,} triples ({triples / n:.1f} a model), "
                  f"kg.nt {sizes_mb['kg.nt']:,.0f} MB, kg.ttl {sizes_mb['kg.ttl']:,.0f} MB; stages: {stage_lines(ours[-1][2])}", flush=True)
            if not yardsticks:
                floors = [timed([sys.executable, "-c", FLOOR, str(dump), str(out / "kg.nt"), str(folder / "floor.nt")]) for _ in range(runs)]
                (folder / "floor.nt").unlink()
                floor, floor_peak = median(floors)
                print(f"{n:,} models: floor {floor:.1f} s, {floor_peak:,.0f} MiB (ours / floor {seconds / floor:.1f}); pyoxigraph not run", flush=True)
            loads = [] if not yardsticks else [timed([sys.executable, "-c", OXIGRAPH_LOAD, str(out / "kg.nt"), str(folder / f"oxigraph-{k}")]) for k in range(runs)]
            for k in range(runs):
                shutil.rmtree(folder / f"oxigraph-{k}", ignore_errors=True)
            if yardsticks:
                floors = [timed([sys.executable, "-c", FLOOR, str(dump), str(out / "kg.nt"), str(folder / "floor.nt")]) for _ in range(runs)]
                (folder / "floor.nt").unlink()
            if yardsticks:
                load, load_peak = median(loads)
                floor, floor_peak = median(floors)
                print(f"{n:,} models: pyoxigraph bulk_load of our kg.nt {load:.1f} s, {load_peak:,.0f} MiB (ours / theirs {seconds / load:.2f}); "
                      f"floor {floor:.1f} s, {floor_peak:,.0f} MiB (ours / floor {seconds / floor:.1f})", flush=True)
                turtle = subprocess.run([sys.executable, "-c", OXIGRAPH_TURTLE, str(out / "kg.nt"), str(folder / "oxigraph.ttl")], capture_output=True, text=True, check=True).stdout.strip()
                (folder / "oxigraph.ttl").unlink()
                print(f"{n:,} models: pyoxigraph parse + Turtle serializer on our kg.nt {turtle} s (ours writes kg.nt and kg.ttl together in the 'writing' stage above)", flush=True)
            shutil.rmtree(out)
            if not store_too:
                continue
            with_store = [timed([str(KG), "build", "-v", "--out", str(stored), "--store", str(store), "--source", f"huggingface={dump}", "--formats", "nt,ttl"])
                          for _ in range(1 if n > 1_000_000 else runs)]
            store_seconds, store_peak = median(with_store)
            print(f"{n:,} models: ours with --store {store_seconds:.1f} s, {store_peak:,.0f} MiB; stages: {stage_lines(with_store[-1][2])}", flush=True)
            if query:
                took, found, base = query_descendants(store, stored)
                print(f"{n:,} models: kg serve --store, descendants of {base} ({found:,}): {took * 1000:.0f} ms (median of 3 queries)", flush=True)


if __name__ == "__main__":
    main()
