"""What a notebook user waits for: `kg.load()`, the first DataFrame and page, and each notebook run whole.

Each measurement runs in a fresh process (a fresh kernel for the notebooks),
RUNS times, and the median is reported with the spread.

    .venv/bin/python benchmarks/notebook_api.py
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
RUNS = 5
MEASURE = """
import json, time
start = time.perf_counter()
import kg
imported = time.perf_counter()
lkg = kg.load()
loaded = time.perf_counter()
lkg.query("llama-descendants")
queried = time.perf_counter()
lkg.entity_table()
tabled = time.perf_counter()
view = lkg.show()
view._repr_html_()
shown = time.perf_counter()
print(json.dumps({"import kg": imported - start, "kg.load()": loaded - imported, "first query": queried - loaded,
                  "entity_table()": tabled - queried, "show()": shown - tabled}))
"""


def time_api() -> dict[str, list[float]]:
    runs: dict[str, list[float]] = {}
    for _ in range(RUNS):
        done = subprocess.run([sys.executable, "-c", MEASURE], capture_output=True, text=True, check=True, cwd=ROOT)
        for step, seconds in json.loads(done.stdout).items():
            runs.setdefault(step, []).append(seconds)
    return runs


def time_notebook(path: Path) -> float:
    notebook = nbformat.read(path, as_version=4)
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        NotebookClient(notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": folder}}).execute()
        return time.perf_counter() - start


def row(name: str, seconds: list[float]) -> str:
    return f"| {name} | {statistics.median(seconds):.2f} s | {min(seconds):.2f}–{max(seconds):.2f} s |"


def main() -> None:
    print(f"| step | median of {RUNS} | range |\n| --- | ---: | ---: |")
    for step, seconds in time_api().items():
        print(row(f"`{step}`", seconds))
    time_notebook(ROOT / "notebooks" / "01-explore-lineage.ipynb")  # warm-up: font cache, bytecode
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        print(row(f"{path.name}, kernel start to last cell", [time_notebook(path) for _ in range(RUNS)]))


if __name__ == "__main__":
    main()
