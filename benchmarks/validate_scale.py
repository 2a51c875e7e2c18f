"""How long `kg validate` takes, and how much memory it needs, as the catalog grows.

Writes synthetic catalogs of N models (a forest of derivation chains, each
model fine-tuned from an earlier one and trained on one of N/10 datasets made
by one of N/100 organizations), then times `load_catalog` + `build_graph` in a
fresh process per run and reports the median of the runs and the peak RSS.

    .venv/bin/python benchmarks/validate_scale.py            # 1,000 / 10,000 / 30,000
    .venv/bin/python benchmarks/validate_scale.py 500 2000   # other sizes
"""

from __future__ import annotations

import random
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUNS = 3
MEASURE = """
import resource, sys, time
start = time.perf_counter()
from kg.catalog import load_catalog
from kg.graph import build_graph
graph = build_graph(load_catalog(sys.argv[1]))
elapsed = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(f"{elapsed:.3f} {peak:.0f} {graph.number_of_nodes()} {graph.number_of_edges()}")
"""


def write_catalog(root: Path, models: int) -> None:
    rng = random.Random(models)
    shutil.copy(ROOT / "data" / "licenses.yaml", root)
    orgs, datasets = max(1, models // 100), max(1, models // 10)
    for kind in ("models", "datasets", "organizations"):
        (root / kind).mkdir()
    source = "sources:\n  - url: https://example.org/\n    supports: synthetic\n"
    for i in range(orgs):
        (root / "organizations" / f"org-{i}.yaml").write_text(
            f"id: organization/org-{i}\nname: Org {i}\ndescription: A synthetic lab.\n{source}", encoding="utf-8"
        )
    for i in range(datasets):
        (root / "datasets" / f"data-{i}.yaml").write_text(
            f"id: dataset/data-{i}\nname: Data {i}\ndescription: Synthetic data.\n"
            f"developers: [organization/org-{i % orgs}]\n{source}",
            encoding="utf-8",
        )
    for i in range(models):
        parent = f"derived_from:\n  - {{id: model/m-{rng.randrange(i)}, relation: finetune}}\n" if i else "foundation: true\n"
        (root / "models" / f"m-{i}.yaml").write_text(
            f"id: model/m-{i}\nname: Model {i}\ndescription: A synthetic model.\n"
            f'released: "2023-01-01"\nparameters: 7000000000\nlicense: Apache-2.0\n'
            f"developers: [organization/org-{rng.randrange(orgs)}]\n{parent}"
            f"trained_on: [dataset/data-{rng.randrange(datasets)}]\n{source}",
            encoding="utf-8",
        )


def measure(root: Path) -> tuple[float, float, int, int]:
    times, peaks = [], []
    for _ in range(RUNS):
        done = subprocess.run([sys.executable, "-c", MEASURE, str(root)], capture_output=True, text=True, check=True, cwd=ROOT)
        seconds, peak, nodes, edges = done.stdout.split()
        times.append(float(seconds))
        peaks.append(float(peak))
    return statistics.median(times), max(peaks), int(nodes), int(edges)


def main() -> None:
    sizes = [int(a) for a in sys.argv[1:]] or [1_000, 10_000, 30_000]
    print(f"| models | entities | edges | median s ({RUNS} runs) | peak RSS MiB |")
    print("| ---: | ---: | ---: | ---: | ---: |")
    real = measure(ROOT / "data")
    print(f"| bundled catalog | {real[2]:,} | {real[3]:,} | {real[0]:.2f} | {real[1]:.0f} |")
    for size in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            write_catalog(Path(tmp), size)
            seconds, peak, nodes, edges = measure(Path(tmp))
        print(f"| {size:,} | {nodes:,} | {edges:,} | {seconds:.2f} | {peak:.0f} |")


if __name__ == "__main__":
    main()
