"""Reading the Hub's dumps: the same N synthetic models as JSON Lines and as hub-stats' Parquet.

The records are `benchmarks/hub_dump.py`'s (seed 1), written once as JSON Lines and once
in hub-stats' models.parquet shape (times as timestamps, `cardData` as JSON text, tags a
list, row groups of 100,000 like the published file's). Each run is a fresh process that
calls `kg.sources.read_source("huggingface", path)` and nothing else (with the collector
thresholds `kg` sets): wall seconds and peak RSS, median and largest of RUNS. With `--before TREE` (an earlier commit's source,
e.g. `git archive <commit> | tar -x -C ../before-checkout`), that tree reads the JSON Lines too,
alternating with this one.

    .venv/bin/python benchmarks/hub_parquet.py 100000
    .venv/bin/python benchmarks/hub_parquet.py 100000 --before ../before-checkout
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from hub_dump import generate  # noqa: E402

RUNS = 3
READ = "import gc, sys; gc.set_threshold(100_000, 50, 1000); from pathlib import Path; from kg.sources import read_source; p = []; r = read_source('huggingface', Path(sys.argv[1]), p); print(len(r), len(p))"


def write_dumps(n: int, folder: Path) -> tuple[Path, Path]:
    models = [r for r in generate(n, seed=1) if r.get("repoType") != "dataset"]
    lines = folder / "hub.jsonl"
    lines.write_text("".join(json.dumps(r) + "\n" for r in models), encoding="utf-8")

    def row(r: dict) -> dict:
        created = r.get("createdAt")
        return {"id": r["id"], "author": r.get("author"), "tags": r.get("tags"), "sha": r.get("sha"),
                "createdAt": dt.datetime.fromisoformat(created.replace("Z", "+00:00")) if created else None,
                "cardData": json.dumps(r["cardData"]) if r.get("cardData") else None}

    schema = pa.schema([("id", pa.string()), ("author", pa.string()), ("tags", pa.list_(pa.string())), ("sha", pa.string()),
                        ("createdAt", pa.timestamp("ms", tz="UTC")), ("cardData", pa.string())])
    parquet = folder / "models.parquet"
    pq.write_table(pa.Table.from_pylist([row(r) for r in models], schema=schema), parquet, row_group_size=100_000)
    return lines, parquet


def run_read(tree: Path, dump: Path) -> tuple[float, float, str]:
    environment = dict(os.environ, PYTHONPATH=str(tree))
    start = time.perf_counter()
    child = subprocess.Popen([sys.executable, "-c", READ, str(dump)], cwd=tree, env=environment, stdout=subprocess.PIPE, text=True)
    out = child.stdout.read()
    _, status, usage = os.wait4(child.pid, 0)
    if status:
        sys.exit(f"reading {dump} from {tree} failed (status {status})")
    return time.perf_counter() - start, usage.ru_maxrss / 1024, out.strip()


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("n", type=int)
    parser.add_argument("--before", type=Path)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        lines, parquet = write_dumps(args.n, Path(folder))
        cases = {"JSON Lines": (ROOT, lines), "hub-stats Parquet": (ROOT, parquet)}
        if args.before:
            cases["JSON Lines, before"] = (args.before, lines)
        results: dict[str, list] = {name: [] for name in cases}
        for _ in range(RUNS):
            for name, (tree, dump) in cases.items():
                results[name].append(run_read(tree, dump))
        print(f"| dump ({args.n:,} models) | size MiB | median s ({RUNS} runs) | peak RSS MiB | records, problems |")
        print("| --- | ---: | ---: | ---: | --- |")
        for name, runs in results.items():
            size = cases[name][1].stat().st_size / 2**20
            print(f"| {name} | {size:,.0f} | {statistics.median(r[0] for r in runs):.2f} | {max(r[1] for r in runs):,.0f} | {runs[0][2]} |")


if __name__ == "__main__":
    main(sys.argv[1:])
