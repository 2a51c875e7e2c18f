"""`kg build` with and without the two large shared sources (DPC and Ecosystem Graphs).

Median of 3 runs, each a fresh `kg build` process into a temporary folder.
Needs ../shared/data; prints a markdown table for benchmarks/RESULTS.md.

    .venv/bin/python benchmarks/sources_build.py
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
KG = Path(sys.executable).parent / "kg"
CASES = {
    "catalog only": [],
    "+ dpc + ecosystem-graphs": [
        "--source", f"dpc={SHARED / 'data-provenance-collection' / 'data_summaries'}",
        "--source", f"ecosystem-graphs={SHARED / 'ecosystem-graphs' / 'assets'}",
    ],
}


def run(extra: list[str]) -> float:
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        subprocess.run([str(KG), "build", "--out", out, *extra], check=True, capture_output=True)
        return time.perf_counter() - start


def main() -> None:
    if not SHARED.is_dir():
        sys.exit(f"{SHARED} is absent")
    print("| build | median s (3 runs) |\n| --- | ---: |")
    medians = {}
    for name, extra in CASES.items():
        medians[name] = statistics.median(run(extra) for _ in range(3))
        print(f"| {name} | {medians[name]:.2f} |")
    first, second = medians.values()
    print(f"\nratio: {second / first:.1f}x")


if __name__ == "__main__":
    main()
