"""Effective terms on one long lineage chain: time and memory against its depth (issue 26).

A chain of N models, each fine-tuned from the one before; only the first has a
licence (CC-BY-NC-4.0), so every later model inherits no-commercial-use along
the whole chain and has every ancestor as an entity whose terms are unknown:
the case that made the effective-terms export grow as the cube of the depth
(`kg validate` 98 s and 2.4 GB at 200 steps before this change).

For each N, one fresh process loads the catalog (written once to a temporary
folder, not timed), then measures, median of 3:

- export: `kg.rdf.to_rdf`, the RDF of the whole catalog with every entity's
  effective terms (what `kg build` and `kg validate` do);
- kg terms: `compute_terms` and `format_terms` of the last model, whose text
  lists all N-1 unrecorded ancestors with their paths (output grows as N^2
  characters: it is what the user asked to see);

and, in one more run under tracemalloc, the peak Python memory of each.
`--before COMMIT` runs the same measure against the code of an older commit
(its kg/ and ontology/ unpacked to a temporary folder) for the smaller sizes.

    .venv/bin/python benchmarks/terms_chain.py                     # 200 400 800 1600 3200 5000
    .venv/bin/python benchmarks/terms_chain.py 200 400 --before f65ea28
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RUNS = 3

MEASURE = """
import json, statistics, sys, time, tracemalloc
from kg.catalog import load_catalog
from kg.graph import build_graph
from kg.rdf import to_rdf
from kg.terms import compute_terms, format_terms, load_rules

folder, last, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
catalog = load_catalog(folder)
graph, licenses, rules = build_graph(catalog), catalog.licenses, load_rules()

def export():
    return len(to_rdf(graph, licenses))

def terms():
    return len(format_terms(compute_terms(graph, licenses, last, rules), graph, licenses))

def measure(work):
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        size = work()
        times.append(time.perf_counter() - start)
    tracemalloc.start()
    work()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return statistics.median(times), peak, size

export_s, export_peak, triples = measure(export)
terms_s, terms_peak, characters = measure(terms)
print(json.dumps({"export": export_s, "export_peak": export_peak, "triples": triples,
                  "terms": terms_s, "terms_peak": terms_peak, "characters": characters}))
"""


def write_chain(folder: Path, steps: int, licences: Path = ROOT / "data" / "licenses.yaml") -> str:
    """A catalog of `steps` models in one fine-tuning chain, all by one lab; returns the last one's id."""
    models = folder / "models"
    models.mkdir(parents=True)
    (folder / "organizations").mkdir()
    shutil.copy(licences, folder / "licenses.yaml")
    (folder / "organizations" / "chain-lab.yaml").write_text(
        "id: organization/chain-lab\nname: Chain Lab\ndescription: The maker of a synthetic chain.\n"
        "sources:\n  - {url: 'https://example.org/chain', supports: the lab}\n", encoding="utf-8")
    for i in range(steps):
        lines = [f"id: model/chain-{i}", f"name: Chain {i}", f"description: Step {i} of a synthetic fine-tuning chain.",
                 "developers: [organization/chain-lab]",
                 "sources:", f"  - {{url: 'https://example.org/chain/{i}', supports: the step}}"]
        if i == 0:
            lines.append("license: CC-BY-NC-4.0")
        else:
            lines += ["derived_from:", f"  - {{id: model/chain-{i - 1}, relation: finetune}}"]
        (models / f"chain-{i}.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return f"model/chain-{steps - 1}"


def code_of(commit: str, into: Path) -> Path:
    """The kg/ and ontology/ folders and the licences of `commit`, unpacked under `into`."""
    archive = into / "code.tar"
    subprocess.run(["git", "archive", "-o", str(archive), commit, "kg", "ontology", "data/licenses.yaml"], cwd=ROOT, check=True)
    with tarfile.open(archive) as tar:
        tar.extractall(into / "code", filter="data")
    return into / "code"


def measure(steps: int, code: Path | None) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        last = write_chain(Path(tmp) / "data", steps, (code or ROOT) / "data" / "licenses.yaml")
        env = {**os.environ, "PYTHONPATH": str(code)} if code is not None else None
        done = subprocess.run([sys.executable, "-c", MEASURE, str(Path(tmp) / "data"), last, str(RUNS)],
                              capture_output=True, text=True, cwd=code or ROOT, env=env, check=True)
    return json.loads(done.stdout)


def main(sizes: list[int], before: str | None) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        code = code_of(before, Path(tmp)) if before else None
        print(f"code: {before or 'working tree'}")
        print("| steps | export s | export peak MiB | triples | kg terms s | kg terms peak MiB | text chars | export s / step (x1000) |")
        print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        for steps in sizes:
            row = measure(steps, code)
            print(f"| {steps:,} | {row['export']:.2f} | {row['export_peak'] / 2**20:.0f} | {row['triples']:,} | {row['terms']:.2f} "
                  f"| {row['terms_peak'] / 2**20:.0f} | {row['characters']:,} | {1000 * row['export'] / steps:.2f} |", flush=True)


if __name__ == "__main__":
    args = sys.argv[1:]
    before = None
    if "--before" in args:
        at = args.index("--before")
        before = args[at + 1]
        del args[at:at + 2]
    main([int(a) for a in args] or [200, 400, 800, 1600, 3200, 5000], before)
