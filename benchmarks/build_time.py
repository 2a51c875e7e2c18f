"""`kg build` of the bundled catalog, whole process: wall and CPU seconds, peak RSS.

Each run is a fresh `python -m kg.cli build` into a temporary folder; median
of RUNS. With `--before TREE` (a source tree of an earlier commit, e.g. from
`git archive <commit> | tar -x -C /tmp/before`), runs of that tree alternate
with runs of this one, so both see the same load on a shared machine.

    .venv/bin/python benchmarks/build_time.py
    .venv/bin/python benchmarks/build_time.py --before /tmp/before
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RUNS = 3


def run_build(tree: Path) -> tuple[float, float, float]:
    """Wall seconds, CPU seconds (user + system) and peak RSS in MiB of one `kg build` from `tree`."""
    with tempfile.TemporaryDirectory() as out:
        environment = dict(os.environ, PYTHONPATH=str(tree))
        start = time.perf_counter()
        child = subprocess.Popen([sys.executable, "-m", "kg.cli", "build", "--out", out], cwd=tree, env=environment, stdout=subprocess.DEVNULL)
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - start
        if status:
            sys.exit(f"kg build from {tree} failed (status {status})")
        return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def main(argv: list[str]) -> None:
    trees = {"this tree": ROOT}
    if "--before" in argv:
        trees = {"before": Path(argv[argv.index("--before") + 1]).resolve(), **trees}
    results: dict[str, list[tuple[float, float, float]]] = {name: [] for name in trees}
    for _ in range(RUNS):
        for name, tree in trees.items():
            results[name].append(run_build(tree))
    print(f"| tree | wall s (median of {RUNS}) | CPU s (median) | peak RSS MiB (median) |\n| --- | ---: | ---: | ---: |")
    for name, runs in results.items():
        wall, cpu, rss = (statistics.median(column) for column in zip(*runs))
        print(f"| {name} | {wall:.2f} | {cpu:.2f} | {rss:.0f} |")


if __name__ == "__main__":
    main(sys.argv[1:])
