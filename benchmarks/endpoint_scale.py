"""The SPARQL endpoint at Hub scale: store load time and the descendants query through `kg serve`.

For each size N: a synthetic Hub dump of N models (`hub_dump.py`, seed 1) is
turned into N-Triples here, directly, in the shape the export gives an
imported model (types with their standard super-classes, labels, identifier,
source, licence, and each derivation as `lkg:<relation>`, `lkg:derivedFrom`
and `prov:wasDerivedFrom`, plus `fair4ml:fineTunedFrom` for fine-tunes and
adapters). `kg build --source` is not used for that: on this branch it takes
about a minute at 10,000 models (tests/test_serve_hub.py runs it on a small dump).
Each model's source record is written as the export writes it (`lkg:SourceRecord`,
`lkg:describes`, `lkg:claimSource`), without its named graph.

Then, each in fresh processes, median of 3 (peak RSS the largest of the 3):

- `kg.store.write_store` (bulk load into a new store, swapped in), whole
  process, beside Oxigraph's own `oxigraph load` of the same file;
- inside each `write_store`, the time the closure's own work takes (the scan
  of kg.nt for its `prov:wasDerivedFrom` pairs and the walk; the closure's
  lines are loaded in the export's bulk load, whose time is not split) and
  the number of `lkg:descendsFrom` triples it adds;
- `kg serve` on the store, and through its endpoint (HTTP, SPARQL JSON) all
  descendants of the base model with the most of them, as IRIs only and with
  their labels, asked with the property path `prov:wasDerivedFrom+` and with
  the closure `lkg:descendsFrom`: the first answer after the server starts,
  and the median of the next 3;
- `kg lineage --store` (whole process) for the biggest base and for its
  deepest member (the most derivation steps below it).

    .venv/bin/python benchmarks/endpoint_scale.py                       # 100,000 and 1,000,000
    .venv/bin/python benchmarks/endpoint_scale.py 10000 100000          # other sizes
    .venv/bin/python benchmarks/endpoint_scale.py 1000000 --runs 1      # one run of each instead of 3
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from collections import defaultdict
from pathlib import Path

import networkx as nx
from hub_dump import write_dump

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from kg.sources.huggingface import KEY_FIXES, RELATIONS  # noqa: E402
from kg.vocab import ID  # noqa: E402

RUNS = 3
LKG = "https://w3id.org/llm-lineage/ontology#"
PROV = "http://www.w3.org/ns/prov#"
FAIR4ML = "https://w3id.org/fair4ml#"
RDF_TYPE = "<http://www.w3.org/1999/02/22-rdf-syntax-ns#type>"
RECORD = "https://w3id.org/llm-lineage/id/record/huggingface/"  # kg.vocab.record_iri of a Hub record (a Hub id needs no escape)
PROPERTIES = {"finetune": "fineTunedFrom", "adapter": "adapterOf", "merge": "mergedFrom", "quantized": "quantizedFrom"}
QUERIES = {  # all descendants of the biggest base: their IRIs, and with their labels, by the property path and by the closure
    "path, IRIs": "SELECT ?model WHERE {{ ?model prov:wasDerivedFrom+ {base} }}",
    "path, with labels": "SELECT DISTINCT ?model ?name WHERE {{ ?model prov:wasDerivedFrom+ {base} ; rdfs:label ?name }}",
    "closure, IRIs": "SELECT ?model WHERE {{ ?model lkg:descendsFrom {base} }}",
    "closure, with labels": "SELECT ?model ?name WHERE {{ ?model lkg:descendsFrom {base} ; rdfs:label ?name }}",
}
# write_store in a fresh process, with the closure's own work timed inside it (the scan of kg.nt for its derivations,
# and the walk as the bulk load reads its lines): seconds and closure triples go to the file argv[3].
WRITE_STORE = """import sys, time
from pathlib import Path
import kg.store
spent, lines = [0.0], [0]
scan, walk = kg.store.read_derivations, kg.store.closure_lines
def timed_scan(source):
    started = time.perf_counter()
    found = scan(source)
    spent[0] += time.perf_counter() - started
    return found
def timed_walk(names, parents):
    blocks = walk(names, parents)
    while True:
        started = time.perf_counter()
        block = next(blocks, None)
        spent[0] += time.perf_counter() - started
        if block is None:
            return
        lines[0] += block.count(b"\\n")
        yield block
kg.store.read_derivations, kg.store.closure_lines = timed_scan, timed_walk
kg.store.write_store(Path(sys.argv[1]), Path(sys.argv[2]))
Path(sys.argv[3]).write_text(f"{spent[0]} {lines[0]}")
"""


def entity(repo: str) -> str:
    return f"<{ID}model/huggingface-{urllib.parse.quote(repo.lower().replace('/', '-'), safe='-._')}>"


def literal(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)  # a JSON string is a valid N-Triples string for these names


def bases_of(item: dict) -> list[tuple[str, str]]:
    """(relation, base repo id) pairs, read as kg.sources.huggingface reads them."""
    card = {KEY_FIXES.get(str(k).casefold(), str(k)): v for k, v in (item.get("cardData") or {}).items()}
    bases = card.get("base_model") or []
    bases = [bases] if isinstance(bases, str) else bases
    tags = item.get("tags") or []
    if bases:
        relation = RELATIONS.get(card.get("base_model_relation") or "", "merge" if len(bases) > 1 else None)
        if relation is None:
            tagset = set(tags)
            relation = "adapter" if "peft" in tagset else "quantized" if tagset & {"gguf", "gptq", "awq", "exl2"} else "finetune"
        return [(relation, base) for base in bases]
    return [(RELATIONS.get(t.split(":")[1], "finetune"), t.split(":", 2)[2]) for t in tags if t.startswith("base_model:") and t.count(":") >= 2]


def write_ntriples(dump: Path, out: Path) -> tuple[int, str, int, tuple[str, int]]:
    """The dump's models as N-Triples; returns (triples, the base with the most descendants, their number,
    (its deepest member, the steps from the base to it))."""
    items = [json.loads(line) for line in dump.read_text(encoding="utf-8").splitlines() if line.strip()]
    items = [item for item in items if item.get("repoType") != "dataset"]
    known = {item["id"] for item in items}
    children: dict[str, list[str]] = defaultdict(list)
    count = 0
    with open(out, "w", encoding="utf-8") as nt:
        for item in items:
            repo, me = item["id"], entity(item["id"])
            lines = [
                f"{me} {RDF_TYPE} <{LKG}Model> .", f"{me} {RDF_TYPE} <{FAIR4ML}MLModel> .", f"{me} {RDF_TYPE} <{PROV}Entity> .",
                f"{me} <http://www.w3.org/2000/01/rdf-schema#label> {literal(repo.split('/')[-1])}@en .",
                f"{me} <http://schema.org/name> {literal(repo.split('/')[-1])}@en .",
                f"{me} <http://purl.org/dc/terms/identifier> {literal('model/huggingface-' + repo.lower().replace('/', '-'))} .",
                f"<{RECORD}{repo}> {RDF_TYPE} <{LKG}SourceRecord> .", f"<{RECORD}{repo}> <{LKG}describes> {me} .",
                f"<{RECORD}{repo}> <{LKG}claimSource> \"huggingface\" .",
                f"{me} <http://purl.org/dc/terms/source> <https://huggingface.co/{urllib.parse.quote(repo, safe='/-._')}> .",
            ]
            for tag in item.get("tags") or []:
                if tag.startswith("license:"):
                    lines.append(f"{me} <http://schema.org/license> {literal(tag[8:])} .")
            for relation, base in bases_of(item):
                if base not in known:
                    continue
                children[base].append(repo)
                target = entity(base)
                lines += [f"{me} <{LKG}{PROPERTIES[relation]}> {target} .", f"{me} <{LKG}derivedFrom> {target} .", f"{me} <{PROV}wasDerivedFrom> {target} ."]
                if relation in ("finetune", "adapter"):
                    lines.append(f"{me} <{FAIR4ML}fineTunedFrom> {target} .")
            nt.write("\n".join(lines) + "\n")
            count += len(lines)
    family = nx.DiGraph((base, child) for base, kids in children.items() for child in kids)
    sizes = {base: len(nx.descendants(family, base)) for base in children}
    biggest = max(sizes, key=lambda b: (sizes[b], b))
    steps = nx.single_source_shortest_path_length(family, biggest)
    deepest = max(steps, key=lambda member: (steps[member], member))
    return count, biggest, sizes[biggest], (deepest, steps[deepest])


def timed(command: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB) of one whole process.

    The peak is GNU time's: a child this script starts itself would report at
    least this script's own peak (Linux keeps the high-water mark of the
    memory a child replaces at exec, and this script holds the whole dump).
    """
    with tempfile.NamedTemporaryFile("r") as peak:
        started = time.perf_counter()
        done = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", peak.name, *command], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        seconds = time.perf_counter() - started
        if done.returncode != 0:
            raise SystemExit(f"{command[:3]} failed with status {done.returncode}")
        return seconds, int(peak.read().split()[-1]) / 1024


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def query_endpoint(store: Path, base: str, runs: int) -> tuple[float, dict[str, tuple[float, list[float], int]]]:
    """Start kg serve; (seconds until it is ready, {query: (first answer s, the next answers s, rows)})."""
    port = free_port()
    started = time.perf_counter()
    server = subprocess.Popen([sys.executable, "-m", "kg.cli", "serve", "--store", str(store), "--port", str(port), "--timeout", "120"],
                              cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        for _ in range(3):
            server.stdout.readline()
        ready = time.perf_counter() - started
        prefixes = f"PREFIX prov: <{PROV}> PREFIX lkg: <{LKG}> PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>\n"
        answers = {}
        for name, query in QUERIES.items():
            times, rows = [], 0
            for _ in range(1 + runs):
                body = urllib.parse.urlencode({"query": prefixes + query.format(base=entity(base))}).encode()
                request = urllib.request.Request(f"http://127.0.0.1:{port}/query", data=body, headers={"Accept": "application/sparql-results+json"})
                began = time.perf_counter()
                with urllib.request.urlopen(request, timeout=300) as response:
                    rows = len(json.load(response)["results"]["bindings"])
                times.append(time.perf_counter() - began)
            answers[name] = (times[0], times[1:], rows)
        return ready, answers
    finally:
        server.terminate()
        server.wait()


def lineage_times(store: Path, entities: list[str], runs: int) -> list[tuple[float, float]]:
    """(median seconds, peak RSS MiB) of `kg lineage --store` for each of `entities`, whole process."""
    out = []
    for entity in entities:
        command = [sys.executable, "-m", "kg.cli", "lineage", "--store", str(store), entity.removeprefix(f"<{ID}").removesuffix(">")]
        runs_of = [timed(command) for _ in range(runs)]
        out.append((statistics.median(t for t, _ in runs_of), max(m for _, m in runs_of)))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sizes", nargs="*", type=int, default=[100_000, 1_000_000], help="models in each dump")
    parser.add_argument("--runs", type=int, default=RUNS, help=f"runs of each measure (default {RUNS}); the medians are shown")
    options = parser.parse_args()
    sizes, runs = options.sizes, options.runs
    oxigraph = str(Path(sys.executable).parent / "oxigraph")
    print(f"load average at the start: {' '.join(f'{x:.1f}' for x in os.getloadavg())}; {runs} run(s) each")
    print("| models | triples | N-Triples MB | write_store s | of which scan and walk s | closure triples | peak RSS MiB | oxigraph load s | ratio | serve ready s | descendants "
          + "".join(f"| {name}: first s | {name}: median s " for name in QUERIES) + "| `kg lineage --store` base s | MiB | deepest member s | MiB | steps |")
    print("| ---: " * (16 + 2 * len(QUERIES)) + "|")
    for n in sizes:
        with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")) as folder:
            folder = Path(folder)
            dump = write_dump(n, 1, folder / "hub.jsonl")
            triples, biggest, family, (deepest, steps) = write_ntriples(dump, folder / "kg.nt")
            dump.unlink()
            ours, peaks, theirs, closures = [], [], [], []
            for _ in range(runs):
                shutil.rmtree(folder / "store", ignore_errors=True)
                seconds, peak = timed([sys.executable, "-c", WRITE_STORE, str(folder / "store"), str(folder / "kg.nt"), str(folder / "closure.txt")])
                ours.append(seconds)
                peaks.append(peak)
                closure_s, closure_n = (folder / "closure.txt").read_text().split()
                closures.append((float(closure_s), int(closure_n)))
                shutil.rmtree(folder / "oxigraph", ignore_errors=True)
                theirs.append(timed([oxigraph, "load", "--location", str(folder / "oxigraph"), "--file", str(folder / "kg.nt")])[0])
            shutil.rmtree(folder / "oxigraph", ignore_errors=True)
            ready, answers = query_endpoint(folder / "store", biggest, runs)
            assert all(rows == family for _, _, rows in answers.values()), (answers, family)
            lineage = lineage_times(folder / "store", [entity(biggest), entity(deepest)], runs)
            ours_s, theirs_s = statistics.median(ours), statistics.median(theirs)
            times = " | ".join(f"{first:.3f} | {statistics.median(rest):.3f}" for first, rest, _ in answers.values())
            print(f"| {n:,} | {triples:,} | {(folder / 'kg.nt').stat().st_size / 1e6:.0f} | {ours_s:.2f} | {statistics.median(c for c, _ in closures):.2f} | "
                  f"{closures[0][1]:,} | {max(peaks):.0f} | {theirs_s:.2f} | {ours_s / theirs_s:.2f} | {ready:.2f} | {family:,} | {times} | "
                  f"{lineage[0][0]:.2f} | {lineage[0][1]:.0f} | {lineage[1][0]:.2f} | {lineage[1][1]:.0f} | {steps} |", flush=True)
    print(f"\nload average at the end: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    print(f"(peak RSS of this script: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB)")


if __name__ == "__main__":
    main()
